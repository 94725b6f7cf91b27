// The only module that imports onnxruntime-node. It turns IR outputs into a cached
// InferenceSession and runs it on host typed arrays (inputs are passed zero-copy).
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
}

export function defaultThreads(): number {
  const env = Number(process.env.IVR_THREADS);
  if (Number.isInteger(env) && env > 0) return env;
  return os.availableParallelism();
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = { float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'bool' };
const ARRAY_OF: Record<DType, string> = { float32: 'Float32Array', float64: 'Float64Array', int64: 'BigInt64Array', int32: 'Int32Array', bool: 'Uint8Array' };

export class CompiledGraph {
  constructor(
    private readonly session: ort.InferenceSession,
    readonly graph: EmittedGraph,
  ) {}

  get inputNames(): string[] { return this.graph.inputs.map((i) => i.name); }
  get outputNames(): string[] { return this.graph.outputs.map((o) => o.name); }

  /** Runs the graph. Every declared input must be fed; extra feeds are an error. */
  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    const symbols = new Map<string, number>();
    for (const spec of this.graph.inputs) {
      const f = feeds[spec.name];
      if (!f) throw new Error(`run: missing input "${spec.name}" (shape [${spec.shape}], ${spec.dtype})`);
      checkFeed(spec, f, symbols);
      ortFeeds[spec.name] = new ort.Tensor(ORT_TYPE[spec.dtype], f.data as never, f.shape);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.graph.inputs.some((i) => i.name === name)) throw new Error(`run: unknown input "${name}" (inputs: ${this.inputNames.join(', ')})`);
    }
    const result = await this.session.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const o of this.graph.outputs) {
      const t = result[o.name]!;
      out[o.name] = { data: t.data as TypedData, shape: [...t.dims] };
    }
    return out;
  }
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

const sessionCache = new Map<string, Promise<ort.InferenceSession>>();
const ARENA = process.env.IVR_ORT_ARENA === '1';

/** Compiles IR outputs to ONNX and opens (or reuses) a session for that exact graph. */
export async function compile(outputs: Record<string, Tensor>, opts: RuntimeOptions = {}): Promise<CompiledGraph> {
  const graph = emitOnnx(outputs);
  const threads = opts.threads ?? defaultThreads();
  const key = createHash('sha256').update(graph.bytes).update(`|threads=${threads}`).digest('hex');
  let session = sessionCache.get(key);
  if (!session) {
    session = ort.InferenceSession.create(graph.bytes, {
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      // The CPU arena keeps each session's peak allocation for the life of the process, and
      // with symbolic batch/sequence dims every new shape raises it: measured on a GRPO run
      // (16 × 8 from the base, 1 thread) RSS 2.7 GB after iteration 1 and 4.8 GB after 3 with
      // the arena, 1.0 GB and 1.3 GB after 1 and 5 without; the sweep's 8 × 8 GRPO run reached
      // 4.9 GB by iteration 14. Memory patterns only pay off for repeated identical shapes.
      // IVR_ORT_ARENA=1 turns both back on.
      enableCpuMemArena: ARENA,
      enableMemPattern: ARENA,
    });
    sessionCache.set(key, session);
    session.catch(() => sessionCache.delete(key));
  }
  return new CompiledGraph(await session, graph);
}

/** Convenience for tests and small graphs: compile then run once. */
export async function evaluate(outputs: Record<string, Tensor>, feeds: Record<string, HostTensor>, opts: RuntimeOptions = {}): Promise<Record<string, HostTensor>> {
  return (await compile(outputs, opts)).run(feeds);
}
