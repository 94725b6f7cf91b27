// `ivr serve-env [--policy-endpoint URL --policy-model NAME] [--judge-endpoint URL --judge-model NAME]`:
// IVR-R1 as an HTTP environment for OpenRLHF / verl / TRL (src/serve-env/server.ts; adapters
// in integrations/python/, guide in docs/integrations.md).
import { Option, type Command } from 'commander';
import { RemoteJudge } from '../../client/judge.js';
import type { RectifierName } from '../../ivr/rectifiers.js';
import { RECTIFIER_NAMES } from '../../serve-env/environment.js';
import { createEnvServer } from '../../serve-env/server.js';
import { UsageError } from '../errors.js';
import { withExamples } from '../help.js';
import { commaList, integer, real } from '../options.js';
import { openClient, remoteReasoner } from '../remote-model.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

interface Options {
  host: string; port: number; apiKey?: string; allowedHosts: string[];
  policyEndpoint?: string[]; policyModel?: string; policyApiKey?: string; prompt: 'instruction' | 'question' | 'auto'; imageSize?: number;
  temperature: number; topP: number; maxTokens: number;
  judgeEndpoint?: string[]; judgeModel?: string;
  rounds: number; maxRounds: number; rectifier: RectifierName;
  concurrency: number; maxQueue: number; maxSamples: number; maxBodyMb: number; timeout: number; retries: number; workDir?: string; quiet?: boolean;
}

export function configure(cmd: Command): void {
  cmd
    .description('IVR-R1 as an environment service for distributed RL engines: POST /get_reward (OpenRLHF remote reward), POST /v1/verify (per-step verdicts, first eroded step, verified prefix, feedback turn), POST /v1/rectify (the Re-Reasoning Loop through the policy endpoint). Tasks are embedded-instance ids or external {image, question, answer, prior?} records. SIGINT/SIGTERM finish the running requests, then exit 0.')
    .option('--host <address>', 'interface to bind (loopback unless you mean to expose it)', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 = any free port)', integer(0, 65535), 8010)
    .option('--api-key <key>', 'require "Authorization: Bearer KEY" (or ?api_key=KEY on /get_reward, for OpenRLHF) (default: $IVR_API_KEY, else none)')
    .option('--allowed-hosts <names>', 'comma-separated extra names accepted in the Host header ("*" = any)', commaList, [])
    .option('--policy-endpoint <urls>', 'OpenAI-compatible base URL(s) of the policy being trained (e.g. vLLM); enables /v1/rectify', commaList)
    .option('--policy-model <id>', 'model id at the policy endpoint')
    .option('--policy-api-key <key>', 'bearer key for the policy and judge endpoints (default: $OPENAI_API_KEY)')
    .addOption(new Option('--prompt <format>', 'prompt the policy reads: instruction, question (the compact model), or auto (ask the endpoint)').choices(['instruction', 'question', 'auto']).default('auto'))
    .option('--image-size <px>', 'send the task image of this width to the policy (default: what the endpoint asks for, else the large one)', integer(1))
    .option('--temperature <t>', 'sampling temperature of the loop\'s continuations', real({ min: 0, max: 2 }), 1)
    .option('--top-p <p>', 'nucleus mass of the continuations', real({ gt: 0, max: 1 }), 1)
    .option('--max-tokens <n>', 'continuation length limit', integer(1), 1024)
    .option('--judge-endpoint <urls>', 'OpenAI-compatible VLM that checks steps against the image for tasks without a prior (default: --policy-endpoint when --judge-model is set)', commaList)
    .option('--judge-model <id>', 'judge model id')
    .option('--rounds <j>', 'default Re-Reasoning Loop rounds (J)', integer(1), 3)
    .option('--max-rounds <j>', 'largest rounds a request may ask for', integer(1), 8)
    .addOption(new Option('--rectifier <name>', 'default rectifier').choices(RECTIFIER_NAMES).default('re-ground'))
    .option('--concurrency <n>', 'requests doing work at once', integer(1), 32)
    .option('--max-queue <n>', 'requests waiting before 429', integer(0), 512)
    .option('--max-samples <n>', 'samples per /get_reward request', integer(1), 8192)
    .option('--max-body-mb <mib>', 'largest request body in MiB (413 beyond)', real({ gt: 0 }), 32)
    .option('--timeout <s>', 'per-request timeout to the policy and judge endpoints, seconds', real({ gt: 0 }), 300)
    .option('--retries <n>', 'retries to the policy and judge endpoints on connection errors, 429 and 5xx', integer(0), 4)
    .option('--work-dir <dir>', 'where image files for the policy and judge are written (default: a temporary directory, removed on exit)')
    .option('--quiet', 'no per-request log lines')
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr serve-env --port 8010',
    'ivr serve-env --policy-endpoint http://gpu-node:8000/v1 --policy-model Qwen2.5-VL-7B-Instruct --judge-model Qwen2.5-VL-72B-Instruct --judge-endpoint http://judge:8000/v1',
  ]);
}

