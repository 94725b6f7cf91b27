// Op constructors with shape and dtype inference. Every op here is either a primitive
// (lowered 1:1 to ONNX in onnx/emit.ts, differentiated in autodiff.ts) or a composite
// built from primitives, so a new composite needs neither an emitter nor a VJP rule.
import { Tensor, dimEq, dimProduct, dimDivide, isFloat, shapeStr, type DType, type Dim, type Shape } from './tensor.js';

export class ShapeError extends Error {}

function fail(op: string, msg: string, operands: readonly Tensor[]): never {
  const desc = operands.map((t) => `${shapeStr(t.shape)} ${t.dtype}`).join(', ');
  throw new ShapeError(`${op}: ${msg}${operands.length ? ` (operands: ${desc})` : ''}`);
}

export type TypedData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
export type TensorLike = Tensor | number;

// ---------------------------------------------------------------- leaves

/** A graph input (a parameter, a batch tensor, a scalar hyper-parameter). */
export function input(name: string, shape: Shape, dtype: DType = 'float32'): Tensor {
  return new Tensor('input', [], [...shape], dtype, { name });
}

export function constant(data: TypedData | number[], shape: Shape, dtype: DType = 'float32'): Tensor {
  const n = shape.reduce<number>((a, d) => a * (d as number), 1);
  if (shape.some((d) => typeof d !== 'number')) fail('constant', `shape must be static, got ${shapeStr(shape)}`, []);
  const value = toTyped(data, dtype);
  if (value.length !== n) fail('constant', `${value.length} values do not fill shape ${shapeStr(shape)}`, []);
  return new Tensor('constant', [], [...shape], dtype, { value });
}

export function scalar(v: number, dtype: DType = 'float32'): Tensor {
  return constant([v], [], dtype);
}

const ARRAY_FOR: Record<DType, string> = { float32: 'Float32Array', float64: 'Float64Array', int32: 'Int32Array', int64: 'BigInt64Array', bool: 'Uint8Array' };

function toTyped(data: TypedData | number[], dtype: DType): TypedData {
  if (!Array.isArray(data)) {
    // Reinterpreting bits of another array type would silently produce garbage values.
    if (data.constructor.name !== ARRAY_FOR[dtype]) fail('constant', `a ${data.constructor.name} cannot hold ${dtype} values (use ${ARRAY_FOR[dtype]})`, []);
    return data;
  }
  switch (dtype) {
    case 'float32': return Float32Array.from(data);
    case 'float64': return Float64Array.from(data);
    case 'int32': return Int32Array.from(data);
    case 'int64': return BigInt64Array.from(data.map((x) => BigInt(x)));
    case 'bool': return Uint8Array.from(data.map((x) => (x ? 1 : 0)));
  }
}

function lift(x: TensorLike, like: Tensor): Tensor {
  return typeof x === 'number' ? scalar(x, like.dtype) : x;
}

// ---------------------------------------------------------------- broadcasting

export function broadcastShapes(op: string, operands: readonly Tensor[]): Dim[] {
  return broadcastDims(op, operands.map((t) => t.shape), operands);
}

function broadcastDims(op: string, shapes: readonly Shape[], operands: readonly Tensor[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const j = s.length - rank + i;
      if (j < 0) continue;
      const e = s[j]!;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (!dimEq(d, e)) fail(op, `cannot broadcast dim ${e} against ${d} at axis ${i}`, operands);
    }
    out.push(d);
  }
  return out;
}

function sameDtype(op: string, operands: readonly Tensor[]): DType {
  const dt = operands[0]!.dtype;
  if (operands.some((t) => t.dtype !== dt)) fail(op, 'dtypes differ', operands);
  return dt;
}

function binary(op: string, a: TensorLike, b: TensorLike, requireFloat = false): Tensor {
  if (typeof a === 'number' && typeof b === 'number') throw new ShapeError(`${op}: at least one operand must be a tensor`);
  const ta = typeof a === 'number' ? lift(a, b as Tensor) : a;
  const tb = lift(b, ta);
  const dtype = sameDtype(op, [ta, tb]);
  if (requireFloat && !isFloat(dtype)) fail(op, 'needs a float dtype', [ta, tb]);
  return new Tensor(op, [ta, tb], broadcastShapes(op, [ta, tb]), dtype);
}

export const add = (a: TensorLike, b: TensorLike) => binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike) => binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike) => binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike) => binary('div', a, b);
export const pow = (a: TensorLike, b: TensorLike) => binary('pow', a, b, true);

function compare(op: string, a: TensorLike, b: TensorLike): Tensor {
  const t = binary(op, a, b);
  return new Tensor(op, t.inputs, t.shape, 'bool');
}
export const equal = (a: TensorLike, b: TensorLike) => compare('equal', a, b);
export const less = (a: TensorLike, b: TensorLike) => compare('less', a, b);
export const greater = (a: TensorLike, b: TensorLike) => compare('greater', a, b);

