// `ivr synth --endpoint URL[,URL2] --model NAME --tasks FILE.jsonl --out DEMOS.jsonl
//  [--localizer verifier|judge] [--samples G] [--rounds J] [--api-key K]`:
// IVR-R1's data side on a model behind an OpenAI-compatible API (src/ivr/synth.ts).
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { RemoteJudge } from '../../client/judge.js';
import { writeLuffyParquet } from '../../ivr/luffy.js';
import { runSynth, sidecar, type DemoFormat, type LocalizerChoice } from '../../ivr/synth.js';
import { loadRemoteTasks } from '../../client/task.js';
import { EXIT } from '../errors.js';
import { withExamples } from '../help.js';
import { commaList, integer, real } from '../options.js';
import { addRemoteModelOptions, openClient, remoteReasoner, type RemoteModelOptions } from '../remote-model.js';
import { requireTasks } from '../task-file.js';

interface Options extends RemoteModelOptions {
  endpoint: string[]; model: string; tasks: string; out: string; localizer: LocalizerChoice; samples: number; rounds: number;
  tau: number; maxPerTask: number; keepCorrect: number; oracleFallback?: boolean; continuation: 'reground' | 'prefix';
  temperature: number; topP: number; maxTokens: number; seed: number;
  judgeEndpoint?: string[]; judgeModel?: string; concurrency?: number; timeout: number; retries: number;
  retryDelayMs: number; maxErrors: number; format: DemoFormat | 'luffy'; imagePaths: 'absolute' | 'relative'; limit?: number;
  json?: boolean; quiet?: boolean;
}

export function configure(cmd: Command): void {
  cmd
    .description('IVR-R1 data synthesis on a remote model: rollouts, screening, localization, the Re-Reasoning Loop; writes rectified demonstrations (chat messages JSONL + image paths) and DEMOS.summary.json. Resumable; SIGINT/SIGTERM finish the tasks in flight, write the summary and exit 130.')
    .requiredOption('--endpoint <urls>', 'OpenAI-compatible base URL(s), comma-separated (requests are spread over them)', commaList)
    .requiredOption('--model <id>', 'model id at the endpoint');
  addRemoteModelOptions(cmd)
    .requiredOption('--tasks <file>', 'tasks JSONL (from `ivr tasks export`, or generic {id, question, answer, image} lines)')
    .requiredOption('--out <file>', 'output demonstrations JSONL (appended; resumable)')
    .addOption(new Option('--localizer <how>', 'verifier (scene prior where the task has one, else the judge) or judge (the judge everywhere)').choices(['verifier', 'judge']).default('verifier'))
    .option('--samples <g>', 'rollouts per task (G)', integer(1), 4)
    .option('--rounds <j>', 'Re-Reasoning Loop rounds (J)', integer(1), 3)
    .option('--tau <reward>', 'screening threshold: rollouts with reward < tau are rectified', real(), 1)
    .option('--max-per-task <n>', 'flagged rollouts rectified per task', integer(0), 1)
    .option('--keep-correct <n>', 'also write up to this many verified-correct rollouts per task', integer(0), 0)
    .option('--oracle-fallback', 'after a failed round, rewrite the eroded step from the scene prior')
    .addOption(new Option('--continuation <how>', 'reground (image attached again + verified facts restated) or prefix (plain assistant-prefix continuation)').choices(['reground', 'prefix']).default('reground'))
    .option('--temperature <t>', 'sampling temperature', real({ min: 0, max: 2 }), 1)
    .option('--top-p <p>', 'nucleus mass', real({ gt: 0, max: 1 }), 1)
    .option('--max-tokens <n>', 'reply length limit', integer(1), 1024)
    .option('--seed <n>', 'base seed (per task: seed + hash(id))', integer(0), 0)
    .option('--judge-endpoint <urls>', 'judge base URL(s) (default: --endpoint)', commaList)
    .option('--judge-model <id>', 'judge model id (default: --model)')
    .option('--concurrency <n>', 'tasks in flight (default: 4 per endpoint)', integer(1))
    .option('--timeout <s>', 'per-request timeout in seconds', real({ gt: 0 }), 300)
    .option('--retries <n>', 'retries per request on connection errors, 429 and 5xx', integer(0), 6)
    .option('--retry-delay-ms <ms>', 'first retry delay (doubles per retry, with jitter)', integer(0), 500)
    .option('--max-errors <n>', 'stop after this many failed tasks', integer(1), 20)
    .addOption(new Option('--format <format>', 'trl (content lists with {"type":"image"}), llamafactory ("<image>" in the text), or luffy (the trl JSONL plus DEMOS.parquet: verl columns and LUFFY\'s target column)').choices(['trl', 'llamafactory', 'luffy']).default('trl'))
    .addOption(new Option('--image-paths <kind>', 'absolute or relative (to the output file)').choices(['absolute', 'relative']).default('absolute'))
    .option('--limit <n>', 'process at most this many tasks of the file', integer(1))
    .option('--json', 'print the summary as JSON')
    .option('--quiet', 'no progress bar')
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr synth --endpoint http://127.0.0.1:8000/v1 --model base --tasks out/grid-train.jsonl --out demos.jsonl',
    'ivr synth --endpoint $URL --model qwen2.5-vl-7b --tasks out/chart-train.jsonl --out demos.jsonl --localizer judge --format llamafactory',
  ]);
}

