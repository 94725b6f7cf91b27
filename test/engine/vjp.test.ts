// Finite-difference checks of every VJP rule in autodiff.ts, plus the composites built on
// them, through the real ONNX lowering and onnxruntime.
//
// Each case checks f(x) = sum(op(x) * R) for a fixed random R: analytic gradients from
// `grad` against central differences of f evaluated through the same compiled forward graph.
// Error metric per input: max|analytic - numeric| / max(1e-6, max|numeric|).
//   float64 cases: h = 1e-5, tolerance TOL64 = 1e-6.
//   float32 cases: h = 1e-2, tolerance TOL32 = 2e-2. Used only where onnxruntime's CPU
//   provider has no double kernel (Erf: "Could not find an implementation for Erf(13)"),
//   i.e. for erf and gelu, and for the float64 -> float32 cast.
// Kinks are avoided by construction: relu inputs have |x| >= 0.1, clamp inputs stay >= 0.05
// from the bounds, reduce_max inputs are distinct with gaps of 0.1 (all >> h).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as o from '../../src/engine/ops.js';
import { VJP_RULES, grad } from '../../src/engine/autodiff.js';
import { compile, evaluate } from '../../src/engine/runtime.js';
import type { Tensor } from '../../src/engine/tensor.js';
import {
  Rng, assertGradClose, checkGrad, hostBool, hostF, hostI64, prepareGradCheck, runGradCheck,
  type FloatDType, type GradInput, type GradSpec,
} from './fd.js';

const TOL64 = 1e-6;
const TOL32 = 2e-2;

/** Ops of VJP_RULES whose rule gives no gradient to any input (by design). */
const NON_DIFFERENTIABLE = ['input', 'constant', 'stop_gradient', 'one_hot', 'equal', 'less', 'greater', 'and', 'not'];

interface Case {
  name: string;
  /** The VJP rules this case must exercise on its differentiated path (verified at run time). */
  covers: string[];
  tol: number;
  spec: (rng: Rng) => GradSpec;
}

// ---------------------------------------------------------------- input generators

type Gen = (rng: Rng, i: number) => number;
const normal: Gen = (r) => r.normal();
const uni = (lo: number, hi: number): Gen => (r) => r.uniform(lo, hi);
const away = (lo: number, hi: number): Gen => (r) => r.awayFromZero(lo, hi);

function fin(rng: Rng, name: string, shape: number[], gen: Gen = normal, dtype: FloatDType = 'float64', extra: Partial<GradInput> = {}): GradInput {
  return { name, value: hostF(dtype, shape, (i) => gen(rng, i)), ...extra };
}

/** Distinct values with pairwise gaps of at least 0.1, so a max never ties or switches. */
function distinct(rng: Rng, name: string, shape: number[]): GradInput {
  const n = shape.reduce((a, b) => a * b, 1);
  const p = rng.perm(n);
  return { name, value: hostF('float64', shape, (i) => (p[i]! - n / 2) * 0.1 + rng.uniform(0, 0.02)) };
}

/** Values in [-1.5, 1.5] at least `gap` away from each clamp bound, with some on each side. */
function clampInput(rng: Rng, name: string, shape: number[], lo: number, hi: number, gap: number): GradInput {
  const forced = [lo - 0.3, (lo + hi) / 2, hi + 0.3];
  return {
    name,
    value: hostF('float64', shape, (i) => {
      if (i < forced.length) return forced[i]!;
      for (;;) {
        const v = rng.uniform(-1.5, 1.5);
        if (Math.abs(v - lo) >= gap && Math.abs(v - hi) >= gap) return v;
      }
    }),
  };
}

const x1 = (f: (x: Tensor) => Tensor) => (x: Record<string, Tensor>) => f(x.x!);
const x2 = (f: (a: Tensor, b: Tensor) => Tensor) => (x: Record<string, Tensor>) => f(x.a!, x.b!);

// ---------------------------------------------------------------- cases

const CASES: Case[] = [];
const add = (c: Case) => CASES.push(c);