export function logicalAnd(a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== 'bool' || b.dtype !== 'bool') fail('and', 'needs bool operands', [a, b]);
  return new Tensor('and', [a, b], broadcastShapes('and', [a, b]), 'bool');
}
export function logicalNot(a: Tensor): Tensor {
  if (a.dtype !== 'bool') fail('not', 'needs a bool operand', [a]);
  return new Tensor('not', [a], a.shape, 'bool');
}

// ---------------------------------------------------------------- elementwise unary

function unary(op: string, x: Tensor, requireFloat = true): Tensor {
  if (requireFloat && !isFloat(x.dtype)) fail(op, 'needs a float dtype', [x]);
  return new Tensor(op, [x], x.shape, x.dtype);
}
export const neg = (x: Tensor) => unary('neg', x, false);
export const exp = (x: Tensor) => unary('exp', x);
export const log = (x: Tensor) => unary('log', x);
export const sqrt = (x: Tensor) => unary('sqrt', x);
export const tanh = (x: Tensor) => unary('tanh', x);
export const erf = (x: Tensor) => unary('erf', x);
export const relu = (x: Tensor) => unary('relu', x);
export const sigmoid = (x: Tensor) => unary('sigmoid', x);
export const rsqrt = (x: Tensor) => div(1, sqrt(x));
export const square = (x: Tensor) => mul(x, x);

/** Exact GELU, 0.5·x·(1 + erf(x/√2)). */
export function gelu(x: Tensor): Tensor {
  return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
}

/** Identity forward, zero gradient backward. */
export const stopGradient = (x: Tensor) => new Tensor('stop_gradient', [x], x.shape, x.dtype);

export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  return new Tensor('cast', [x], x.shape, dtype, { to: dtype });
}

export function clamp(x: Tensor, min: number, max: number): Tensor {
  if (!(min <= max)) fail('clamp', `min ${min} > max ${max}`, [x]);
  return new Tensor('clamp', [x], x.shape, x.dtype, { min, max });
}

export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (cond.dtype !== 'bool') fail('where', 'condition must be bool', [cond]);
  const like = typeof a === 'number' ? (b as Tensor) : a;
  const ta = lift(a, like);
  const tb = lift(b, like);
  const dtype = sameDtype('where', [ta, tb]);
  return new Tensor('where', [cond, ta, tb], broadcastShapes('where', [cond, ta, tb]), dtype);
}

// ---------------------------------------------------------------- axes helpers

function normAxis(op: string, axis: number, rank: number, x: Tensor): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(op, `axis ${axis} out of range for rank ${rank}`, [x]);
  return a;
}

// ---------------------------------------------------------------- softmax family

export function softmax(x: Tensor, axis = -1): Tensor {
  if (!isFloat(x.dtype)) fail('softmax', 'needs a float dtype', [x]);
  return new Tensor('softmax', [x], x.shape, x.dtype, { axis: normAxis('softmax', axis, x.rank, x) });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  if (!isFloat(x.dtype)) fail('log_softmax', 'needs a float dtype', [x]);
  return new Tensor('log_softmax', [x], x.shape, x.dtype, { axis: normAxis('log_softmax', axis, x.rank, x) });
}

// ---------------------------------------------------------------- reductions

function reduce(op: string, x: Tensor, axes: number | number[] | undefined, keepdims: boolean): Tensor {
  const list = axes === undefined ? x.shape.map((_, i) => i) : Array.isArray(axes) ? axes : [axes];
  const norm = [...new Set(list.map((a) => normAxis(op, a, x.rank, x)))].sort((a, b) => a - b);
  // An explicit empty axis list reduces nothing (ONNX would reduce everything instead).
  if (norm.length === 0) return x;
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!norm.includes(i)) shape.push(d);
    else if (keepdims) shape.push(1);
  });
  return new Tensor(op, [x], shape, x.dtype, { axes: norm, keepdims });
}
export const sum = (x: Tensor, axes?: number | number[], keepdims = false) => reduce('reduce_sum', x, axes, keepdims);
export const max = (x: Tensor, axes?: number | number[], keepdims = false) => reduce('reduce_max', x, axes, keepdims);
export function mean(x: Tensor, axes?: number | number[], keepdims = false): Tensor {
  return reduce('reduce_mean', x, axes, keepdims);
}

// ---------------------------------------------------------------- layout

