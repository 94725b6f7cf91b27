// Forward correctness of the IR ops through the ONNX lowering and onnxruntime, against
// plain-JS reference computations; plus the shape/dtype error messages of the op builders
// and the feed validation of the runtime.
//
// Comparisons: float64 results within 1e-12 relative (1e-10 for transcendental functions,
// where the C library and V8 may differ by a few ulps); float32 results within 1e-6
// relative (1e-5 for softmax-family and composites).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as o from '../../src/engine/ops.js';
import { ShapeError, type TypedData } from '../../src/engine/ops.js';
import { compile, evaluate, type HostTensor } from '../../src/engine/runtime.js';
import { emitOnnx, movesOnlyUnitAxes } from '../../src/engine/onnx/emit.js';
import type { Tensor } from '../../src/engine/tensor.js';
import { Rng, hostBool, hostF, hostI64, numel } from './fd.js';

const opts = { threads: 1 };
const run = (outs: Record<string, Tensor>, feeds: Record<string, HostTensor>) => evaluate(outs, feeds, opts);

// ---------------------------------------------------------------- plain-JS references

interface Ref { data: number[]; shape: number[] }

const strides = (shape: readonly number[]) => {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
};
const unravel = (i: number, shape: readonly number[]) => {
  const st = strides(shape);
  return shape.map((_, k) => Math.floor(i / st[k]!) % shape[k]!);
};
const ravel = (idx: readonly number[], shape: readonly number[]) => {
  const st = strides(shape);
  return idx.reduce((acc, v, k) => acc + v * st[k]!, 0);
};
const toRef = (h: HostTensor): Ref => ({ data: Array.from(h.data as ArrayLike<number | bigint>, Number), shape: h.shape });

function bshape(...shapes: number[][]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  return [...Array(rank).keys()].map((i) => Math.max(...shapes.map((s) => s[s.length - rank + i] ?? 1)));
}
/** Index of a broadcast operand for an output multi-index. */
const bindex = (idx: number[], shape: number[]) => ravel(shape.map((d, k) => (d === 1 ? 0 : idx[idx.length - shape.length + k]!)), shape);