// Binary ops with broadcasting (both operands differentiated).
const binShapes: [number[], number[]][] = [[[2, 3, 4], [3, 1]], [[1, 4], [2, 3, 1]], [[2, 3, 4], []], [[], [3, 1]]];
const binOps: [string, (a: Tensor, b: Tensor) => Tensor, Gen, Gen][] = [
  ['add', o.add, normal, normal],
  ['sub', o.sub, normal, normal],
  ['mul', o.mul, normal, normal],
  ['div', o.div, normal, away(0.5, 1.5)],
  ['pow', o.pow, uni(0.5, 2), uni(-1.5, 1.5)],
];
for (const [op, f, ga, gb] of binOps) {
  for (const [sa, sb] of binShapes) {
    add({
      name: `${op} [${sa}] with [${sb}]`, covers: [op], tol: TOL64,
      spec: (rng) => ({ inputs: [fin(rng, 'a', sa, ga), fin(rng, 'b', sb, gb)], build: x2(f) }),
    });
  }
}
add({ name: 'mul and div by number literals', covers: ['mul', 'div'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 4], away(0.5, 2))], build: x1((x) => o.div(2.5, o.mul(x, -1.5))) }) });
add({ name: 'pow with a constant exponent', covers: ['pow'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 4], uni(0.5, 2))], build: x1((x) => o.pow(x, 3)) }) });
add({ name: 'pow with a constant base', covers: ['pow'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 4], uni(-1, 1))], build: x1((x) => o.pow(2, x)) }) });

// Elementwise unary ops.
const unOps: [string, (x: Tensor) => Tensor, Gen, FloatDType][] = [
  ['neg', o.neg, normal, 'float64'],
  ['exp', o.exp, uni(-2, 2), 'float64'],
  ['log', o.log, uni(0.5, 2), 'float64'],
  ['sqrt', o.sqrt, uni(0.5, 2), 'float64'],
  ['tanh', o.tanh, uni(-2, 2), 'float64'],
  ['erf', o.erf, uni(-2, 2), 'float32'], // no double Erf kernel in ORT's CPU provider
  ['relu', o.relu, away(0.1, 2), 'float64'],
  ['sigmoid', o.sigmoid, uni(-3, 3), 'float64'],
];
for (const [op, f, gen, dt] of unOps) {
  add({ name: `${op} (${dt})`, covers: [op], tol: dt === 'float64' ? TOL64 : TOL32,
    spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 4], gen, dt)], build: x1(f) }) });
}

// cast between float dtypes. float32 -> float64: the loss is in double and the gradient is
// R rounded to float32, so 1e-5 is ample. float64 -> float32: the loss is float32, TOL32.
add({ name: 'cast float32 -> float64', covers: ['cast'], tol: 1e-5,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 4], normal, 'float32')], build: x1((x) => o.cast(x, 'float64')) }) });
add({ name: 'cast float64 -> float32', covers: ['cast'], tol: TOL32,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 4], normal)], build: x1((x) => o.cast(x, 'float32')), h: 1e-2 }) });
add({ name: 'cast float64 -> float32 -> float64 inside a double graph', covers: ['cast', 'exp'], tol: TOL32,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 4], uni(-1, 1))], build: x1((x) => o.cast(o.exp(o.cast(x, 'float32')), 'float64')), h: 1e-2 }) });

add({ name: 'clamp (inputs inside and outside, away from the bounds)', covers: ['clamp'], tol: TOL64,
  spec: (rng) => ({ inputs: [clampInput(rng, 'x', [4, 5], -0.5, 0.8, 0.05)], build: x1((x) => o.clamp(x, -0.5, 0.8)) }) });

add({ name: 'where with broadcast condition and branches', covers: ['where'], tol: TOL64,
  spec: (rng) => ({
    inputs: [
      { name: 'c', value: hostBool([2, 1, 4], [1, 0, 1, 1, 0, 0, 1, 0]) },
      fin(rng, 'a', [2, 3, 4]), fin(rng, 'b', [3, 1]),
    ],
    build: (x) => o.where(x.c!, x.a!, x.b!),
  }) });
