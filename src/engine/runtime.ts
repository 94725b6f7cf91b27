// The only module that imports onnxruntime-node. It turns IR outputs into an ONNX graph,
// runs it on host typed arrays (inputs are passed zero-copy) through an InferenceSession,
// and keeps those sessions in one bounded, least-recently-used cache: every padded length,
// batch shape and graph kind is its own session, and an RL run meets dozens of them.
import { createHash } from 'node:crypto';
import os from 'node:os';
import * as ort from 'onnxruntime-node';
import { emitOnnx, type EmittedGraph } from './onnx/emit.js';
import type { TypedData } from './ops.js';
import type { DType, Dim, Tensor } from './tensor.js';

export interface HostTensor { data: TypedData; shape: number[] }

export interface RuntimeOptions {
  /** Intra-op threads; default IVR_THREADS or all cores. */
  threads?: number;
  /**
   * onnxruntime's CPU arena and memory patterns for this graph's session (createSession):
   * only for a graph whose shapes repeat run after run, like a decode step. Default off
   * (IVR_ORT_ARENA=1 turns it on for every graph).
   */
  arena?: boolean;
}

/** What a session is opened with. */
interface SessionConfig { threads: number; arena: boolean }

export function defaultThreads(): number {
  const env = Number(process.env.IVR_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return os.availableParallelism();
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = { float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'bool' };
const ARRAY_OF: Record<DType, string> = { float32: 'Float32Array', float64: 'Float64Array', int64: 'BigInt64Array', int32: 'Int32Array', bool: 'Uint8Array' };

/** An input's ort.Tensor from an earlier run and the host array and shape it wraps. */
interface Wrapped { data: TypedData; shape: number[]; tensor: ort.Tensor }

export class CompiledGraph {
  private readonly inputSet: Set<string>;
  /**
   * Per input, the wrapper of the last run, served again while the feed is the same array
   * with the same shape. A decode step feeds ~75 inputs, ~55 of them the unchanged weights,
   * and building an ort.Tensor costs ~1 µs (its constructor's checks): 0.07 of 1.32 ms per
   * step at batch 8, 160 slots, 1 thread (docs/engine/fused-kernels.md). A wrapper holds the
   * array, not a copy, and onnxruntime reads it at run time, so contents changed in place
   * between runs are seen (test/engine/feed-wrappers.test.ts). The price: each graph keeps
   * its last run's input arrays alive until its next run.
   */
  private readonly wrapped = new Map<string, Wrapped>();

  constructor(
    readonly graph: EmittedGraph,
    private readonly key: string,
    private readonly config: SessionConfig,
  ) {
    this.inputSet = new Set(graph.inputs.map((i) => i.name));
  }

  get inputNames(): string[] { return this.graph.inputs.map((i) => i.name); }
  get outputNames(): string[] { return this.graph.outputs.map((o) => o.name); }
  hasInput(name: string): boolean { return this.inputSet.has(name); }

  /** Runs the graph. Every declared input must be fed; extra feeds are an error. */
  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    const symbols = new Map<string, number>();
    for (const spec of this.graph.inputs) {
      const f = feeds[spec.name];
      if (!f) throw new Error(`run: missing input "${spec.name}" (shape [${spec.shape}], ${spec.dtype})`);
      checkFeed(spec, f, symbols);
      ortFeeds[spec.name] = this.wrap(spec.name, spec.dtype, f);
    }
    for (const name in feeds) {
      if (!this.inputSet.has(name)) throw new Error(`run: unknown input "${name}" (inputs: ${this.inputNames.join(', ')})`);
    }
    const entry = await acquireSession(this.key, this.graph.bytes, this.config);
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await (await entry.session).run(ortFeeds);
    } finally {
      releaseSession(entry);
    }
    const out: Record<string, HostTensor> = {};
    for (const o of this.graph.outputs) {
      const t = result[o.name]!;
      out[o.name] = { data: t.data as TypedData, shape: [...t.dims] };
    }
    return out;
  }

  private wrap(name: string, dtype: DType, f: HostTensor): ort.Tensor {
    const last = this.wrapped.get(name);
    if (last && last.data === f.data && sameShape(last.shape, f.shape)) return last.tensor;
    const tensor = new ort.Tensor(ORT_TYPE[dtype], f.data as never, f.shape);
    this.wrapped.set(name, { data: f.data, shape: [...f.shape], tensor });
    return tensor;
  }
}