function bmap(f: (...v: number[]) => number, ...xs: Ref[]): Ref {
  const shape = bshape(...xs.map((x) => x.shape));
  const data = Array.from({ length: numel(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    return f(...xs.map((x) => x.data[bindex(idx, x.shape)]!));
  });
  return { data, shape };
}

function reduceRef(x: Ref, axes: number[], keep: boolean, kind: 'sum' | 'mean' | 'max'): Ref {
  const ax = axes.map((a) => (a < 0 ? a + x.shape.length : a));
  const kshape = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const acc = new Array<number>(numel(kshape)).fill(kind === 'max' ? -Infinity : 0);
  x.data.forEach((v, i) => {
    const j = ravel(unravel(i, x.shape).map((c, k) => (ax.includes(k) ? 0 : c)), kshape);
    acc[j] = kind === 'max' ? Math.max(acc[j]!, v) : acc[j]! + v;
  });
  const count = ax.reduce((a, k) => a * x.shape[k]!, 1);
  return { data: kind === 'mean' ? acc.map((v) => v / count) : acc, shape: keep ? kshape : x.shape.filter((_, i) => !ax.includes(i)) };
}

function transposeRef(x: Ref, perm: number[]): Ref {
  const shape = perm.map((p) => x.shape[p]!);
  return { shape, data: Array.from({ length: x.data.length }, (_, i) => {
    const idx = unravel(i, shape);
    const src = new Array<number>(perm.length);
    perm.forEach((p, k) => { src[p] = idx[k]!; });
    return x.data[ravel(src, x.shape)]!;
  }) };
}

function matmulRef(a: Ref, b: Ref): Ref {
  const [m, k] = a.shape.slice(-2) as [number, number];
  const n = b.shape[b.shape.length - 1]!;
  const batch = bshape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...batch, m, n];
  return { shape, data: Array.from({ length: numel(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    const bi = idx.slice(0, -2);
    const [r, c] = idx.slice(-2) as [number, number];
    let s = 0;
    for (let t = 0; t < k; t++) {
      s += a.data[bindex([...bi, r, t], a.shape)]! * b.data[bindex([...bi, t, c], b.shape)]!;
    }
    return s;
  }) };
}

function sliceRef(x: Ref, axis: number, start: number, end: number): Ref {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const shape = [...x.shape];
  shape[a] = end - start;
  return { shape, data: Array.from({ length: numel(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    idx[a] = idx[a]! + start;
    return x.data[ravel(idx, x.shape)]!;
  }) };
}

function concatRef(xs: Ref[], axis: number): Ref {
  const a = axis < 0 ? axis + xs[0]!.shape.length : axis;
  const shape = [...xs[0]!.shape];
  shape[a] = xs.reduce((s, x) => s + x.shape[a]!, 0);
  return { shape, data: Array.from({ length: numel(shape) }, (_, i) => {
    const idx = unravel(i, shape);
    let off = idx[a]!;
    for (const x of xs) {
      if (off < x.shape[a]!) { idx[a] = off; return x.data[ravel(idx, x.shape)]!; }
      off -= x.shape[a]!;
    }
    throw new Error('unreachable');
  }) };
}

function softmaxRef(x: Ref, axis: number, log: boolean): Ref {
  const a = axis < 0 ? axis + x.shape.length : axis;
  const mx = reduceRef(x, [a], true, 'max');
  const shifted = bmap((v, m) => v - m, x, mx);
  const lse = reduceRef(bmap(Math.exp, shifted), [a], true, 'sum');
  return bmap(log ? (v, s) => v - Math.log(s) : (v, s) => Math.exp(v) / s, shifted, lse);
}

/** erf to ~1e-15 via its Maclaurin series / continued-fraction complement. */
function erfRef(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax, sum = ax;
    for (let n = 1; n < 80; n++) {
      term *= -ax * ax / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * sum * 2 / Math.sqrt(Math.PI);
  }
  // erfc continued fraction (Lentz), accurate for ax >= 2.5.
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (ax + f);
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / (ax + f);
  return Math.sign(x) * (1 - erfc);
}

function assertClose(label: string, got: HostTensor | undefined, want: Ref, tol: number): void {
  assert.ok(got, `${label}: missing output`);
  assert.deepEqual(got.shape, want.shape, `${label}: shape`);
  const g = Array.from(got.data as ArrayLike<number | bigint>, Number);
  assert.equal(g.length, want.data.length, `${label}: length`);
  g.forEach((v, i) => {
    const w = want.data[i]!;
    const ok = v === w || Math.abs(v - w) <= tol * Math.max(1, Math.abs(w));
    assert.ok(ok, `${label}[${i}] (at ${unravel(i, want.shape)}): got ${v}, want ${w} (tol ${tol})`);
  });
}

const f64 = (shape: number[], values: number[]): HostTensor => ({ data: Float64Array.from(values), shape });
const f32 = (shape: number[], values: number[]): HostTensor => ({ data: Float32Array.from(values), shape });

// ---------------------------------------------------------------- elementwise and broadcasting

test('ops: broadcast binary ops and number literals (float64 and float32)', async () => {
  const rng = new Rng(1);
  const fa = hostF('float64', [2, 3, 4], () => rng.normal());
  const fb = hostF('float64', [3, 1], () => rng.normal());
  const fc = hostF('float64', [1, 4], () => rng.awayFromZero(0.5, 2));
  const fs = hostF('float64', [], () => 1.75);
  const a = o.input('a', [2, 3, 4], 'float64');
  const b = o.input('b', [3, 1], 'float64');
  const c = o.input('c', [1, 4], 'float64');
  const s = o.input('s', [], 'float64');
  const outs = {
    add: o.add(a, b), sub: o.sub(c, a), mul: o.mul(a, s), div: o.div(b, c), pow: o.pow(o.add(o.mul(b, b), 0.5), c),
    addNum: o.add(a, 2), rsubNum: o.sub(1, b), bc: o.mul(b, c),
  };
  assert.deepEqual(outs.add.shape, [2, 3, 4]);
  assert.deepEqual(outs.bc.shape, [3, 4]);
  assert.deepEqual(outs.mul.shape, [2, 3, 4]);
  const r = await run(outs, { a: fa, b: fb, c: fc, s: fs });
  const [A, B, C, S] = [fa, fb, fc, fs].map(toRef) as [Ref, Ref, Ref, Ref];
  assertClose('add', r.add, bmap((x, y) => x + y, A, B), 1e-12);
  assertClose('sub', r.sub, bmap((x, y) => x - y, C, A), 1e-12);
  assertClose('mul', r.mul, bmap((x, y) => x * y, A, S), 1e-12);
  assertClose('div', r.div, bmap((x, y) => x / y, B, C), 1e-12);
  assertClose('pow', r.pow, bmap((x, y) => (x * x + 0.5) ** y, B, C), 1e-10);
  assertClose('addNum', r.addNum, bmap((x) => x + 2, A), 1e-12);
  assertClose('rsubNum', r.rsubNum, bmap((x) => 1 - x, B), 1e-12);
  assertClose('bc', r.bc, bmap((x, y) => x * y, B, C), 1e-12);

  // float32: literals are lifted to float32 scalars.
  const p = o.input('p', [2, 2]);
  const q = o.input('q', [2]);
  const r32 = await run({ y: o.div(o.add(p, q), 4) }, { p: f32([2, 2], [1, 2, 3, 4]), q: f32([2], [10, 20]) });
  assert.ok(r32.y!.data instanceof Float32Array);
  assert.deepEqual(Array.from(r32.y!.data as Float32Array), [11 / 4, 22 / 4, 13 / 4, 24 / 4]);
});

test('ops: elementwise unary ops and composites gelu/rsqrt/square', async () => {
  const vals = [-3, -1.5, -0.5, -0.1, 0, 0.1, 0.5, 1.5, 3];
  const pos = [0.25, 0.5, 1, 2, 4, 9];
  const x = o.input('x', [9], 'float64');
  const p = o.input('p', [6], 'float64');
  const x32 = o.input('x32', [9]);
  const r = await run({
    neg: o.neg(x), exp: o.exp(x), tanh: o.tanh(x), relu: o.relu(x), sigmoid: o.sigmoid(x), square: o.square(x),
    log: o.log(p), sqrt: o.sqrt(p), rsqrt: o.rsqrt(p),
    erf: o.erf(x32), gelu: o.gelu(x32),
  }, { x: f64([9], vals), p: f64([6], pos), x32: f32([9], vals) });
  const X = { data: vals, shape: [9] };
  const P = { data: pos, shape: [6] };
  assertClose('neg', r.neg, bmap((v) => -v, X), 0);
  assertClose('exp', r.exp, bmap(Math.exp, X), 1e-10);
  assertClose('tanh', r.tanh, bmap(Math.tanh, X), 1e-10);
  assertClose('relu', r.relu, bmap((v) => Math.max(v, 0), X), 0);
  assertClose('sigmoid', r.sigmoid, bmap((v) => 1 / (1 + Math.exp(-v)), X), 1e-10);
  assertClose('square', r.square, bmap((v) => v * v, X), 0);
  assertClose('log', r.log, bmap(Math.log, P), 1e-10);
  assertClose('sqrt', r.sqrt, bmap(Math.sqrt, P), 1e-12);
  assertClose('rsqrt', r.rsqrt, bmap((v) => 1 / Math.sqrt(v), P), 1e-12);
  assertClose('erf (float32)', r.erf, bmap(erfRef, X), 1e-6);
  assertClose('gelu (float32)', r.gelu, bmap((v) => 0.5 * v * (1 + erfRef(v / Math.SQRT2)), X), 1e-6);
  assert.equal(o.stopGradient(x).shape, x.shape);
});

test('ops: comparisons, logical ops, where, clamp', async () => {
  const a = o.input('a', [2, 3], 'float64');
  const b = o.input('b', [3], 'float64');
  const i = o.input('i', [4], 'int64');
  const c = o.input('c', [2, 1], 'bool');
  const av = [1, 2, 3, -1, 5, 0.5];
  const bv = [1, 0, 4];
  const lt = o.less(a, b);
  const gt = o.greater(a, b);
  assert.equal(lt.dtype, 'bool');
  const r = await run({
    eq: o.equal(a, b), lt, gt, ieq: o.equal(i, 3), ilt: o.less(i, 2),
    and: o.logicalAnd(o.logicalNot(lt), o.logicalNot(gt)), not: o.logicalNot(c),
    where: o.where(c, a, b), whereNum: o.where(lt, 0, a), whereNum2: o.where(c, a, -1),
    clamp: o.clamp(a, 0.5, 2.5), clampI: o.clamp(i, -1, 2),
  }, { a: f64([2, 3], av), b: f64([3], bv), i: hostI64([4], [-5, 0, 3, 7]), c: hostBool([2, 1], [true, false]) });
  const A = { data: av, shape: [2, 3] };
  const Bv = { data: bv, shape: [3] };
  const C = { data: [1, 0], shape: [2, 1] };
  assertClose('eq', r.eq, bmap((x, y) => +(x === y), A, Bv), 0);
  assertClose('lt', r.lt, bmap((x, y) => +(x < y), A, Bv), 0);
  assertClose('gt', r.gt, bmap((x, y) => +(x > y), A, Bv), 0);
  assert.ok(r.eq!.data instanceof Uint8Array);
  assertClose('ieq', r.ieq, { data: [0, 0, 1, 0], shape: [4] }, 0);
  assertClose('ilt', r.ilt, { data: [1, 1, 0, 0], shape: [4] }, 0);
  assertClose('and', r.and, bmap((x, y) => +(x === y), A, Bv), 0);
  assertClose('not', r.not, { data: [0, 1], shape: [2, 1] }, 0);
  assertClose('where', r.where, bmap((cc, x, y) => (cc ? x : y), C, A, Bv), 0);
  assertClose('whereNum', r.whereNum, bmap((x, y) => (x < y ? 0 : x), A, Bv), 0);
  assertClose('whereNum2', r.whereNum2, bmap((cc, x) => (cc ? x : -1), C, A), 0);
  assertClose('clamp', r.clamp, bmap((x) => Math.min(2.5, Math.max(0.5, x)), A), 0);
  assert.ok(r.clampI!.data instanceof BigInt64Array);
  assertClose('clampI', r.clampI, { data: [-1, 0, 2, 2], shape: [4] }, 0);
});

test('ops: cast between dtypes', async () => {
  const x = o.input('x', [4], 'float64');
  const i = o.input('i', [3], 'int64');
  const m = o.input('m', [3], 'bool');
  assert.equal(o.cast(x, 'float64'), x, 'cast to the same dtype is the identity (no node)');
  const xv = [-1.7, 2.7, 0.1, 1e10];
  const r = await run({
    toI: o.cast(x, 'int64'), to32: o.cast(x, 'float32'), back: o.cast(o.cast(x, 'float32'), 'float64'),
    iTo: o.cast(i, 'float32'), mTo: o.cast(m, 'float64'), toB: o.cast(x, 'bool'),
  }, { x: f64([4], xv), i: hostI64([3], [-2, 0, 9]), m: hostBool([3], [true, false, true]) });
  assert.deepEqual(Array.from(r.toI!.data as BigInt64Array), [-1n, 2n, 0n, 10000000000n], 'float -> int truncates toward zero');
  assert.ok(r.to32!.data instanceof Float32Array);
  assert.deepEqual(Array.from(r.to32!.data as Float32Array), xv.map(Math.fround));
  assert.deepEqual(Array.from(r.back!.data as Float64Array), xv.map(Math.fround));
  assert.deepEqual(Array.from(r.iTo!.data as Float32Array), [-2, 0, 9]);
  assert.deepEqual(Array.from(r.mTo!.data as Float64Array), [1, 0, 1]);
  assert.deepEqual(Array.from(r.toB!.data as Uint8Array), [1, 1, 1, 1]);
});

// ---------------------------------------------------------------- softmax family

test('ops: softmax / logSoftmax are stable for large logits (float32 and float64)', async () => {
  const logits = [1000, 1001, 1002, -1000, -1000, -1000, 0, 0, 1000, -1e4, 0, 1e4];
  for (const dt of ['float32', 'float64'] as const) {
    const x = o.input('x', [4, 3], dt);
    const r = await run({ sm: o.softmax(x), lsm: o.logSoftmax(x, -1), sm0: o.softmax(x, 0), lsm0: o.logSoftmax(x, 0) },
      { x: dt === 'float32' ? f32([4, 3], logits) : f64([4, 3], logits) });
    const X = { data: logits, shape: [4, 3] };
    const tol = dt === 'float32' ? 1e-5 : 1e-12;
    for (const k of ['sm', 'lsm', 'sm0', 'lsm0'] as const) {
      assert.ok(Array.from(r[k]!.data as Float32Array).every(Number.isFinite), `${dt} ${k} has a non-finite value`);
    }
    assertClose(`${dt} softmax`, r.sm, softmaxRef(X, -1, false), tol);
    assertClose(`${dt} logSoftmax`, r.lsm, softmaxRef(X, -1, true), tol);
    assertClose(`${dt} softmax axis 0`, r.sm0, softmaxRef(X, 0, false), tol);
    assertClose(`${dt} logSoftmax axis 0`, r.lsm0, softmaxRef(X, 0, true), tol);
    // Spot values: row 0 is softmax of [0, 1, 2]; row 2's small entries are exactly -1000.
    assert.ok(Math.abs((r.lsm!.data as Float32Array)[2]! - -0.40760596) < 1e-5);
    assert.ok(Math.abs((r.lsm!.data as Float32Array)[6]! - -1000) < 1e-3);
  }
});

// ---------------------------------------------------------------- reductions

test('ops: reductions sum/mean/max with keepdims, negative and multiple axes', async () => {
  const rng = new Rng(3);
  const xv = hostF('float64', [2, 3, 4], () => Math.round(rng.uniform(-50, 50)) / 4);
  const x = o.input('x', [2, 3, 4], 'float64');
  const variants: [string, 'sum' | 'mean' | 'max', number[] | number | undefined, boolean][] = [
    ['sum02', 'sum', [0, 2], false], ['sum02k', 'sum', [0, 2], true], ['sum1', 'sum', 1, false],
    ['sumAll', 'sum', undefined, false], ['sumAllK', 'sum', undefined, true],
    ['mean_1k', 'mean', -1, true], ['mean01', 'mean', [1, 0], false], ['meanAll', 'mean', undefined, false],
    ['max1', 'max', 1, false], ['max_2k', 'max', [-2], true], ['maxAll', 'max', undefined, false], ['max02', 'max', [2, 0, 2], false],
  ];
  const fns = { sum: o.sum, mean: o.mean, max: o.max };
  const outs: Record<string, Tensor> = {};
  for (const [k, kind, axes, keep] of variants) outs[k] = fns[kind](x, axes, keep);
  assert.deepEqual(outs.sum02k!.shape, [1, 3, 1]);
  assert.deepEqual(outs.sumAll!.shape, []);
  assert.deepEqual(outs.sumAllK!.shape, [1, 1, 1]);
  assert.deepEqual(outs.max02!.shape, [3]);
  const r = await run(outs, { x: xv });
  const X = toRef(xv);
  for (const [k, kind, axes, keep] of variants) {
    const ax = axes === undefined ? [0, 1, 2] : Array.isArray(axes) ? [...new Set(axes)] : [axes];
    assertClose(k, r[k], reduceRef(X, ax, keep, kind), 1e-12);
  }
});

test('ops: reducing over an empty axis list is the identity (not a full reduction)', async () => {
  // sum(x, []) names no axis, so nothing is reduced and the IR shape is x's shape. A builder
  // that rejects empty axes with a ShapeError would also be acceptable.
  const x = o.input('x', [2, 3], 'float64');
  const xv = f64([2, 3], [1, 5, 3, 4, 2, 6]);
  for (const [name, f] of [['sum', o.sum], ['mean', o.mean], ['max', o.max]] as const) {
    let y: Tensor;
    try { y = f(x, []); } catch (e) { assert.ok(e instanceof ShapeError, String(e)); continue; }
    const r = await run({ y }, { x: xv });
    assert.deepEqual(r.y!.shape, [...y.shape], `${name}(x, []): IR shape [${y.shape}] but onnxruntime returned [${r.y!.shape}]`);
    assert.deepEqual(Array.from(r.y!.data as Float64Array), [1, 5, 3, 4, 2, 6], `${name}(x, [])`);
  }
});

// ---------------------------------------------------------------- layout

test('ops: reshape with -1 and symbolic dims, one graph at two sizes', async () => {
  const x = o.input('x', ['B', 'T', 4], 'float64');
  const outs = {
    bt: o.reshape(x, ['B*T', 4]),
    inf: o.reshape(x, [-1, 4]),
    flat: o.reshape(x, [-1]),
    half: o.reshape(x, [2, -1]),
    bRest: o.reshape(x, ['B', -1]),
    back: o.reshape(o.reshape(x, [-1]), ['B', 'T', 2, 2]),
  };
  assert.deepEqual(outs.bt.shape, ['B*T', 4]);
  assert.deepEqual(outs.inf.shape, ['B*T', 4]);
  assert.deepEqual(outs.flat.shape, ['4*B*T']);
  assert.deepEqual(outs.half.shape, [2, '2*B*T']);
  assert.deepEqual(outs.bRest.shape, ['B', '4*T']);
  assert.deepEqual(outs.back.shape, ['B', 'T', 2, 2]);
  const g = await compile(outs, opts);
  for (const [B, T] of [[2, 3], [1, 5]] as const) {
    const vals = Array.from({ length: B * T * 4 }, (_, i) => i * 0.5 - 3);
    const r = await g.run({ x: f64([B, T, 4], vals) });
    const want: Record<string, number[]> = {
      bt: [B * T, 4], inf: [B * T, 4], flat: [4 * B * T], half: [2, 2 * B * T], bRest: [B, 4 * T], back: [B, T, 2, 2],
    };
    for (const [k, shape] of Object.entries(want)) {
      assert.deepEqual(r[k]!.shape, shape, `${k} at B=${B}, T=${T}`);
      assert.deepEqual(Array.from(r[k]!.data as Float64Array), vals, `${k} keeps row-major order`);
    }
  }
  // Static reshape.
  const s = o.input('s', [2, 3, 4]);
  assert.deepEqual(o.reshape(s, [4, -1]).shape, [4, 6]);
  assert.deepEqual(o.reshape(s, [-1]).shape, [24]);
});

test('ops: transpose, slice, concat, padAxis, expandLike, reshapeLike', async () => {
  const rng = new Rng(5);
  const xv = hostF('float64', [2, 5, 3], () => Math.round(rng.uniform(-99, 99)));
  const yv = hostF('float64', [2, 2, 3], () => Math.round(rng.uniform(-99, 99)));
  const x = o.input('x', [2, 5, 3], 'float64');
  const y = o.input('y', [2, 2, 3], 'float64');
  const v = o.input('v', [5, 1], 'float64');
  const vv = f64([5, 1], [1, 2, 3, 4, 5]);
  const outs = {
    tDefault: o.transpose(x), tPerm: o.transpose(x, [2, 0, 1]), tId: o.transpose(x, [0, 1, 2]),
    s1: o.slice(x, 1, 1, 4), s2: o.slice(x, -1, 2), s3: o.slice(x, 0, 1, 2),
    c1: o.concat([x, y, x], 1), c2: o.concat([o.slice(x, 1, 0, 2), y], -1),
    pad: o.padAxis(y, 1, 1, 2), expand: o.expandLike(v, x), rl: o.reshapeLike(x, o.transpose(x)),
  };
  assert.deepEqual(outs.tDefault.shape, [2, 3, 5]);
  assert.deepEqual(outs.s2.shape, [2, 5, 1]);
  assert.deepEqual(outs.c1.shape, [2, 12, 3]);
  assert.deepEqual(outs.pad.shape, [2, 5, 3]);
  assert.equal(o.concat([x], 1), x);
  assert.equal(o.padAxis(x, 0, 0, 0), x);
  const r = await run(outs, { x: xv, y: yv, v: vv });
  const X = toRef(xv);
  const Y = toRef(yv);
  assertClose('tDefault', r.tDefault, transposeRef(X, [0, 2, 1]), 0);
  assertClose('tPerm', r.tPerm, transposeRef(X, [2, 0, 1]), 0);
  assertClose('tId', r.tId, X, 0);
  assertClose('s1', r.s1, sliceRef(X, 1, 1, 4), 0);
  assertClose('s2', r.s2, sliceRef(X, -1, 2, 3), 0);
  assertClose('s3', r.s3, sliceRef(X, 0, 1, 2), 0);
  assertClose('c1', r.c1, concatRef([X, Y, X], 1), 0);
  assertClose('c2', r.c2, concatRef([sliceRef(X, 1, 0, 2), Y], 2), 0);
  const zeros = (shape: number[]) => ({ data: new Array<number>(numel(shape)).fill(0), shape });
  assertClose('pad', r.pad, concatRef([zeros([2, 1, 3]), Y, zeros([2, 2, 3])], 1), 0);
  assertClose('expand', r.expand, bmap((_z, a) => a, zeros([2, 5, 3]), toRef(vv)), 0);
  assertClose('reshapeLike', r.rl, { data: X.data, shape: [2, 3, 5] }, 0);
});

test('ops: gather, oneHot, and the scatter-add adjoint', async () => {
  const t = o.input('t', [5, 3], 'float64');
  const t1 = o.input('t1', [6], 'float64');
  const idx = o.input('i', [2, 4], 'int64');
  const tv = Array.from({ length: 15 }, (_, k) => k * 1.5 - 4);
  const t1v = [10, 11, 12, 13, 14, 15];
  const iv = [1, 3, 1, 0, 3, 3, 4, 1];
  const upd = o.input('u', [2, 4, 3], 'float64');
  const uv = Array.from({ length: 24 }, (_, k) => k + 1);
  const outs = {
    g: o.gather(t, idx), g1: o.gather(t1, idx), oh: o.oneHot(idx, 5), oh64: o.oneHot(idx, 5, 'float64'),
    sc: o.scatterAddRows(t, idx, upd),
  };
  assert.deepEqual(outs.g.shape, [2, 4, 3]);
  assert.deepEqual(outs.g1.shape, [2, 4]);
  assert.deepEqual(outs.oh.shape, [2, 4, 5]);
  assert.equal(outs.oh.dtype, 'float32');
  const r = await run(outs, { t: f64([5, 3], tv), t1: f64([6], t1v), i: hostI64([2, 4], iv), u: f64([2, 4, 3], uv) });
  assertClose('gather', r.g, { data: iv.flatMap((k) => tv.slice(3 * k, 3 * k + 3)), shape: [2, 4, 3] }, 0);
  assertClose('gather rank-1', r.g1, { data: iv.map((k) => t1v[k]!), shape: [2, 4] }, 0);
  const oh = { data: iv.flatMap((k) => [0, 1, 2, 3, 4].map((d) => +(d === k))), shape: [2, 4, 5] };
  assertClose('oneHot', r.oh, oh, 0);
  assert.ok(r.oh64!.data instanceof Float64Array);
  assertClose('oneHot float64', r.oh64, oh, 0);
  const sc = new Array<number>(15).fill(0);
  iv.forEach((k, j) => { for (let c = 0; c < 3; c++) sc[3 * k + c]! += uv[3 * j + c]!; });
  assertClose('scatterAddRows (repeated rows accumulate)', r.sc, { data: sc, shape: [5, 3] }, 0);
});

// ---------------------------------------------------------------- matmul

test('ops: matmul batched, broadcast batch dims, rank-2 operands', async () => {
  const rng = new Rng(9);
  const cases: [string, number[], number[], number[]][] = [
    ['batched', [2, 3, 4], [2, 4, 5], [2, 3, 5]],
    ['broadcast', [2, 1, 3, 4], [3, 4, 5], [2, 3, 3, 5]],
    ['weight', [2, 3, 4], [4, 5], [2, 3, 5]],
    ['left2d', [3, 4], [2, 4, 5], [2, 3, 5]],
    ['plain', [3, 4], [4, 2], [3, 2]],
  ];
  const outs: Record<string, Tensor> = {};
  const feeds: Record<string, HostTensor> = {};
  for (const [k, sa, sb, so] of cases) {
    const a = o.input(`${k}_a`, sa, 'float64');
    const b = o.input(`${k}_b`, sb, 'float64');
    outs[k] = o.matmul(a, b);
    assert.deepEqual(outs[k]!.shape, so, k);
    feeds[`${k}_a`] = hostF('float64', sa, () => Math.round(rng.uniform(-9, 9)));
    feeds[`${k}_b`] = hostF('float64', sb, () => Math.round(rng.uniform(-9, 9)));
  }
  const r = await run(outs, feeds);
  for (const [k] of cases) assertClose(k, r[k], matmulRef(toRef(feeds[`${k}_a`]!), toRef(feeds[`${k}_b`]!)), 0);
  // Symbolic batch: one graph, two batch sizes.
  const x = o.input('x', ['B', 'T', 4], 'float64');
  const w = o.input('w', [4, 2], 'float64');
  const y = o.matmul(x, w);
  assert.deepEqual(y.shape, ['B', 'T', 2]);
  const g = await compile({ y }, opts);
  const wv = hostF('float64', [4, 2], () => rng.uniform(-1, 1));
  for (const [B, T] of [[1, 2], [3, 1]]) {
    const xv = hostF('float64', [B!, T!, 4], () => rng.uniform(-1, 1));
    assertClose(`symbolic B=${B} T=${T}`, (await g.run({ x: xv, w: wv })).y, matmulRef(toRef(xv), toRef(wv)), 1e-12);
  }
});

// ---------------------------------------------------------------- composites

test('ops: layerNorm, crossEntropy (masked, and fully masked), tokenLogProbs', async () => {
  const rng = new Rng(11);
  const xv = hostF('float64', [2, 3, 5], () => rng.normal() * 3 + 1);
  const gv = hostF('float64', [5], () => rng.uniform(0.5, 1.5));
  const bv = hostF('float64', [5], () => rng.normal());
  const x = o.input('x', [2, 3, 5], 'float64');
  const gamma = o.input('g', [5], 'float64');
  const beta = o.input('b', [5], 'float64');
  const tv = [4, 0, 2, 2, 1, 3];
  const mv = [1, 0, 1, 1, 0, 1];
  const t = o.input('t', [2, 3], 'int64');
  const m = o.input('m', [2, 3], 'float64');
  const ce = o.crossEntropy(x, t, m);
  assert.deepEqual(ce.shape, []);
  const r = await run({
    ln: o.layerNorm(x, gamma, beta), ce, ceNone: o.crossEntropy(x, t, o.mul(m, 0)), tlp: o.tokenLogProbs(x, t),
  }, { x: xv, g: gv, b: bv, t: hostI64([2, 3], tv), m: f64([2, 3], mv) });
  const X = toRef(xv);
  const mu = reduceRef(X, [2], true, 'mean');
  const cen = bmap((a, b) => a - b, X, mu);
  const va = reduceRef(bmap((a) => a * a, cen), [2], true, 'mean');
  const ln = bmap((c, v, g, b) => (c / Math.sqrt(v + 1e-5)) * g + b, cen, va, toRef(gv), toRef(bv));
  assertClose('layerNorm', r.ln, ln, 1e-12);
  const lsm = softmaxRef(X, -1, true);
  const picked = tv.map((k, j) => lsm.data[5 * j + k]!);
  assertClose('tokenLogProbs', r.tlp, { data: picked, shape: [2, 3] }, 1e-12);
  const want = -picked.reduce((s, p, j) => s + p * mv[j]!, 0) / mv.reduce((a, b) => a + b, 0);
  assertClose('crossEntropy', r.ce, { data: [want], shape: [] }, 1e-12);
  assertClose('crossEntropy with every token masked is 0', r.ceNone, { data: [0], shape: [] }, 0);
});

// ---------------------------------------------------------------- misc

test('ops: constants, scalar outputs and aliased outputs', async () => {
  const x = o.input('x', [2], 'float64');
  const e = o.exp(x);
  const r = await run({
    c: o.scalar(3), ci: o.constant([1, 2, 3], [3], 'int64'), cb: o.constant([1, 0], [2], 'bool'),
    e1: e, e2: e, viaConst: o.add(x, o.constant(new Float64Array([10, 20]), [2], 'float64')),
  }, { x: f64([2], [0, 1]) });
  assert.deepEqual(r.c, { data: Float32Array.of(3), shape: [] });
  assert.deepEqual(Array.from(r.ci!.data as BigInt64Array), [1n, 2n, 3n]);
  assert.deepEqual(Array.from(r.cb!.data as Uint8Array), [1, 0]);
  assert.deepEqual(Array.from(r.e2!.data as Float64Array), Array.from(r.e1!.data as Float64Array));
  assert.deepEqual(Array.from(r.viaConst!.data as Float64Array), [10, 21]);
});

test('ops: constant() with a typed array of another dtype converts or throws, never reinterprets bytes', async () => {
  // Int32Array data for a float32 constant has the same byte width: without a check the
  // bits are reinterpreted (1 -> 1.4e-45). Likewise Float64Array data for int64.
  const cases: [TypedData, 'float32' | 'int64' | 'float64', number[]][] = [
    [new Int32Array([1, 2]), 'float32', [1, 2]],
    [new Float64Array([1, 2]), 'int64', [1, 2]],
    [new Float32Array([1, 2]), 'float64', [1, 2]],
  ];
  for (const [data, dtype, want] of cases) {
    let c: Tensor;
    try { c = o.constant(data, [2], dtype); } catch (e) {
      assert.match(String((e as Error).message), /constant/);
      continue;
    }
    const r = await run({ y: o.add(c, 0) }, {});
    assert.deepEqual(Array.from(r.y!.data as ArrayLike<number | bigint>, Number), want, `${data.constructor.name} as ${dtype}`);
  }
});

// ---------------------------------------------------------------- shape errors

function throwsShape(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ShapeError, `expected a ShapeError, got ${String(e)}`);
    assert.match(e.message, re);
    return true;
  });
}