add({ name: 'where with a number branch and a computed condition', covers: ['where', 'mul'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 4], away(0.1, 2))], build: x1((x) => o.where(o.greater(x, 0), o.mul(x, x), 0)) }) });

// Softmax family.
for (const axis of [-1, 1]) {
  add({ name: `softmax axis ${axis}`, covers: ['softmax'], tol: TOL64,
    spec: (rng) => ({ inputs: [fin(rng, 'x', [2, 3, 5], (r) => 2 * r.normal())], build: x1((x) => o.softmax(x, axis)) }) });
}
for (const axis of [-1, 0]) {
  add({ name: `log_softmax axis ${axis}`, covers: ['log_softmax'], tol: TOL64,
    spec: (rng) => ({ inputs: [fin(rng, 'x', [2, 3, 5], (r) => 2 * r.normal())], build: x1((x) => o.logSoftmax(x, axis)) }) });
}

// Reductions.
const redVariants: [number | number[] | undefined, boolean][] = [[[0, 2], false], [1, true], [undefined, false], [-1, false], [[0, 2], true]];
for (const [op, f] of [['reduce_sum', o.sum], ['reduce_mean', o.mean], ['reduce_max', o.max]] as const) {
  for (const [axes, keep] of redVariants) {
    add({ name: `${op} axes ${JSON.stringify(axes ?? 'all')} keepdims ${keep}`, covers: [op], tol: TOL64,
      spec: (rng) => ({ inputs: [op === 'reduce_max' ? distinct(rng, 'x', [2, 3, 4]) : fin(rng, 'x', [2, 3, 4])], build: x1((x) => f(x, axes, keep)) }) });
  }
}

// Layout ops.
add({ name: 'reshape [2,3,4] -> [4,-1]', covers: ['reshape'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [2, 3, 4])], build: x1((x) => o.reshape(x, [4, -1])) }) });
add({ name: 'reshape [2,3,4] -> [24] -> [3,8]', covers: ['reshape', 'exp'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [2, 3, 4], uni(-1, 1))], build: x1((x) => o.reshape(o.exp(o.reshape(x, [24])), [3, 8])) }) });
add({ name: 'reshape_like [6,4] like [2,3,4]', covers: ['reshape_like'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [6, 4]), fin(rng, 'l', [2, 3, 4], normal, 'float64', { wrt: false })], build: (x) => o.reshapeLike(x.x!, x.l!) }) });
add({ name: 'expand_like [3,1] like [2,3,4]', covers: ['expand_like'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 1]), fin(rng, 'l', [2, 3, 4], normal, 'float64', { wrt: false })], build: (x) => o.expandLike(x.x!, x.l!) }) });
add({ name: 'expand_like [] like [2,3]', covers: ['expand_like'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', []), fin(rng, 'l', [2, 3], normal, 'float64', { wrt: false })], build: (x) => o.expandLike(x.x!, x.l!) }) });
add({ name: 'transpose default (last two axes)', covers: ['transpose'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [2, 3, 4])], build: x1((x) => o.transpose(x)) }) });
add({ name: 'transpose perm [2,0,1]', covers: ['transpose'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [2, 3, 4])], build: x1((x) => o.transpose(x, [2, 0, 1])) }) });
for (const [axis, start, end] of [[1, 1, 4], [-1, 0, 2], [0, 1, 2], [1, 2, undefined]] as [number, number, number | undefined][]) {
  add({ name: `slice axis ${axis} ${start}:${end ?? 'end'}`, covers: ['slice'], tol: TOL64,
    spec: (rng) => ({ inputs: [fin(rng, 'x', [2, 5, 3])], build: x1((x) => o.slice(x, axis, start, end)) }) });
}
for (const [axis, before, after] of [[0, 1, 2], [1, 0, 3], [-1, 2, 0]]) {
  add({ name: `pad_axis axis ${axis} (${before}, ${after})`, covers: ['pad_axis'], tol: TOL64,
    spec: (rng) => ({ inputs: [fin(rng, 'x', [2, 3])], build: x1((x) => o.padAxis(x, axis!, before!, after!)) }) });
}
add({ name: 'concat three operands along axis 1', covers: ['concat'], tol: TOL64,
  spec: (rng) => ({
    inputs: [fin(rng, 'a', [2, 1, 3]), fin(rng, 'b', [2, 3, 3]), fin(rng, 'c', [2, 2, 3])],
    build: (x) => o.concat([x.a!, x.b!, x.c!], 1),
  }) });
