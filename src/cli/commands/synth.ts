// `ivr synth --endpoint URL[,URL2] --model NAME --tasks FILE.jsonl --out DEMOS.jsonl
//  [--localizer verifier|judge] [--samples G] [--rounds J] [--api-key K]`:
// IVR-R1's data side on a model behind an OpenAI-compatible API (src/remote/synth.ts).
import * as path from 'node:path';
import { OpenAIClient, type ModelInfo } from '../../remote/client.js';
import { ApiError } from '../../remote/errors.js';
import { RemoteJudge } from '../../remote/judge.js';
import { describeModel, RemotePolicy, type Continuation } from '../../remote/policy.js';
import { runSynth, sidecar, type DemoFormat, type LocalizerChoice } from '../../remote/synth.js';
import { loadRemoteTasks, type PromptFormat } from '../../remote/task.js';
import { parseArgs, usage, UsageError, type OptionSpec } from '../../util/args.js';

const OPTIONS: Record<string, OptionSpec> = {
  endpoint: { type: 'string', help: 'OpenAI-compatible base URL(s), comma-separated (requests are spread over them)' },
  model: { type: 'string', help: 'model id at the endpoint' },
  tasks: { type: 'string', help: 'tasks JSONL (from `ivr tasks export`, or generic {id, question, answer, image} lines)' },
  out: { type: 'string', help: 'output demonstrations JSONL (appended; resumable)' },
  localizer: { type: 'string', help: 'verifier (scene prior where the task has one, else the judge) or judge (the judge everywhere)', default: 'verifier' },
  samples: { type: 'number', help: 'rollouts per task (G)', default: 4 },
  rounds: { type: 'number', help: 'Re-Reasoning Loop rounds (J)', default: 3 },
  tau: { type: 'number', help: 'screening threshold: rollouts with reward < tau are rectified', default: 1 },
  'max-per-task': { type: 'number', help: 'flagged rollouts rectified per task', default: 1 },
  'keep-correct': { type: 'number', help: 'also write up to this many verified-correct rollouts per task', default: 0 },
  'oracle-fallback': { type: 'boolean', help: 'after a failed round, rewrite the eroded step from the scene prior', default: false },
  continuation: { type: 'string', help: 'reground (image attached again + verified facts restated) or prefix (plain assistant-prefix continuation)', default: 'reground' },
  prompt: { type: 'string', help: 'instruction (self-contained prompt for VLMs), question (the bare question, as the compact model was trained), or auto (ask the endpoint)', default: 'auto' },
  'image-size': { type: 'number', help: 'send the task image of this width (default: what the endpoint asks for, else the large one)' },
  temperature: { type: 'number', help: 'sampling temperature', default: 1 },
  'top-p': { type: 'number', help: 'nucleus mass', default: 1 },
  'max-tokens': { type: 'number', help: 'reply length limit', default: 1024 },
  seed: { type: 'number', help: 'base seed (per task: seed + hash(id))', default: 0 },
  'judge-endpoint': { type: 'string', help: 'judge base URL(s) (default: --endpoint)' },
  'judge-model': { type: 'string', help: 'judge model id (default: --model)' },
  'api-key': { type: 'string', help: 'bearer key (default: $OPENAI_API_KEY)' },
  concurrency: { type: 'number', help: 'tasks in flight (default: 4 per endpoint)' },
  timeout: { type: 'number', help: 'per-request timeout in seconds', default: 300 },
  retries: { type: 'number', help: 'retries per request on connection errors, 429 and 5xx', default: 6 },
  'retry-delay-ms': { type: 'number', help: 'first retry delay (doubles per retry, with jitter)', default: 500 },
  'max-errors': { type: 'number', help: 'stop after this many failed tasks', default: 20 },
  format: { type: 'string', help: 'trl (content lists with {"type":"image"}) or llamafactory ("<image>" in the text)', default: 'trl' },
  'image-paths': { type: 'string', help: 'absolute or relative (to the output file)', default: 'absolute' },
  limit: { type: 'number', help: 'process at most this many tasks of the file' },
  json: { type: 'boolean', help: 'print the summary as JSON', default: false },
  quiet: { type: 'boolean', help: 'no progress bar', default: false },
  help: { type: 'boolean', help: 'show this help', default: false },
};

const SUMMARY = 'IVR-R1 data synthesis on a remote model: rollouts, screening, localization, the Re-Reasoning Loop; writes rectified demonstrations (chat messages JSONL + image paths) and DEMOS.summary.json';

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