test('ops: shape and dtype errors name the op and the operand shapes', () => {
  const f = (shape: (number | string)[], dt: 'float32' | 'float64' | 'int64' | 'bool' = 'float32') => o.input('e', shape, dt);
  throwsShape(() => o.matmul(f([2, 3, 4]), f([5, 6])), /^matmul: inner dims 4 and 5 differ \(operands: \[2, 3, 4\] float32, \[5, 6\] float32\)$/);
  throwsShape(() => o.matmul(f([4]), f([4, 2])), /^matmul: operands need rank >= 2 \(operands: \[4\] float32, \[4, 2\] float32\)$/);
  throwsShape(() => o.matmul(f([2, 3, 4]), f([3, 4, 5])), /^matmul: cannot broadcast dim 3 against 2 at axis 0 \(operands: \[2, 3, 4\] float32, \[3, 4, 5\] float32\)$/);
  throwsShape(() => o.matmul(f([2, 3], 'float64'), f([3, 2])), /^matmul: dtypes differ \(operands: \[2, 3\] float64, \[3, 2\] float32\)$/);
  throwsShape(() => o.add(f([2, 3]), f([4])), /^add: cannot broadcast dim 4 against 3 at axis 1 \(operands: \[2, 3\] float32, \[4\] float32\)$/);
  throwsShape(() => o.mul(f(['B', 3]), f(['T', 3])), /^mul: cannot broadcast dim T against B at axis 0 \(operands: \[B, 3\] float32, \[T, 3\] float32\)$/);
  throwsShape(() => o.sub(f([2]), f([2], 'float64')), /^sub: dtypes differ \(operands: \[2\] float32, \[2\] float64\)$/);
  throwsShape(() => o.where(f([2, 1], 'bool'), f([2, 3]), f([4])), /^where: cannot broadcast .*\(operands: \[2, 1\] bool, \[2, 3\] float32, \[4\] float32\)$/);
  throwsShape(() => o.where(f([2]), f([2]), f([2])), /^where: condition must be bool \(operands: \[2\] float32\)$/);
  throwsShape(() => o.reshape(f([2, 3]), [4, 2]), /^reshape: target \[4, 2\] has a different element count \(operands: \[2, 3\] float32\)$/);
  throwsShape(() => o.reshape(f([2, 3]), [-1, 4]), /^reshape: cannot infer -1 in \[-1, 4\] \(operands: \[2, 3\] float32\)$/);
  throwsShape(() => o.reshape(f([2, 3]), [-1, -1]), /^reshape: more than one -1 in target \[-1, -1\] \(operands: \[2, 3\] float32\)$/);
  throwsShape(() => o.reshape(f(['B', 3]), ['T', 3]), /^reshape: target \[T, 3\] has a different element count \(operands: \[B, 3\] float32\)$/);
  throwsShape(() => o.reshape(f(['B', 3]), [-1, 'T']), /^reshape: cannot infer -1 in \[-1, T\] \(operands: \[B, 3\] float32\)$/);
  throwsShape(() => o.transpose(f([2, 3, 4]), [0, 0, 1]), /^transpose: bad permutation \[0,0,1\] \(operands: \[2, 3, 4\] float32\)$/);
  throwsShape(() => o.transpose(f([2, 3]), [1, 0, 2]), /^transpose: bad permutation/);
  throwsShape(() => o.slice(f([2, 5]), 1, 3, 7), /^slice: bounds 3:7 out of range for dim 5 \(operands: \[2, 5\] float32\)$/);
  throwsShape(() => o.slice(f([2, 5]), 2, 0, 1), /^slice: axis 2 out of range for rank 2 \(operands: \[2, 5\] float32\)$/);
  throwsShape(() => o.slice(f(['B', 5]), 0, 1), /^slice: cannot slice symbolic dim B from 1 to its end/);
  throwsShape(() => o.concat([f([2, 3]), f([3, 3])], 1), /^concat: dim 0 differs \(operands: \[2, 3\] float32, \[3, 3\] float32\)$/);
  throwsShape(() => o.concat([f([2, 3]), f([2, 3, 1])], 0), /^concat: ranks differ/);
  throwsShape(() => o.concat([f([2, 'T']), f([2, 3])], 1), /^concat: concat axis 1 must be static/);
  throwsShape(() => o.concat([], 0), /^concat: no operands$/);
  throwsShape(() => o.gather(f([5, 3]), f([2], 'float32')), /^gather: indices must be int64 \(operands: \[5, 3\] float32, \[2\] float32\)$/);
  throwsShape(() => o.gather(f([]), f([2], 'int64')), /^gather: table must have rank >= 1/);
  throwsShape(() => o.oneHot(f([2]), 4), /^one_hot: indices must be int64 \(operands: \[2\] float32\)$/);
  throwsShape(() => o.softmax(f([2, 3]), 2), /^softmax: axis 2 out of range for rank 2 \(operands: \[2, 3\] float32\)$/);
  throwsShape(() => o.logSoftmax(f([2], 'int64')), /^log_softmax: needs a float dtype \(operands: \[2\] int64\)$/);
  throwsShape(() => o.sum(f([2, 3, 4]), [0, 3]), /^reduce_sum: axis 3 out of range for rank 3 \(operands: \[2, 3, 4\] float32\)$/);
  throwsShape(() => o.mean(f([2, 3]), -3), /^reduce_mean: axis -3 out of range for rank 2/);
  throwsShape(() => o.clamp(f([2]), 1, 0), /^clamp: min 1 > max 0 \(operands: \[2\] float32\)$/);
  throwsShape(() => o.exp(f([2], 'int64')), /^exp: needs a float dtype \(operands: \[2\] int64\)$/);
  throwsShape(() => o.pow(f([2], 'int64'), f([2], 'int64')), /^pow: needs a float dtype \(operands: \[2\] int64, \[2\] int64\)$/);
  throwsShape(() => o.logicalAnd(f([2], 'bool'), f([2])), /^and: needs bool operands \(operands: \[2\] bool, \[2\] float32\)$/);
  throwsShape(() => o.logicalNot(f([2])), /^not: needs a bool operand/);
  throwsShape(() => o.expandLike(f([3]), f([2, 4])), /^expand_like: cannot broadcast dim 4 against 3 at axis 1 \(operands: \[3\] float32, \[2, 4\] float32\)$/);
  throwsShape(() => o.padAxis(f(['B', 2]), 0, 1, 1), /^pad_axis: axis 0 must be static \(operands: \[B, 2\] float32\)$/);
  throwsShape(() => o.crossEntropy(f([2, 'V']), f([2], 'int64'), f([2])), /^cross_entropy: vocabulary dim must be static \(operands: \[2, V\] float32\)$/);
  throwsShape(() => o.tokenLogProbs(f([2, 'V']), f([2], 'int64')), /^token_log_probs: vocabulary dim must be static/);
  throwsShape(() => o.constant([1, 2, 3], [2, 2]), /^constant: 3 values do not fill shape \[2, 2\]$/);
  throwsShape(() => o.constant([1], ['B']), /^constant: shape must be static, got \[B\]$/);
  throwsShape(() => o.add(1 as never, 2 as never), /^add: at least one operand must be a tensor$/);
});