add({ name: 'concat of one tensor with itself along axis 0', covers: ['concat', 'tanh'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [2, 3])], build: x1((x) => o.concat([x, o.tanh(x), x], 0)) }) });

// Gather: the gradient w.r.t. the table is a scatter-add; indices repeat (row 3 three times,
// row 1 twice) and row 2 is never read, so it must get exactly zero.
add({ name: 'gather [5,3] table with repeated indices [2,4]', covers: ['gather'], tol: TOL64,
  spec: (rng) => ({
    inputs: [fin(rng, 't', [5, 3]), { name: 'i', value: hostI64([2, 4], [1, 3, 1, 0, 3, 3, 4, 1]) }],
    build: (x) => o.gather(x.t!, x.i!),
  }) });
add({ name: 'gather rank-1 table with repeated indices', covers: ['gather'], tol: TOL64,
  spec: (rng) => ({
    inputs: [fin(rng, 't', [6]), { name: 'i', value: hostI64([5], [2, 2, 2, 5, 0]) }],
    build: (x) => o.gather(x.t!, x.i!),
  }) });
add({ name: 'gather [4,2,3] table with scalar-per-row indices [3]', covers: ['gather'], tol: TOL64,
  spec: (rng) => ({
    inputs: [fin(rng, 't', [4, 2, 3]), { name: 'i', value: hostI64([3], [3, 0, 3]) }],
    build: (x) => o.gather(x.t!, x.i!),
  }) });

// Matmul.
const mmShapes: [string, number[], number[]][] = [
  ['batched', [2, 3, 4], [2, 4, 5]],
  ['broadcast batch dims', [2, 1, 3, 4], [3, 4, 5]],
  ['rank-2 weight fast path [B,T,K]@[K,N]', [2, 3, 4], [4, 5]],
  ['rank-2 weight fast path, rank 4', [2, 2, 3, 4], [4, 2]],
  ['plain 2-D', [3, 4], [4, 2]],
  ['rank-2 left operand broadcast over a batch', [3, 4], [2, 4, 5]],
];
for (const [label, sa, sb] of mmShapes) {
  add({ name: `matmul ${label} [${sa}]@[${sb}]`, covers: ['matmul'], tol: TOL64,
    spec: (rng) => ({ inputs: [fin(rng, 'a', sa), fin(rng, 'b', sb)], build: x2(o.matmul) }) });
}

// Composites.
add({ name: 'gelu (float32)', covers: ['mul', 'add', 'erf'], tol: TOL32,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 4], uni(-3, 3), 'float32')], build: x1(o.gelu) }) });
add({ name: 'rsqrt', covers: ['div', 'sqrt'], tol: TOL64,
  spec: (rng) => ({ inputs: [fin(rng, 'x', [3, 4], uni(0.5, 2))], build: x1(o.rsqrt) }) });
add({ name: 'layerNorm (x, gamma, beta)', covers: ['reduce_mean', 'sub', 'mul', 'add', 'div', 'sqrt'], tol: TOL64,
  spec: (rng) => ({
    inputs: [fin(rng, 'x', [2, 3, 5]), fin(rng, 'g', [5], uni(0.5, 1.5)), fin(rng, 'b', [5])],
    build: (x) => o.layerNorm(x.x!, x.g!, x.b!),
  }) });