async function run(o: Options): Promise<number> {
  const apiKey = o.apiKey ?? process.env.IVR_API_KEY;
  if (apiKey !== undefined && apiKey.trim() === '') throw new UsageError(o.apiKey !== undefined ? '--api-key is empty; an empty key would turn authentication off' : 'IVR_API_KEY is set but empty; an empty key would turn authentication off (unset it to serve without one)');
  if ((o.policyEndpoint === undefined) !== (o.policyModel === undefined)) throw new UsageError('--policy-endpoint and --policy-model go together');
  if (o.judgeEndpoint !== undefined && o.judgeModel === undefined) throw new UsageError('--judge-endpoint needs --judge-model');
  if (o.judgeModel !== undefined && o.judgeEndpoint === undefined && o.policyEndpoint === undefined) throw new UsageError('--judge-model needs --judge-endpoint (or --policy-endpoint to share)');
  if (o.rounds > o.maxRounds) throw new UsageError(`--rounds ${o.rounds} is over --max-rounds ${o.maxRounds}`);
  const clientOpts = { timeoutMs: o.timeout * 1000, maxRetries: o.retries };
  const keyed = { ...(o.policyApiKey !== undefined ? { apiKey: o.policyApiKey } : {}) };
  const reasoner = o.policyEndpoint && o.policyModel
    ? await remoteReasoner(openClient(o.policyEndpoint, keyed, clientOpts), o.policyModel, { prompt: o.prompt, ...(o.imageSize !== undefined ? { imageSize: o.imageSize } : {}) }, { temperature: o.temperature, topP: o.topP, maxTokens: o.maxTokens }, 'ivr serve-env')
    : undefined;
  const judgeEndpoints = o.judgeEndpoint ?? (o.judgeModel ? o.policyEndpoint : undefined);
  const judge = judgeEndpoints && o.judgeModel ? new RemoteJudge(openClient(judgeEndpoints, keyed, clientOpts), { model: o.judgeModel }) : undefined;
  const server = createEnvServer({
    ...(reasoner ? { reasoner } : {}), ...(judge ? { judge } : {}), ...(apiKey !== undefined ? { apiKey } : {}),
    allowedHosts: o.allowedHosts, maxBodyBytes: Math.floor(o.maxBodyMb * (1 << 20)), concurrency: o.concurrency, maxQueue: o.maxQueue,
    maxSamples: o.maxSamples, rounds: o.rounds, maxRounds: o.maxRounds, rectifier: o.rectifier,
    ...(o.workDir ? { workDir: o.workDir } : {}),
    ...(o.quiet ? {} : { log: (line: string) => console.error(`[serve-env] ${line}`) }),
  });
  const addr = await server.listen(o.port, o.host);
  if (!LOOPBACK.has(o.host) && !apiKey) console.error(`ivr serve-env: warning: listening on ${o.host} without an API key; anyone who can reach it can use it (set --api-key)`);
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: NodeJS.Signals) => {
      if (stopping) { console.error(`ivr serve-env: ${sig} again, exiting now`); process.exit(130); }
      stopping = true;
      console.error(`ivr serve-env: ${sig}: finishing ${server.gate.metrics.running} running and ${server.gate.metrics.queued} queued requests, then exiting`);
      server.close(15_000).then(() => { console.error('ivr serve-env: stopped'); resolve(0); }, (e: unknown) => { console.error(`ivr serve-env: ${(e as Error).message}`); resolve(1); });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  console.log(JSON.stringify({ event: 'listening', url: server.url, port: addr.port, rectify: reasoner !== undefined, judge: judge !== undefined }));
  console.error(`ivr serve-env on ${server.url} (POST /get_reward, /v1/verify${reasoner ? `, /v1/rectify via ${reasoner.name}` : ''}; judge ${judge ? o.judgeModel : 'none'})${apiKey ? ' (API key required)' : ''}; Ctrl-C to stop`);
  return stopped;
}
