// A decode worker (model/decode-pool.ts): a thread holding a replica of the policy at one
// intra-op thread, which generates the batches it is sent with the weights it was last sent.
// Messages in: `init` (config, tokenizer, graph options), `params` (every weight array),
// `batch` (seeded requests and options). Out: `done` with the generations (and the worker's
// onnxruntime session counts), or `failed`.
import { parentPort } from 'node:worker_threads';
import { ParamStore } from '../engine/params.js';
import { sessionStats } from '../engine/runtime.js';
import { Policy } from './policy.js';
import { Tokenizer } from './tokenizer.js';
import type { ToWorker, FromWorker } from './decode-pool.js';

if (!parentPort) throw new Error('decode-worker.ts runs as a worker thread (model/decode-pool.ts starts it)');
const port = parentPort;
let policy: Policy | null = null;

port.on('message', (m: ToWorker) => {
  void handle(m).catch((e: unknown) => {
    const reply: FromWorker = { kind: 'failed', id: 'id' in m ? m.id : -1, message: e instanceof Error ? e.stack ?? e.message : String(e) };
    port.postMessage(reply);
  });
});

async function handle(m: ToWorker): Promise<void> {
  if (m.kind === 'init') {
    const specs = Policy.specs(m.cfg);
    policy = new Policy(m.cfg, new Tokenizer(m.tokenizer.specials, m.tokenizer.chars), new ParamStore(specs), 1);
    policy.fused = m.fused;
    policy.shareContexts = m.shareContexts;
    policy.decodeWorkers = 1; // a worker decodes in its own thread
    return;
  }
  if (!policy) throw new Error('decode worker: not initialised');
  if (m.kind === 'params') {
    for (const [name, data] of m.values) policy.params.values.set(name, data);
    return;
  }
  const gens = await policy.generate(m.reqs, { ...m.opts, batchSize: m.reqs.length });
  const reply: FromWorker = { kind: 'done', id: m.id, gens, sessions: sessionStats() };
  port.postMessage(reply);
}
