// `ivr serve --checkpoint PATH [--host 127.0.0.1] [--port N] [--api-key K]`: an
// OpenAI-compatible API for a checkpoint (src/remote/server.ts; message mapping in
// src/remote/chat-template.ts).
import * as path from 'node:path';
import { loadPolicy } from '../../model/checkpoint-io.js';
import { createChatServer } from '../../remote/server.js';
import { parseArgs, usage, UsageError, type OptionSpec } from '../../util/args.js';

const OPTIONS: Record<string, OptionSpec> = {
  checkpoint: { type: 'string', help: 'policy checkpoint directory', default: 'checkpoints/base' },
  host: { type: 'string', help: 'interface to bind (loopback unless you mean to expose it)', default: '127.0.0.1' },
  port: { type: 'number', help: 'TCP port (0 = any free port)', default: 8000 },
  'api-key': { type: 'string', help: 'require "Authorization: Bearer KEY" (default: $IVR_API_KEY, else none; an empty key is an error)' },
  'allowed-hosts': { type: 'string', help: 'comma-separated extra names accepted in the Host header, e.g. a reverse proxy\'s ("*" = any); loopback names and --host always are' },
  'model-name': { type: 'string', help: 'model id clients send (default: the checkpoint directory name)' },
  'max-batch': { type: 'number', help: 'most rows decoded together', default: 64 },
  'batch-window-ms': { type: 'number', help: 'idle wait for more requests before a batch starts', default: 8 },
  'max-queue': { type: 'number', help: 'most waiting requests before 429', default: 256 },
  'max-n': { type: 'number', help: 'largest n per request', default: 16 },
  'max-body-mb': { type: 'number', help: 'largest request body in MiB (413 beyond)', default: 8 },
  threads: { type: 'number', help: 'onnxruntime threads' },
  quiet: { type: 'boolean', help: 'no per-request log lines', default: false },
  help: { type: 'boolean', help: 'show this help', default: false },
};

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export async function run(argv: string[]): Promise<number> {
  const { options, positional } = parseArgs(argv, OPTIONS);
  if (options.help) {
    console.log(usage('serve --checkpoint DIR [options]', 'OpenAI-compatible API (GET /v1/models, POST /v1/chat/completions with images, streaming, n, logprobs) for a checkpoint; concurrent requests share decode steps.', OPTIONS));
    return 0;
  }
  if (positional.length) throw new UsageError(`unexpected argument "${positional[0]}"`);
  const posInt = (k: string, min: number) => {
    const v = options[k] as number;
    if (!Number.isInteger(v) || v < min) throw new UsageError(`--${k} must be an integer >= ${min}, got ${v}`);
    return v;
  };
  const port = posInt('port', 0);
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  const maxBody = options['max-body-mb'] as number;
  if (!(maxBody > 0)) throw new UsageError('--max-body-mb must be > 0');
  const apiKey = (options['api-key'] as string | undefined) ?? process.env.IVR_API_KEY;
  // Checked before the (slow) checkpoint load; the server refuses it too.
  if (apiKey !== undefined && apiKey.trim() === '') {
    throw new UsageError(options['api-key'] !== undefined
      ? '--api-key is empty; an empty key would turn authentication off (omit --api-key and unset IVR_API_KEY to serve without one)'
      : 'IVR_API_KEY is set but empty; an empty key would turn authentication off (unset it to serve without one, or set a key)');
  }
  const allowedHosts = ((options['allowed-hosts'] as string | undefined) ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  const ckpt = options.checkpoint as string;
  const { policy } = loadPolicy(ckpt, options.threads as number | undefined);
  const host = options.host as string;
  const modelName = (options['model-name'] as string | undefined) ?? path.basename(path.resolve(ckpt));
  const server = createChatServer({
    policy, modelName,
    ...(apiKey !== undefined ? { apiKey } : {}),
    allowedHosts,
    maxBatchRows: posInt('max-batch', 1), batchWindowMs: posInt('batch-window-ms', 0), maxQueue: posInt('max-queue', 1),
    maxN: posInt('max-n', 1), maxBodyBytes: Math.floor(maxBody * (1 << 20)),
    ...(options.quiet ? {} : { log: (line: string) => console.error(`[serve] ${line}`) }),
  });
  const addr = await server.listen(port, host);
  if (!LOOPBACK.has(host) && !apiKey) console.error(`ivr serve: warning: listening on ${host} without an API key; anyone who can reach it can use it (set --api-key)`);
  // The first stdout line is machine-readable so scripts (and tests) can find the port.
  console.log(JSON.stringify({ event: 'listening', url: `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/v1`, model: modelName, port: addr.port }));
  console.error(`ivr serve: ${modelName} (${policy.cfg.imageSize}x${policy.cfg.imageSize} images, ${policy.cfg.maxText} text tokens) on http://${host}:${addr.port}/v1${apiKey ? ' (API key required)' : ''}; Ctrl-C to stop`);

  return new Promise<number>((resolve) => {
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
}