add({ name: 'crossEntropy with a mask that zeroes tokens (w.r.t. logits and mask)', covers: ['log_softmax', 'reduce_sum', 'mul', 'div', 'where', 'neg'], tol: TOL64,
  spec: (rng) => ({
    inputs: [
      fin(rng, 'z', [2, 4, 6], (r) => 2 * r.normal()),
      { name: 't', value: hostI64([2, 4], [0, 5, 2, 2, 3, 1, 4, 5]) },
      { name: 'm', value: hostF('float64', [2, 4], (i) => [1, 1, 0, 1, 0, 1, 1, 0][i]!) },
    ],
    build: (x) => o.crossEntropy(x.z!, x.t!, x.m!),
  }) });
add({ name: 'tokenLogProbs', covers: ['log_softmax', 'reduce_sum', 'mul'], tol: TOL64,
  spec: (rng) => ({
    inputs: [fin(rng, 'z', [2, 3, 5], (r) => 2 * r.normal()), { name: 't', value: hostI64([2, 3], [4, 0, 2, 2, 1, 3]) }],
    build: (x) => o.tokenLogProbs(x.z!, x.t!),
  }) });

// ---------------------------------------------------------------- run the cases

CASES.forEach((c, k) => {
  test(`vjp: ${c.name}`, async () => {
    const spec = c.spec(new Rng(1000 + k));
    spec.seed ??= 7 + k;
    const chk = await checkGrad(c.name, spec, c.tol);
    for (const op of c.covers) assert.ok(chk.ops.has(op), `${c.name}: expected op "${op}" on the differentiated path, saw ${[...chk.ops].join(', ')}`);
  });
});

test('vjp coverage: every differentiable rule in VJP_RULES has a finite-difference case', () => {
  const covered = new Set(CASES.flatMap((c) => c.covers));
  // Fused inference kernels have a rule that refuses on purpose (test/engine/fused.test.ts).
  const refusing: readonly string[] = o.FUSED_INFERENCE_OPS;
  const missing = Object.keys(VJP_RULES).filter((k) => !NON_DIFFERENTIABLE.includes(k) && !refusing.includes(k) && !covered.has(k));
  assert.deepEqual(missing, [], `rules without a finite-difference test: ${missing.join(', ')}`);
  const stale = NON_DIFFERENTIABLE.filter((k) => !(k in VJP_RULES));
  assert.deepEqual(stale, [], `listed as non-differentiable but not in VJP_RULES: ${stale.join(', ')}`);
  // The composites are checked too.
  for (const name of ['gelu', 'rsqrt', 'layerNorm', 'crossEntropy', 'tokenLogProbs']) {
    assert.ok(CASES.some((c) => c.name.startsWith(name)), `no case for composite ${name}`);
  }
});

test('vjp: the non-differentiable rules give no gradient to any input', () => {
  const a = o.input('a', [2, 3], 'float64');
  const b = o.input('b', [2, 3], 'float64');
  const ia = o.input('i', [2], 'int64');
  const nodes: Record<string, Tensor> = {
    input: a,
    constant: o.scalar(1, 'float64'),
    stop_gradient: o.stopGradient(a),
    one_hot: o.oneHot(ia, 4, 'float64'),
    equal: o.equal(a, b),
    less: o.less(a, b),
    greater: o.greater(a, b),
    and: o.logicalAnd(o.less(a, b), o.greater(a, b)),
    not: o.logicalNot(o.less(a, b)),
  };
  for (const k of NON_DIFFERENTIABLE) {
    const n = nodes[k]!;
    assert.equal(n.op, k);
    const g = o.input('g', n.shape, 'float64');
    const out = VJP_RULES[k]!(n, g, n.inputs.map(() => true));
    assert.equal(out.length, n.inputs.length, k);
    assert.ok(out.every((x) => x === null), `${k} gave a gradient`);
  }
});

// ---------------------------------------------------------------- structural tests

const f64 = (shape: number[], values: number[]) => ({ data: Float64Array.from(values), shape });