export async function run(argv: string[]): Promise<number> {
  const { options: opt, positional } = parseArgs(argv, OPTIONS);
  if (opt.help) { console.log(usage('synth --endpoint URL --model NAME --tasks FILE.jsonl --out DEMOS.jsonl [options]', SUMMARY, OPTIONS)); return 0; }
  if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
  for (const k of ['endpoint', 'model', 'tasks', 'out']) if (!opt[k]) throw new UsageError(`--${k} is required (ivr synth --help)`);
  const int = (k: string, min: number) => {
    const v = opt[k] as number;
    if (!Number.isInteger(v) || v < min) throw new UsageError(`--${k} must be an integer >= ${min}, got ${v}`);
    return v;
  };
  const localizer = oneOf<LocalizerChoice>('localizer', opt.localizer, ['verifier', 'judge']);
  const continuation = oneOf<Continuation>('continuation', opt.continuation, ['reground', 'prefix']);
  const promptChoice = oneOf<PromptFormat | 'auto'>('prompt', opt.prompt, ['instruction', 'question', 'auto']);
  const format = oneOf<DemoFormat>('format', opt.format, ['trl', 'llamafactory']);
  const imagePaths = oneOf<'absolute' | 'relative'>('image-paths', opt['image-paths'], ['absolute', 'relative']);
  const temperature = opt.temperature as number;
  if (temperature < 0 || temperature > 2) throw new UsageError('--temperature must be in [0, 2]');
  const topP = opt['top-p'] as number;
  if (!(topP > 0 && topP <= 1)) throw new UsageError('--top-p must be in (0, 1]');
  const endpoints = (opt.endpoint as string).split(',').map((s) => s.trim()).filter(Boolean);
  const apiKey = (opt['api-key'] as string | undefined) ?? process.env.OPENAI_API_KEY;
  const quiet = Boolean(opt.quiet || opt.json);
  let retries = 0;
  const clientOpts = {
    ...(apiKey ? { apiKey } : {}),
    timeoutMs: (opt.timeout as number) * 1000,
    maxRetries: int('retries', 0),
    retryBaseMs: int('retry-delay-ms', 0),
    onRetry: (i: { endpoint: string; attempt: number; delayMs: number; error: string }) => {
      retries++;
      if (!quiet && process.env.IVR_DEBUG) console.error(`\nsynth: retry ${i.attempt} on ${i.endpoint} in ${Math.round(i.delayMs)} ms: ${i.error}`);
    },
  };
  let client: OpenAIClient;
  let judgeClient: OpenAIClient;
  try {
    client = new OpenAIClient({ endpoints, ...clientOpts });
    const judgeEndpoints = opt['judge-endpoint'] ? (opt['judge-endpoint'] as string).split(',').map((s) => s.trim()).filter(Boolean) : endpoints;
    judgeClient = opt['judge-endpoint'] ? new OpenAIClient({ endpoints: judgeEndpoints, ...clientOpts }) : client;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const model = opt.model as string;

  // What the endpoint says about the model: our own server asks for the bare question and a
  // small image; other servers get the instruction prompt and the large image.
  let listed: ModelInfo[] = [];
  try {
    listed = await client.models();
  } catch (e) {
    // A server without GET /models is still usable; an unreachable one is not.
    if (!(e instanceof ApiError) || e.status === 0 || e.status >= 500 || e.status === 401) throw e;
    console.error(`ivr synth: warning: GET /models failed (${e.message}); assuming an external VLM`);
  }
  const info = describeModel(listed, model);
  if (!info.found && info.available.length) console.error(`ivr synth: warning: the endpoint lists ${info.available.join(', ')}, not "${model}"; continuing (some servers accept any name)`);
  const promptFormat: PromptFormat = promptChoice === 'auto' ? info.promptFormat ?? 'instruction' : promptChoice;
  const imageSize = (opt['image-size'] as number | undefined) ?? info.imageSize;
  const policy = new RemotePolicy(client, {
    model, promptFormat, continuation, temperature, topP, maxTokens: int('max-tokens', 1),
    ...(imageSize !== undefined ? { imageSize } : {}),
  });

  const out = opt.out as string;
  let tasks = loadRemoteTasks(opt.tasks as string, path.join(path.dirname(path.resolve(out)), path.basename(out).replace(/\.jsonl$/, '') + '.images'));
  if (opt.limit !== undefined) tasks = tasks.slice(0, int('limit', 1));
  const needJudge = localizer === 'judge' || tasks.some((t) => !t.inst);
  const judgeModel = (opt['judge-model'] as string | undefined) ?? model;
  const judge = needJudge ? new RemoteJudge(judgeClient, { model: judgeModel }) : undefined;

  let stop = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop) { console.error(`\nivr synth: ${sig} again, exiting now (the output keeps every whole line)`); process.exit(130); }
    stop = true;
    console.error(`\nivr synth: ${sig}: finishing the tasks in flight, then writing the summary (again to quit now)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const summary = await runSynth(tasks, {
    out, policy, localizer, ...(judge ? { judge } : {}),
    samples: int('samples', 1), rounds: int('rounds', 1), tau: opt.tau as number,
    maxPerInstance: int('max-per-task', 0), keepCorrect: int('keep-correct', 0), oracleFallback: Boolean(opt['oracle-fallback']),
    concurrency: opt.concurrency !== undefined ? int('concurrency', 1) : 4 * endpoints.length,
    format, imagePaths, seed: int('seed', 0), maxErrors: int('max-errors', 1), progress: !quiet,
    shouldStop: () => stop,
    meta: () => ({
      model, endpoints: client.endpoints.map((e) => ({ url: e.url, requests: e.requests, failures: e.failures })),
      requests: { ...client.counters, retries_seen: retries },
      ...(judge ? { judge: { model: judgeModel, ...judge.counters } } : {}),
    }),
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (opt.json) console.log(JSON.stringify(summary));
  else {
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log([
      `tasks: ${summary.instances.done}/${summary.instances.total} done (${summary.instances.this_run} this run, ${summary.instances.resumed} resumed, ${summary.instances.errors_this_run} failed)`,
      `rollouts: ${summary.rollouts.total}, accuracy ${pct(summary.rollouts.accuracy)}; flagged ${summary.flagged}`,
      `rectified: ${summary.rectified}/${summary.attempted} (${pct(summary.rectify_rate)}), mean rounds ${summary.rounds_mean.toFixed(2)}`,
      `demos: ${summary.demos.total} written to ${out} (${summary.demos.with_oracle_rewrite} with oracle rewrites)`,
      `summary: ${sidecar(out, 'summary.json')}`,
    ].join('\n'));
    for (const e of summary.errors.slice(0, 5)) console.error(`ivr synth: ${e.id}: ${e.message}`);
    if (summary.aborted) console.error(`ivr synth: ${summary.aborted}`);
  }
  return summary.instances.errors_this_run > 0 || summary.aborted ? 1 : 0;
}