/** Reshape; one dim may be -1 (inferred). Symbolic dims are resolved at run time. */
export function reshape(x: Tensor, target: readonly Dim[]): Tensor {
  // Canonical symbolic dims ('T*B' -> 'B*T') so equal dims compare equal downstream.
  const dims = target.map((d) => (typeof d === 'string' ? dimProduct([d]) : d));
  const total = dimProduct(x.shape);
  const known = dims.filter((d) => d !== -1);
  const unknown = dims.length - known.length;
  if (unknown > 1) fail('reshape', `more than one -1 in target ${shapeStr(dims)}`, [x]);
  let shape: Dim[];
  if (unknown === 1) {
    const inferred = dimDivide(total, dimProduct(known));
    if (inferred === null) fail('reshape', `cannot infer -1 in ${shapeStr(dims)}`, [x]);
    shape = dims.map((d) => (d === -1 ? inferred : d));
  } else {
    shape = [...dims];
    if (!dimEq(dimProduct(shape), total)) fail('reshape', `target ${shapeStr(dims)} has a different element count`, [x]);
  }
  return new Tensor('reshape', [x], shape, x.dtype, {});
}

export function transpose(x: Tensor, perm?: number[]): Tensor {
  const p = perm ?? [...x.shape.keys()].map((i) => (i < x.rank - 2 ? i : i === x.rank - 2 ? x.rank - 1 : x.rank - 2));
  if (p.length !== x.rank || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) fail('transpose', `bad permutation [${p}]`, [x]);
  return new Tensor('transpose', [x], p.map((i) => x.shape[i]!), x.dtype, { perm: p });
}

/** x[..., start:end, ...] along one axis (static bounds). */
export function slice(x: Tensor, axis: number, start: number, end?: number): Tensor {
  const a = normAxis('slice', axis, x.rank, x);
  const d = x.shape[a]!;
  const stop = end ?? (typeof d === 'number' ? d : undefined);
  if (stop === undefined) {
    if (start !== 0) fail('slice', `cannot slice symbolic dim ${d} from ${start} to its end`, [x]);
    return x;
  }
  if (start < 0 || stop < start || (typeof d === 'number' && stop > d)) fail('slice', `bounds ${start}:${stop} out of range for dim ${d}`, [x]);
  const shape = [...x.shape];
  shape[a] = stop - start;
  return new Tensor('slice', [x], shape, x.dtype, { axis: a, start, end: stop });
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: no operands');
  const first = xs[0]!;
  const a = normAxis('concat', axis, first.rank, first);
  const dtype = sameDtype('concat', xs);
  let total = 0;
  for (const t of xs) {
    if (t.rank !== first.rank) fail('concat', 'ranks differ', xs);
    t.shape.forEach((d, i) => { if (i !== a && !dimEq(d, first.shape[i]!)) fail('concat', `dim ${i} differs`, xs); });
    const d = t.shape[a]!;
    if (typeof d !== 'number') fail('concat', `concat axis ${a} must be static`, xs);
    total += d;
  }
  if (xs.length === 1) return first;
  const shape = [...first.shape];
  shape[a] = total;
  return new Tensor('concat', xs, shape, dtype, { axis: a });
}

/** Embedding lookup: rows of `table` [V, ...] picked by int64 `indices` of any shape. */
export function gather(table: Tensor, indices: Tensor): Tensor {
  if (indices.dtype !== 'int64') fail('gather', 'indices must be int64', [table, indices]);
  if (table.rank < 1) fail('gather', 'table must have rank >= 1', [table, indices]);
  return new Tensor('gather', [table, indices], [...indices.shape, ...table.shape.slice(1)], table.dtype);
}

/** Broadcast x to the (run-time) shape of `like`. */
export function expandLike(x: Tensor, like: Tensor): Tensor {
  broadcastShapes('expand_like', [x, like]);
  return new Tensor('expand_like', [x, like], like.shape, x.dtype);
}

/** Reshape x to the (run-time) shape of `like` (same element count). */
export function reshapeLike(x: Tensor, like: Tensor): Tensor {
  if (!dimEq(dimProduct(x.shape), dimProduct(like.shape))) fail('reshape_like', 'element counts differ', [x, like]);
  return new Tensor('reshape_like', [x, like], like.shape, x.dtype);
}

/** One-hot over the last axis: float [..., depth]. */
export function oneHot(indices: Tensor, depth: number, dtype: DType = 'float32'): Tensor {
  if (indices.dtype !== 'int64') fail('one_hot', 'indices must be int64', [indices]);
  return new Tensor('one_hot', [indices], [...indices.shape, depth], dtype, { depth });
}

// ---------------------------------------------------------------- matmul

