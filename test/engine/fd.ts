// Finite-difference gradient checking for the IR engine (test helper, not a test file).
//
// For an op under test y = build(x...), the checked scalar is f(x) = sum(y * R) with a fixed
// random R (so the upstream gradient is not all ones). Analytic gradients come from `grad`;
// numeric ones from central differences of f evaluated through a forward-only ONNX graph
// that is compiled once and then re-run with one input element perturbed at a time.
import assert from 'node:assert/strict';
import * as o from '../../src/engine/ops.js';
import type { TypedData } from '../../src/engine/ops.js';
import { grad } from '../../src/engine/autodiff.js';
import { compile, type CompiledGraph, type HostTensor } from '../../src/engine/runtime.js';
import { isFloat, topoSort, type DType, type Dim, type Tensor } from '../../src/engine/tensor.js';
import { Rng as SharedRng } from '../../src/util/rng.js';

// ---------------------------------------------------------------- seeded randomness

/** Uniform draws in [0, 1) from the project's seeded generator. */
export function mulberry32(seed: number): () => number {
  const rng = new SharedRng(seed);
  return () => rng.float();
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) { this.next = mulberry32(seed); }
  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number { return lo + (hi - lo) * this.next(); }
  /** Integer in [0, n). */
  int(n: number): number { return Math.floor(this.next() * n); }
  sign(): number { return this.next() < 0.5 ? -1 : 1; }
  /** Magnitude in [lo, hi) with a random sign: keeps values away from 0 (kinks, poles). */
  awayFromZero(lo: number, hi: number): number { return this.sign() * this.uniform(lo, hi); }
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** A random permutation of 0..n-1 (Fisher-Yates). */
  perm(n: number): number[] {
    const p = [...Array(n).keys()];
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [p[i], p[j]] = [p[j]!, p[i]!];
    }
    return p;
  }
}

// ---------------------------------------------------------------- host tensors

export type FloatDType = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function floats(dtype: FloatDType, values: ArrayLike<number>): FloatArray {
  return dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values);
}

/** A float host tensor filled by `gen(i)`. */
export function hostF(dtype: FloatDType, shape: number[], gen: (i: number) => number): HostTensor {
  return { data: floats(dtype, Array.from({ length: numel(shape) }, (_, i) => gen(i))), shape };
}

export function hostI64(shape: number[], values: number[]): HostTensor {
  assert.equal(values.length, numel(shape));
  return { data: BigInt64Array.from(values.map((v) => BigInt(v))), shape };
}

export function hostBool(shape: number[], values: (boolean | number)[]): HostTensor {
  assert.equal(values.length, numel(shape));
  return { data: Uint8Array.from(values.map((v) => (v ? 1 : 0))), shape };
}

export function dtypeOf(data: TypedData): DType {
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'bool';
}

/** Resolve a (possibly symbolic, e.g. '4*B*T') shape against known symbol values. */
export function resolveShape(shape: readonly Dim[], symbols: ReadonlyMap<string, number>): number[] {
  return shape.map((d) => {
    if (typeof d === 'number') return d;
    return d.split('*').reduce((acc, part) => {
      const n = Number(part);
      if (Number.isFinite(n)) return acc * n;
      const v = symbols.get(part);
      if (v === undefined) throw new Error(`resolveShape: unknown symbol ${part}`);
      return acc * v;
    }, 1);
  });
}

// ---------------------------------------------------------------- gradient check

export interface GradInput {
  name: string;
  /** Declared IR shape; defaults to the feed's shape. May hold symbols ('B'). */
  dims?: Dim[];
  /** Whether to check the gradient w.r.t. this input (default: float inputs). */
  wrt?: boolean;
  /** The value at which gradients are checked. */
  value: HostTensor;
}

export interface GradSpec {
  inputs: GradInput[];
  build: (x: Record<string, Tensor>) => Tensor;
  /** Seed of the random upstream weights R. */
  seed?: number;
  /** Central-difference step (default 1e-5 for a float64 input, 1e-2 for float32). */
  h?: number;
}

export interface GradCheck {
  /** The ops on the differentiated path of `build` (for the coverage test). */
  ops: Set<string>;
  wrt: string[];
  y: Tensor;
  fwd: CompiledGraph;
  full: CompiledGraph;
  spec: GradSpec;
}

export interface GradResult {
  /** Per checked input: max|analytic - numeric| / max(1e-6, max|numeric|). */
  errors: Record<string, number>;
  analytic: Record<string, FloatArray>;
  numeric: Record<string, Float64Array>;
}

const R_NAME = 'fd_upstream_R';