test('vjp: stopGradient gives a zero gradient, and blocks only its own path', async () => {
  const x = o.input('x', [2, 3], 'float64');
  const r = o.input('r', [2, 3], 'float64');
  const [g1] = grad(o.sum(o.mul(o.stopGradient(x), r)), [x]);
  // d/dx sum(x * sg(x)) = sg(x) = x, not 2x.
  const [g2] = grad(o.sum(o.mul(x, o.stopGradient(x))), [x]);
  const xv = [0.5, -1, 2, 3, -0.25, 1.5];
  // g1 no longer reads r (the only path to x is cut), so r is not a graph input.
  assert.deepEqual((await compile({ g1: g1! }, { threads: 1 })).inputNames, ['x']);
  const res = await evaluate({ g1: g1!, g2: g2! }, { x: f64([2, 3], xv) }, { threads: 1 });
  assert.deepEqual(res.g1!.shape, [2, 3]);
  assert.deepEqual(Array.from(res.g1!.data as Float64Array), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(Array.from(res.g2!.data as Float64Array), xv);
});

test('vjp: fan-out accumulates (x used three times), vs FD and the closed form', async () => {
  // y = x * exp(x) + tanh(x): x feeds mul, exp and tanh.
  const rng = new Rng(77);
  const spec: GradSpec = { inputs: [fin(rng, 'x', [3, 4], uni(-1.5, 1.5))], build: x1((x) => o.add(o.mul(x, o.exp(x)), o.tanh(x))), seed: 5 };
  const chk = await prepareGradCheck(spec);
  const res = await runGradCheck(chk);
  assertGradClose('fan-out', res, TOL64);
  // Closed form with R = ones: rerun with a separate graph, d/dx = e^x (1 + x) + 1 - tanh^2 x.
  const x = o.input('x', [3, 4], 'float64');
  const [gx] = grad(o.sum(o.add(o.mul(x, o.exp(x)), o.tanh(x))), [x]);
  const xv = spec.inputs[0]!.value;
  const got = (await evaluate({ gx: gx! }, { x: xv }, { threads: 1 })).gx!.data as Float64Array;
  Array.from(xv.data as Float64Array).forEach((v, i) => {
    const want = Math.exp(v) * (1 + v) + 1 - Math.tanh(v) ** 2;
    assert.ok(Math.abs(got[i]! - want) < 1e-12 * Math.max(1, Math.abs(want)), `element ${i}: ${got[i]} vs ${want}`);
  });
  // The same tensor as both operands of one op: d/dx sum(x * x) = 2x.
  const [g2] = grad(o.sum(o.mul(x, x)), [x]);
  const got2 = (await evaluate({ g2: g2! }, { x: xv }, { threads: 1 })).g2!.data as Float64Array;
  Array.from(xv.data as Float64Array).forEach((v, i) => assert.equal(got2[i], 2 * v));
});

test('vjp: a parameter the loss does not depend on gets zeros of its shape', async () => {
  const x = o.input('x', [2, 3], 'float64');
  const w = o.input('w', [4, 2], 'float64');
  const v = o.input('v', [3], 'float64');
  const loss = o.sum(o.tanh(x));
  const [gx, gw, gv] = grad(loss, [x, w, v]);
  assert.deepEqual(gw!.shape, [4, 2]);
  assert.deepEqual(gv!.shape, [3]);
  const res = await evaluate({ gx: gx!, gw: gw!, gv: gv! }, {
    x: f64([2, 3], [1, 2, 3, 4, 5, 6]), w: f64([4, 2], [1, 1, 1, 1, 1, 1, 1, 1]), v: f64([3], [7, 8, 9]),
  }, { threads: 1 });
  assert.deepEqual(res.gw!.shape, [4, 2]);
  assert.deepEqual(Array.from(res.gw!.data as Float64Array), new Array(8).fill(0));
  assert.deepEqual(Array.from(res.gv!.data as Float64Array), [0, 0, 0]);
  assert.ok(Math.abs((res.gx!.data as Float64Array)[0]! - (1 - Math.tanh(1) ** 2)) < 1e-12);
});

test('vjp: grad through symbolic dims, one compiled graph run at B=3 and B=5', async () => {
  // x [B,2,4] @ W [4,3] (rank-2 weight fast path with a symbolic batch), a reshape through
  // the symbolic '6*B', a mean over the symbolic axis (run-time count) and a softmax.
  const build = (x: Record<string, Tensor>) => {
    const h = o.tanh(o.matmul(x.x!, x.w!));                          // [B,2,3]
    const flat = o.reshape(h, [-1]);                                  // [6*B]
    assert.deepEqual(flat.shape, ['6*B']);
    const back = o.reshape(flat, ['B', 2, 3]);
    const centered = o.sub(back, o.mean(back, [0, 1], true));         // mean over B*2 rows
    const scale = o.reshape(o.mean(x.x!, [0, 2]), [2, 1]);            // mean over a symbolic axis
    return o.softmax(o.add(o.mul(centered, scale), o.max(x.x!, 2, true)), -1);
  };
  const rng = new Rng(4242);
  const mk = (B: number) => ({ data: Float64Array.from({ length: B * 8 }, () => rng.normal()), shape: [B, 2, 4] });
  const x3 = mk(3);
  const spec: GradSpec = {
    inputs: [
      { name: 'x', dims: ['B', 2, 4], value: x3 },
      fin(rng, 'w', [4, 3]),
    ],
    build,
    seed: 99,
  };
  const chk = await prepareGradCheck(spec);
  assert.deepEqual(chk.y.shape, ['B', 2, 3]);
  for (const op of ['matmul', 'reshape', 'reduce_mean', 'reduce_max', 'softmax']) assert.ok(chk.ops.has(op), op);
  assertGradClose('symbolic B=3', await runGradCheck(chk), TOL64);
  const r5 = await runGradCheck(chk, { x: mk(5) });
  assert.equal(r5.analytic.x!.length, 40);
  assertGradClose('symbolic B=5', r5, TOL64);
});

test('vjp: reduce_max ties share the gradient equally (documented subgradient)', async () => {
  const x = o.input('x', [2, 3], 'float64');
  const [gx] = grad(o.sum(o.mul(o.max(x, 1), o.constant([2, 3], [2], 'float64'))), [x]);
  const res = await evaluate({ gx: gx! }, { x: f64([2, 3], [1, 1, 0, 5, 5, 5]) }, { threads: 1 });
  assert.deepEqual(Array.from(res.gx!.data as Float64Array), [1, 1, 0, 1, 1, 1]);
});

test('vjp: gradients of a float32 graph stay float32 (and a recompile reuses the session)', async () => {
  const x = o.input('x', [2, 3]);
  const w = o.input('w', [3, 2]);
  const loss = o.mean(o.sigmoid(o.matmul(x, w)));
  const [gx, gw] = grad(loss, [x, w]);
  assert.equal(gx!.dtype, 'float32');
  assert.equal(gw!.dtype, 'float32');
  const g = await compile({ loss, gx: gx!, gw: gw! }, { threads: 1 });
  const again = await compile({ loss, gx: gx!, gw: gw! }, { threads: 1 });
  assert.deepEqual(again.outputNames, g.outputNames);
  const res = await g.run({ x: { data: new Float32Array([1, 2, 3, 4, 5, 6]), shape: [2, 3] }, w: { data: new Float32Array(6).fill(0), shape: [3, 2] } });
  assert.ok(res.gw!.data instanceof Float32Array);
  // With w = 0 every sigmoid is 1/2 with slope 1/4, and the mean divides by 4: gw = x^T · 1/16.
  assert.deepEqual(Array.from(res.gw!.data as Float32Array), [5, 5, 7, 7, 9, 9].map((v) => v / 16));
});

test('vjp: second-order gradients (grad of grad) match finite differences of the gradient', async () => {
  // build(x) = d/dx of an inner scalar; its own gradient is then a Hessian-vector product,
  // which exercises the VJP rules applied to the IR that VJP rules produced.
  const rng = new Rng(31337);
  const C = (shape: number[]) => o.constant(Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1)), shape, 'float64');
  const cMm = C([2, 3, 2]);
  const cSm = C([2, 4]);
  const cLn = C([2, 5]);
  const cases: [string, GradSpec][] = [
    ['tanh(matmul) w.r.t. a and b', {
      inputs: [fin(rng, 'a', [2, 3, 4]), fin(rng, 'b', [4, 2])],
      build: (x) => grad(o.sum(o.mul(o.tanh(o.matmul(x.a!, x.b!)), cMm)), [x.a!])[0]!,
    }],
    ['softmax and log_softmax', {
      inputs: [fin(rng, 'x', [2, 4])],
      build: (x) => grad(o.sum(o.mul(o.add(o.softmax(x.x!), o.logSoftmax(x.x!, 0)), cSm)), [x.x!])[0]!,
    }],
    ['layerNorm', {
      inputs: [fin(rng, 'x', [2, 5]), fin(rng, 'g', [5], uni(0.5, 1.5))],
      build: (x) => grad(o.sum(o.mul(o.layerNorm(x.x!, x.g!, o.scalar(0, 'float64')), cLn)), [x.x!])[0]!,
    }],
    ['slice / concat / pad / reduce_max / sigmoid / div', {
      inputs: [distinct(rng, 'x', [3, 4])],
      build: (x) => {
        const inner = o.div(o.sigmoid(o.concat([o.slice(x.x!, 1, 1, 3), o.max(x.x!, 1, true), o.slice(x.x!, 1, 0, 1)], 1)), o.add(o.exp(x.x!), 1));
        return grad(o.sum(o.mul(inner, o.padAxis(o.slice(inner, 1, 0, 2), 1, 0, 2))), [x.x!])[0]!;
      },
    }],
  ];
  for (const [label, spec] of cases) await checkGrad(`second order: ${label}`, { ...spec, seed: 3 }, TOL64);
});