test('ops: runtime feed validation errors name the input and the shapes', async () => {
  const x = o.input('x', ['B', 3], 'float64');
  const y = o.input('y', ['B', 2], 'float64');
  const g = await compile({ z: o.add(o.sum(x, 1), o.sum(y, 1)) }, opts);
  const xv = f64([2, 3], [1, 2, 3, 4, 5, 6]);
  const yv = f64([2, 2], [1, 2, 3, 4]);
  assert.deepEqual(Array.from((await g.run({ x: xv, y: yv })).z!.data as Float64Array), [9, 22]);
  await assert.rejects(g.run({ x: xv }), /^Error: run: missing input "y" \(shape \[B,2\], float64\)$/);
  await assert.rejects(g.run({ x: xv, y: yv, w: yv }), /^Error: run: unknown input "w" \(inputs: x, y\)$/);
  await assert.rejects(g.run({ x: f32([2, 3], [1, 2, 3, 4, 5, 6]), y: yv }), /^Error: run: input "x" must be a Float64Array \(float64\), got Float32Array$/);
  await assert.rejects(g.run({ x: f64([2, 4], new Array(8).fill(0)), y: yv }), /^Error: run: input "x" has shape \[2,4\], expected \[B,3\]$/);
  await assert.rejects(g.run({ x: f64([3, 3], new Array(9).fill(0)), y: yv }), /^Error: run: dim "B" is 3 in one input and 2 in "y"$/);
  await assert.rejects(g.run({ x: f64([2, 3], [1, 2, 3]), y: yv }), /^Error: run: input "x" has 3 values for shape \[2,3\]$/);
});