async function run(opt: Options): Promise<number> {
  const { localizer, imagePaths, temperature, topP } = opt;
  // luffy: the resumable JSONL in the trl layout, converted to parquet at the end (ivr/luffy.ts).
  const format: DemoFormat = opt.format === 'luffy' ? 'trl' : opt.format;
  // The loop's rectifier: re-ground (image again + verified facts) or resample (plain prefix continuation).
  const rectifier = opt.continuation === 'reground' ? 're-ground' as const : 'resample' as const;
  // The task file is checked before any request, so a bad or empty file fails at once.
  const out = opt.out;
  let tasks = requireTasks(loadRemoteTasks(opt.tasks, path.join(path.dirname(path.resolve(out)), path.basename(out).replace(/\.jsonl$/, '') + '.images')), opt.tasks);
  if (opt.limit !== undefined) tasks = tasks.slice(0, opt.limit);
  const endpoints = opt.endpoint;
  const quiet = opt.quiet || opt.json;
  let retries = 0;
  const clientOpts = {
    timeoutMs: opt.timeout * 1000,
    maxRetries: opt.retries,
    retryBaseMs: opt.retryDelayMs,
    onRetry: (i: { endpoint: string; attempt: number; delayMs: number; error: string }) => {
      retries++;
      if (!quiet && process.env.IVR_DEBUG) console.error(`\nsynth: retry ${i.attempt} on ${i.endpoint} in ${Math.round(i.delayMs)} ms: ${i.error}`);
    },
  };
  const client = openClient(endpoints, opt, clientOpts);
  const judgeClient = opt.judgeEndpoint ? openClient(opt.judgeEndpoint, opt, clientOpts) : client;
  const model = opt.model;
  const reasoner = await remoteReasoner(client, model, opt, { temperature, topP, maxTokens: opt.maxTokens }, 'ivr synth');

  const needJudge = localizer === 'judge' || tasks.some((t) => !t.inst);
  const judgeModel = opt.judgeModel ?? model;
  const judge = needJudge ? new RemoteJudge(judgeClient, { model: judgeModel }) : undefined;

  let stop = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stop) { console.error(`\nivr synth: ${sig} again, exiting now (the output keeps every whole line)`); process.exit(EXIT.interrupted); }
    stop = true;
    console.error(`\nivr synth: ${sig}: finishing the tasks in flight, then writing the summary (again to quit now)`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const summary = await runSynth(tasks, {
    out, reasoner, localizer, rectifier, ...(judge ? { judge } : {}),
    samples: opt.samples, rounds: opt.rounds, tau: opt.tau,
    maxPerInstance: opt.maxPerTask, keepCorrect: opt.keepCorrect, oracleFallback: opt.oracleFallback === true,
    concurrency: opt.concurrency ?? 4 * endpoints.length,
    format, imagePaths, seed: opt.seed, maxErrors: opt.maxErrors, progress: !quiet,
    shouldStop: () => stop,
    meta: () => ({
      model, endpoints: client.endpoints.map((e) => ({ url: e.url, requests: e.requests, failures: e.failures })),
      requests: { ...client.counters, retries_seen: retries },
      ...(judge ? { judge: { model: judgeModel, ...judge.counters } } : {}),
    }),
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (opt.format === 'luffy') {
    const pq = writeLuffyParquet(out);
    if (!opt.json) console.error(`ivr synth: ${pq.file}: ${pq.rows} rows (verl columns + LUFFY's target)`);
  }
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
  if (stop) return EXIT.interrupted; // the summary is written; a rerun resumes
  return summary.instances.errors_this_run > 0 || summary.aborted ? EXIT.error : EXIT.ok;
}