test('vjp: grad rejects a non-scalar loss and an op without a rule', () => {
  const x = o.input('x', [2, 3], 'float64');
  assert.throws(() => grad(o.tanh(x), [x]), /^Error: grad: loss must be a scalar, got shape \[2,3\]$/);
  // scatter_add_rows is a gradient-only primitive with no VJP rule of its own.
  const t = o.input('t', [4, 3], 'float64');
  const y = o.scatterAddRows(t, o.constant([1, 1], [2], 'int64'), x);
  assert.throws(() => grad(o.sum(y), [x]), /grad: no VJP rule for op "scatter_add_rows"/);
});

test('vjp: a symbolic [B,T] training-style loss (embedding, layerNorm, attention, crossEntropy) at two sizes', async () => {
  const rng = new Rng(2024);
  const V = 7;
  const D = 4;
  const ids = (B: number, T: number) => hostI64([B, T], Array.from({ length: B * T }, () => rng.int(V)));
  const mask = (B: number, T: number) => hostF('float64', [B, T], (i) => (i % 3 === 2 ? 0 : 1));
  const spec: GradSpec = {
    inputs: [
      fin(rng, 'emb', [V, D]), fin(rng, 'g', [D], uni(0.5, 1.5)), fin(rng, 'b', [D]), fin(rng, 'w', [D, V]),
      { name: 'ids', dims: ['B', 'T'], value: ids(2, 3) },
      { name: 'tgt', dims: ['B', 'T'], value: ids(2, 3) },
      { name: 'mask', dims: ['B', 'T'], wrt: false, value: mask(2, 3) },
    ],
    build: (x) => {
      const h = o.layerNorm(o.gather(x.emb!, x.ids!), x.g!, x.b!);
      const scores = o.div(o.matmul(h, o.transpose(h)), Math.sqrt(D));
      const ctx = o.matmul(o.softmax(scores, -1), h);
      const logits = o.matmul(o.tanh(o.add(h, ctx)), x.w!);
      return o.crossEntropy(logits, x.tgt!, x.mask!);
    },
    seed: 8,
  };
  const chk = await prepareGradCheck(spec);
  assert.deepEqual(chk.y.shape, []);
  assertGradClose('symbolic loss B=2 T=3', await runGradCheck(chk), TOL64);
  assertGradClose('symbolic loss B=1 T=5', await runGradCheck(chk, { ids: ids(1, 5), tgt: ids(1, 5), mask: mask(1, 5) }), TOL64);
});