test('a transpose that only moves unit axes is emitted as a reshape, with the same values (symbolic dims too)', async () => {
  assert.equal(movesOnlyUnitAxes([5, 1, 4, 3], [0, 2, 1, 3]), true); // decode's one-token heads split
  assert.equal(movesOnlyUnitAxes(['B', 4, 1, 3], [0, 2, 1, 3]), true);
  assert.equal(movesOnlyUnitAxes([5, 2, 4, 3], [0, 2, 1, 3]), false);
  assert.equal(movesOnlyUnitAxes(['B', 1, 1, 'S'], [0, 1, 3, 2]), true);
  const x = o.input('x', ['B', 1, 4, 3]);
  const outs = { t: o.transpose(x, [0, 2, 1, 3]), u: o.transpose(o.input('y', ['B', 2, 4, 3]), [0, 2, 1, 3]) };
  const ops = new TextDecoder('latin1').decode(emitOnnx(outs).bytes);
  assert.equal(ops.split('Transpose').length - 1, 1, 'only the transpose that moves a non-unit axis stays a Transpose');
  const rng = new Rng(3);
  const xv = hostF('float32', [5, 1, 4, 3], () => rng.uniform(-1, 1));
  const yv = hostF('float32', [5, 2, 4, 3], () => rng.uniform(-1, 1));
  const r = await evaluate(outs, { x: xv, y: yv });
  assert.deepEqual(r.t!.shape, [5, 4, 1, 3]);
  assert.deepEqual([...r.t!.data as Float32Array], [...xv.data as Float32Array]);
  const Y = yv.data as Float32Array;
  const U = r.u!.data as Float32Array;
  for (let b = 0; b < 5; b++) for (let i = 0; i < 2; i++) for (let j = 0; j < 4; j++) for (let k = 0; k < 3; k++) {
    assert.equal(U[((b * 4 + j) * 2 + i) * 3 + k], Y[((b * 2 + i) * 4 + j) * 3 + k]);
  }
});