/** Batched matmul with numpy broadcasting over the leading dims; both ranks >= 2. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || b.rank < 2) fail('matmul', 'operands need rank >= 2', [a, b]);
  const dtype = sameDtype('matmul', [a, b]);
  const [m, k] = a.shape.slice(-2) as [Dim, Dim];
  const [k2, n] = b.shape.slice(-2) as [Dim, Dim];
  if (!dimEq(k, k2)) fail('matmul', `inner dims ${k} and ${k2} differ`, [a, b]);
  const batch = broadcastDims('matmul', [a.shape.slice(0, -2), b.shape.slice(0, -2)], [a, b]);
  return new Tensor('matmul', [a, b], [...batch, m, n], dtype);
}

// ---------------------------------------------------------------- composites

export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const mu = mean(x, -1, true);
  const centered = sub(x, mu);
  const variance = mean(square(centered), -1, true);
  return add(mul(mul(centered, rsqrt(add(variance, eps))), gamma), beta);
}

/**
 * Mean token cross-entropy over a masked token set: logits [..., V], int64 targets [...],
 * float mask [...] (1 = counted). Returns a scalar; a batch with no counted token gives 0.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, mask: Tensor): Tensor {
  const V = logits.shape[logits.rank - 1];
  if (typeof V !== 'number') fail('cross_entropy', 'vocabulary dim must be static', [logits]);
  const logp = logSoftmax(logits, -1);
  const picked = sum(mul(logp, oneHot(targets, V, logits.dtype)), -1);
  const total = sum(mul(picked, mask));
  const count = sum(mask);
  return neg(div(total, where(greater(count, 0), count, 1)));
}

/** Log-probability of each target token: logits [..., V], targets [...] -> [...]. */
export function tokenLogProbs(logits: Tensor, targets: Tensor): Tensor {
  const V = logits.shape[logits.rank - 1];
  if (typeof V !== 'number') fail('token_log_probs', 'vocabulary dim must be static', [logits]);
  return sum(mul(logSoftmax(logits, -1), oneHot(targets, V, logits.dtype)), -1);
}

// ---------------------------------------------------------------- gradient-only primitives

/** Zero-pad one axis: `before` zeros in front, `after` behind. */
export function padAxis(x: Tensor, axis: number, before: number, after: number): Tensor {
  const a = normAxis('pad_axis', axis, x.rank, x);
  const d = x.shape[a]!;
  if (typeof d !== 'number') fail('pad_axis', `axis ${a} must be static`, [x]);
  if (before === 0 && after === 0) return x;
  const shape = [...x.shape];
  shape[a] = d + before + after;
  return new Tensor('pad_axis', [x], shape, x.dtype, { axis: a, before, after });
}

/**
 * The adjoint of gather: a zero tensor shaped like `table` with each row of `updates`
 * added at its index (repeated indices accumulate).
 */
export function scatterAddRows(table: Tensor, indices: Tensor, updates: Tensor): Tensor {
  if (table.shape.some((d) => typeof d !== 'number')) fail('scatter_add_rows', 'table shape must be static', [table]);
  return new Tensor('scatter_add_rows', [indices, updates], table.shape, updates.dtype, {});
}

// ---------------------------------------------------------------- fused inference kernels
//
// Single onnxruntime kernels for what the composites above spell out in many small nodes:
// ONNX's LayerNormalization and onnxruntime's CPU contrib operators (domain com.microsoft).
// Only kernels that measured faster are here: MultiHeadAttention and GroupQueryAttention (with
// the KV cache extended in place) were slower than the spelled-out attention on these shapes
// (docs/engine/fused-kernels.md).
// They exist for INFERENCE graphs only (prefill, decode, scoring): none has a VJP rule, and
// grad() names the op and says so when a gradient must flow through one. Training graphs
// keep the composites (which autodiff differentiates).

/** Ops that lower to one fused kernel and have no gradient (see autodiff.ts). */
export const FUSED_INFERENCE_OPS = ['fused_layer_norm', 'bias_gelu'] as const;

/** LayerNormalization over the last axis: the same function as layerNorm, one kernel. */
export function fusedLayerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const D = x.shape[x.rank - 1];
  if (x.dtype !== 'float32') fail('fused_layer_norm', 'needs float32', [x]);
  for (const p of [gamma, beta]) if (p.rank !== 1 || !dimEq(p.shape[0]!, D!)) fail('fused_layer_norm', `gamma and beta must be [${D}]`, [x, gamma, beta]);
  return new Tensor('fused_layer_norm', [x, gamma, beta], x.shape, x.dtype, { eps });
}

/** gelu(x + bias) with exact (erf) GELU, bias [D] over the last axis: com.microsoft BiasGelu. */
export function biasGelu(x: Tensor, bias: Tensor): Tensor {
  if (x.dtype !== 'float32' || bias.dtype !== 'float32') fail('bias_gelu', 'needs float32', [x, bias]);
  if (bias.rank !== 1 || !dimEq(bias.shape[0]!, x.shape[x.rank - 1]!)) fail('bias_gelu', 'bias must be [last dim of x]', [x, bias]);
  return new Tensor('bias_gelu', [x, bias], x.shape, x.dtype);
}