/** Builds f(x) = sum(build(x) * R) and its gradients, and compiles both graphs once. */
export async function prepareGradCheck(spec: GradSpec): Promise<GradCheck> {
  const xs: Record<string, Tensor> = {};
  for (const inp of spec.inputs) xs[inp.name] = o.input(inp.name, inp.dims ?? inp.value.shape, dtypeOf(inp.value.data));
  const y = spec.build(xs);
  if (!isFloat(y.dtype)) throw new Error(`prepareGradCheck: output dtype ${y.dtype} is not float`);
  const R = o.input(R_NAME, y.shape, y.dtype);
  const loss = o.sum(o.mul(y, R));
  const wrt = spec.inputs.filter((i) => i.wrt ?? isFloat(dtypeOf(i.value.data))).map((i) => i.name);
  const gs = grad(loss, wrt.map((n) => xs[n]!));
  const outs: Record<string, Tensor> = { loss };
  wrt.forEach((n, i) => { outs[`grad_${n}`] = gs[i]!; });
  // Ops of y that lie on a path from a checked input.
  const ids = new Set(wrt.map((n) => xs[n]!.id));
  const ops = new Set<string>();
  for (const t of topoSort([y])) {
    if (t.inputs.some((i) => ids.has(i.id))) { ids.add(t.id); ops.add(t.op); }
  }
  const [fwd, full] = await Promise.all([compile({ loss }, { threads: 1 }), compile(outs, { threads: 1 })]);
  return { ops, wrt, y, fwd, full, spec };
}

/** Runs a prepared check at the given feeds (default: the spec's values). */
export async function runGradCheck(chk: GradCheck, values?: Record<string, HostTensor>): Promise<GradResult> {
  const feeds: Record<string, HostTensor> = {};
  const symbols = new Map<string, number>();
  for (const inp of chk.spec.inputs) {
    const v = values?.[inp.name] ?? inp.value;
    // Copy so that perturbing never touches the caller's arrays.
    feeds[inp.name] = { data: v.data.slice() as TypedData, shape: [...v.shape] };
    (inp.dims ?? v.shape).forEach((d, i) => { if (typeof d === 'string' && !d.includes('*')) symbols.set(d, v.shape[i]!); });
  }
  const rShape = resolveShape(chk.y.shape, symbols);
  const rng = new Rng(chk.spec.seed ?? 12345);
  feeds[R_NAME] = hostF(chk.y.dtype as FloatDType, rShape, () => rng.uniform(-1, 1));

  const pick = (g: CompiledGraph) => Object.fromEntries(g.inputNames.map((n) => [n, feeds[n]!]));
  const res = await chk.full.run(pick(chk.full));
  const errors: Record<string, number> = {};
  const analytic: Record<string, FloatArray> = {};
  const numeric: Record<string, Float64Array> = {};
  const fwdFeeds = pick(chk.fwd);
  const lossAt = async () => Number((await chk.fwd.run(fwdFeeds)).loss!.data[0]);
  for (const n of chk.wrt) {
    const a = res[`grad_${n}`]!;
    assert.deepEqual(a.shape, feeds[n]!.shape, `gradient of ${n} has shape [${a.shape}], input has [${feeds[n]!.shape}]`);
    const x = feeds[n]!.data as FloatArray;
    const h = chk.spec.h ?? (x instanceof Float64Array ? 1e-5 : 1e-2);
    const num = new Float64Array(x.length);
    if (!(n in fwdFeeds)) {
      num.fill(0); // the loss does not read this input at all
    } else {
      for (let i = 0; i < x.length; i++) {
        const orig = x[i]!;
        x[i] = orig + h; const xp = x[i]!; const lp = await lossAt();
        x[i] = orig - h; const xm = x[i]!; const lm = await lossAt();
        x[i] = orig;
        // Divide by the step actually stored (matters in float32).
        num[i] = (lp - lm) / (xp - xm);
      }
    }
    let diff = 0;
    let scale = 0;
    for (let i = 0; i < x.length; i++) {
      diff = Math.max(diff, Math.abs(Number(a.data[i]) - num[i]!));
      scale = Math.max(scale, Math.abs(num[i]!));
    }
    errors[n] = diff / Math.max(1e-6, scale);
    analytic[n] = a.data as FloatArray;
    numeric[n] = num;
  }
  return { errors, analytic, numeric };
}

/** Asserts each checked input's relative gradient error is below `tol`. */
export function assertGradClose(label: string, r: GradResult, tol: number): void {
  for (const [n, err] of Object.entries(r.errors)) {
    if (!(err < tol)) {
      const a = Array.from(r.analytic[n]!.slice(0, 8), (v) => v.toPrecision(6));
      const nm = Array.from(r.numeric[n]!.slice(0, 8), (v) => v.toPrecision(6));
      assert.fail(`${label}: d/d${n} relative error ${err.toExponential(2)} >= ${tol}\n  analytic: ${a.join(', ')}\n  numeric:  ${nm.join(', ')}`);
    }
  }
}

/** prepare + run + assert in one call; returns the ops covered. */
export async function checkGrad(label: string, spec: GradSpec, tol: number): Promise<GradCheck> {
  const chk = await prepareGradCheck(spec);
  assertGradClose(label, await runGradCheck(chk), tol);
  return chk;
}
