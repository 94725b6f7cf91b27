// `ivr serve --checkpoint PATH [--host 127.0.0.1] [--port N] [--api-key K]`: an
// OpenAI-compatible API for a checkpoint (src/serve/server.ts; message mapping in
// src/serve/chat-template.ts).
import * as path from 'node:path';
import type { Command } from 'commander';
import { loadPolicy } from '../../model/checkpoint-io.js';
import { resolveCheckpoint } from '../../util/package-paths.js';
import { createChatServer } from '../../serve/server.js';
import { UsageError } from '../errors.js';
import { withExamples } from '../help.js';
import { commaList, integer, real } from '../options.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

interface Options {
  checkpoint: string; host: string; port: number; apiKey?: string; allowedHosts: string[]; modelName?: string;
  maxBatch: number; batchWindowMs: number; maxQueue: number; maxN: number; maxBodyMb: number; threads?: number; quiet?: boolean;
}

export function configure(cmd: Command): void {
  cmd
    .description('OpenAI-compatible API (GET /v1/models, POST /v1/chat/completions with images, streaming, n, logprobs) for a checkpoint; concurrent requests share decode steps. SIGINT/SIGTERM finish the queued requests, then exit 0.')
    .option('--checkpoint <dir>', 'policy checkpoint directory, or a run directory (its checkpoints/final, else latest)', 'checkpoints/base')
    .option('--host <address>', 'interface to bind (loopback unless you mean to expose it)', '127.0.0.1')
    .option('--port <port>', 'TCP port (0 = any free port)', integer(0, 65535), 8000)
    .option('--api-key <key>', 'require "Authorization: Bearer KEY" (default: $IVR_API_KEY, else none; an empty key is an error)')
    .option('--allowed-hosts <names>', 'comma-separated extra names accepted in the Host header, e.g. a reverse proxy\'s ("*" = any); loopback names and --host always are', commaList, [])
    .option('--model-name <id>', 'model id clients send (default: the checkpoint directory name)')
    .option('--max-batch <rows>', 'most rows decoded together', integer(1), 64)
    .option('--batch-window-ms <ms>', 'idle wait for more requests before a batch starts', integer(0), 8)
    .option('--max-queue <n>', 'most waiting requests before 429', integer(1), 256)
    .option('--max-n <n>', 'largest n per request', integer(1), 16)
    .option('--max-body-mb <mib>', 'largest request body in MiB (413 beyond)', real({ gt: 0 }), 8)
    .option('--threads <n>', 'onnxruntime threads (default: $IVR_THREADS, else all cores)', integer(1))
    .option('--quiet', 'no per-request log lines')
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr serve --checkpoint runs/ivr --port 8000',
    'IVR_API_KEY=secret ivr serve --host 0.0.0.0 --allowed-hosts vlm.example.org',
  ]);
}

async function run(o: Options): Promise<number> {
  const apiKey = o.apiKey ?? process.env.IVR_API_KEY;
  // Checked before the (slow) checkpoint load; the server refuses it too.
  if (apiKey !== undefined && apiKey.trim() === '') {
    throw new UsageError(o.apiKey !== undefined
      ? '--api-key is empty; an empty key would turn authentication off (omit --api-key and unset IVR_API_KEY to serve without one)'
      : 'IVR_API_KEY is set but empty; an empty key would turn authentication off (unset it to serve without one, or set a key)');
  }
  const { policy } = loadPolicy(resolveCheckpoint(o.checkpoint), o.threads);
  const host = o.host;
  const modelName = o.modelName ?? path.basename(path.resolve(o.checkpoint));
  const server = createChatServer({
    policy, modelName,
    ...(apiKey !== undefined ? { apiKey } : {}),
    allowedHosts: o.allowedHosts,
    maxBatchRows: o.maxBatch, batchWindowMs: o.batchWindowMs, maxQueue: o.maxQueue,
    maxN: o.maxN, maxBodyBytes: Math.floor(o.maxBodyMb * (1 << 20)),
    ...(o.quiet ? {} : { log: (line: string) => console.error(`[serve] ${line}`) }),
  });
  const addr = await server.listen(o.port, host);
  if (!LOOPBACK.has(host) && !apiKey) console.error(`ivr serve: warning: listening on ${host} without an API key; anyone who can reach it can use it (set --api-key)`);
  // Signal handlers first: a script may stop the server as soon as it reads the line below.
  const stopped = new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (sig: NodeJS.Signals) => {
      if (stopping) { console.error(`ivr serve: ${sig} again, exiting now`); process.exit(130); }
      stopping = true;
      console.error(`ivr serve: ${sig}: finishing ${server.scheduler.queuedRequests} queued and the running requests, then exiting`);
      server.close(15_000).then(() => { console.error('ivr serve: stopped'); resolve(0); }, (e: unknown) => { console.error(`ivr serve: ${(e as Error).message}`); resolve(1); });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  // The first stdout line is machine-readable so scripts (and tests) can find the port.
  console.log(JSON.stringify({ event: 'listening', url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/v1`, model: modelName, port: addr.port }));
  console.error(`ivr serve: ${modelName} (${policy.cfg.imageSize}x${policy.cfg.imageSize} images, ${policy.cfg.maxText} text tokens) on http://${host}:${addr.port}/v1${apiKey ? ' (API key required)' : ''}; Ctrl-C to stop`);
  return stopped;
}
