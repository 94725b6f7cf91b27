// Decoding on every core: a pool of worker threads (model/decode-worker.ts), each with a
// replica of the policy at one intra-op thread, generating whole batches side by side.
//
// Why: a decode step is ~200 small onnxruntime nodes, and two intra-op threads barely beat
// one on them (each parallel node wakes the other thread), while two batches decoded on two
// cores at once nearly double the tokens per second. Every row samples from its own seed
// (decode.ts withRowSeeds), so what a row generates does not depend on the pool.
//
// The pool is the policy's (Policy.decodeWorkers); requests with an onToken callback (the
// server's streaming) cannot cross threads and are decoded in process.
import { Worker } from 'node:worker_threads';
import type { ParamStore } from '../engine/params.js';
import type { VlmConfig } from './config.js';
import type { GenerateOptions, GenerateRequest, Generation } from './decode.js';
import type { Tokenizer } from './tokenizer.js';

export type ToWorker =
  | { kind: 'init'; cfg: VlmConfig; tokenizer: { specials: string[]; chars: string }; fused: boolean; shareContexts: boolean }
  | { kind: 'params'; values: [string, Float32Array][] }
  | { kind: 'batch'; id: number; reqs: GenerateRequest[]; opts: GenerateOptions };

export interface SessionCounts { open: number; opened: number; evicted: number }

export type FromWorker = { kind: 'done'; id: number; gens: Generation[]; sessions: SessionCounts } | { kind: 'failed'; id: number; message: string };

/** Every worker started in this process, for decodeWorkerStats. */
const started = new Set<DecodeWorker>();

/**
 * Decode workers running in this process and their onnxruntime sessions (each worker has its
 * own; runtime.ts sessionStats counts only this thread's), as of each worker's last batch.
 */
export function decodeWorkerStats(): { workers: number } & SessionCounts {
  const sum = { workers: 0, open: 0, opened: 0, evicted: 0 };
  for (const w of started) {
    if (w.failed) continue;
    sum.workers++;
    sum.open += w.sessions.open;
    sum.opened += w.sessions.opened;
    sum.evicted += w.sessions.evicted;
  }
  return sum;
}

/** What a replica must match: the policy's model, tokenizer and graph options. */
export interface ReplicaSpec { cfg: VlmConfig; tokenizer: Tokenizer; fused: boolean; shareContexts: boolean }

interface Pending { resolve: (g: Generation[]) => void; reject: (e: Error) => void }

class DecodeWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private broken: Error | null = null;
  sessions: SessionCounts = { open: 0, opened: 0, evicted: 0 };

  constructor(spec: ReplicaSpec) {
    this.worker = new Worker(new URL('./decode-worker.js', import.meta.url));
    // An idle worker must not keep the process alive; it is ref'd while a batch is out.
    this.worker.unref();
    this.worker.on('message', (m: FromWorker) => {
      const p = this.pending.get(m.id);
      if (!p) {
        if (m.kind === 'failed') this.fail(new Error(`decode worker: ${m.message}`));
        return;
      }
      this.pending.delete(m.id);
      if (!this.pending.size) this.worker.unref();
      if (m.kind === 'done') {
        this.sessions = m.sessions;
        p.resolve(m.gens);
      }
      else p.reject(new Error(`decode worker: ${m.message}`));
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      started.delete(this);
      this.fail(new Error(`decode worker exited (code ${code})`));
    });
    started.add(this);
    this.post({ kind: 'init', cfg: spec.cfg, tokenizer: { specials: [...spec.tokenizer.specials], chars: spec.tokenizer.chars }, fused: spec.fused, shareContexts: spec.shareContexts });
  }

  private fail(e: Error): void {
    this.broken ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  private post(m: ToWorker): void {
    if (this.broken) throw this.broken;
    this.worker.postMessage(m);
  }

  /** Sends the current weights (copied: the caller may replace or rewrite its arrays after). */
  sendParams(params: ParamStore): void {
    this.post({ kind: 'params', values: params.specs.map((s) => [s.name, params.get(s.name)]) });
  }

  generate(reqs: GenerateRequest[], opts: GenerateOptions): Promise<Generation[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      try {
        this.post({ kind: 'batch', id, reqs, opts });
      } catch (e) {
        this.pending.delete(id);
        reject(e as Error);
      }
    });
  }

  get failed(): boolean { return this.broken !== null; }

  terminate(): Promise<number> { return this.worker.terminate(); }
}

export class DecodePool {
  private workers: DecodeWorker[] = [];

  constructor(readonly size: number, private readonly spec: () => ReplicaSpec) {}

  /**
   * Generates the batches (seeded requests, model/decode.ts withRowSeeds) on the workers with
   * the given weights, each worker taking the next batch when it is free; results in batch order.
   */
  async run(batches: GenerateRequest[][], opts: GenerateOptions, params: ParamStore): Promise<Generation[][]> {
    this.workers = this.workers.filter((w) => !w.failed);
    while (this.workers.length < this.size) this.workers.push(new DecodeWorker(this.spec()));
    for (const w of this.workers) w.sendParams(params);
    const out: Generation[][] = new Array(batches.length);
    let next = 0;
    let failure: unknown = null;
    // After a failure no batch is handed out; the ones in flight finish before it is thrown.
    await Promise.all(this.workers.map(async (w) => {
      while (next < batches.length && failure === null) {
        const b = next++;
        try {
          out[b] = await w.generate(batches[b]!, opts);
        } catch (e) {
          failure ??= e;
        }
      }
    }));
    if (failure !== null) throw failure;
    return out;
  }

  /** Stops the workers (a later run starts new ones). */
  async close(): Promise<void> {
    const ws = this.workers;
    this.workers = [];
    await Promise.all(ws.map((w) => w.terminate()));
  }
}