function sameShape(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function checkFeed(spec: { name: string; shape: Dim[]; dtype: DType }, f: HostTensor, symbols: Map<string, number>): void {
  const got = f.data.constructor.name;
  if (got !== ARRAY_OF[spec.dtype]) throw new Error(`run: input "${spec.name}" must be a ${ARRAY_OF[spec.dtype]} (${spec.dtype}), got ${got}`);
  const bad = () => new Error(`run: input "${spec.name}" has shape [${f.shape}], expected [${spec.shape}]`);
  if (f.shape.length !== spec.shape.length) throw bad();
  spec.shape.forEach((d, i) => {
    const v = f.shape[i]!;
    if (typeof d === 'number') { if (d !== v) throw bad(); return; }
    if (d.includes('*')) return;
    const seen = symbols.get(d);
    if (seen === undefined) symbols.set(d, v);
    else if (seen !== v) throw new Error(`run: dim "${d}" is ${seen} in one input and ${v} in "${spec.name}"`);
  });
  const n = f.shape.reduce((a, b) => a * b, 1);
  if (f.data.length !== n) throw new Error(`run: input "${spec.name}" has ${f.data.length} values for shape [${f.shape}]`);
}

const ARENA = process.env.IVR_ORT_ARENA === '1';

/** Most sessions kept open at once ($IVR_ORT_MAX_SESSIONS, default 64). */
export function maxOpenSessions(): number {
  const env = Number(process.env.IVR_ORT_MAX_SESSIONS);
  return Number.isInteger(env) && env > 0 ? env : 64;
}

interface SessionEntry { key: string; session: Promise<ort.InferenceSession>; inFlight: number }

// Map order is recency: an entry is re-inserted on every use, so the first is the least
// recently used. A graph whose session was evicted re-opens it on its next run.
const open = new Map<string, SessionEntry>();
const counts = { opened: 0, evicted: 0 };

/** How many sessions are open now, and how many were opened and evicted so far. */
export function sessionStats(): { open: number; opened: number; evicted: number } {
  return { open: open.size, ...counts };
}

function createSession(bytes: Uint8Array, { threads, arena }: SessionConfig): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    // The CPU arena keeps each session's peak allocation for the life of the process, and
    // with symbolic batch/sequence dims every new shape raises it: measured on a GRPO run
    // (16 × 8 from the base, 1 thread) RSS 2.7 GB after iteration 1 and 4.8 GB after 3 with
    // the arena, 1.0 GB and 1.3 GB after 1 and 5 without; the sweep's 8 × 8 GRPO run reached
    // 4.9 GB by iteration 14. Memory patterns only pay off for repeated identical shapes.
    // IVR_ORT_ARENA=1 turns both back on; RuntimeOptions.arena for one graph.
    enableCpuMemArena: arena,
    enableMemPattern: arena,
    extra: { session: { intra_op: { allow_spinning: ortSpinning() ? '1' : '0' } } },
  });
}

/**
 * Whether onnxruntime's intra-op threads spin while they wait for work: $IVR_ORT_SPIN=1
 * (onnxruntime's own default), else not. Spinning only pays when the pool's threads have
 * cores to themselves; measured on this 2-core machine with both cores busy (load average
 * ~14), decode at batch 64 and 2 threads ran 1,273–1,753 tokens/s spinning and 2,009–5,711
 * not (1 thread: 3,233–4,654 either way), in alternating runs; see docs/engine/fused-kernels.md.
 */
export function ortSpinning(): boolean {
  return process.env.IVR_ORT_SPIN === '1';
}

async function acquireSession(key: string, bytes: Uint8Array, config: SessionConfig): Promise<SessionEntry> {
  let entry = open.get(key);
  if (entry) open.delete(key);
  else {
    entry = { key, session: createSession(bytes, config), inFlight: 0 };
    counts.opened++;
  }
  open.set(key, entry);
  entry.inFlight++;
  try {
    await entry.session;
  } catch (e) {
    entry.inFlight--;
    if (open.get(key) === entry) open.delete(key);
    throw e;
  }
  evictBeyondBudget();
  return entry;
}

function releaseSession(entry: SessionEntry): void {
  entry.inFlight--;
  evictBeyondBudget();
}

/** Closes least recently used idle sessions until at most maxOpenSessions() are open. */
function evictBeyondBudget(): void {
  let excess = open.size - maxOpenSessions();
  for (const entry of open.values()) {
    if (excess <= 0) break;
    if (entry.inFlight > 0) continue;
    open.delete(entry.key);
    counts.evicted++;
    excess--;
    void entry.session.then((s) => s.release()).catch(() => {});
  }
}

/** Compiles IR outputs to ONNX and opens (or reuses) a session for that exact graph. */
export async function compile(outputs: Record<string, Tensor>, opts: RuntimeOptions = {}): Promise<CompiledGraph> {
  const graph = emitOnnx(outputs);
  const config = { threads: opts.threads ?? defaultThreads(), arena: ARENA || opts.arena === true };
  const key = createHash('sha256').update(graph.bytes).update(`|threads=${config.threads}|arena=${config.arena}`).digest('hex');
  // Opening the session here surfaces a graph onnxruntime rejects at compile time.
  releaseSession(await acquireSession(key, graph.bytes, config));
  return new CompiledGraph(graph, key, config);
}

/** Convenience for tests and small graphs: compile then run once. */
export async function evaluate(outputs: Record<string, Tensor>, feeds: Record<string, HostTensor>, opts: RuntimeOptions = {}): Promise<Record<string, HostTensor>> {
  return (await compile(outputs, opts)).run(feeds);
}
