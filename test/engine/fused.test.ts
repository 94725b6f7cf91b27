// The fused inference kernels (ops.ts: fusedLayerNorm → LayerNormalization, biasGelu →
// com.microsoft BiasGelu): the same function as the composites they replace (float32,
// within 1e-5), shape errors that name the op, and no gradient: grad() through one is an
// error that names it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as o from '../../src/engine/ops.js';
import { ShapeError } from '../../src/engine/ops.js';
import { grad } from '../../src/engine/autodiff.js';
import { emitOnnx } from '../../src/engine/onnx/emit.js';
import { evaluate } from '../../src/engine/runtime.js';
import { Rng, hostF } from './fd.js';

const opts = { threads: 1 };

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

test('fusedLayerNorm computes layerNorm (symbolic batch, last axis)', async () => {
  const rng = new Rng(1);
  const x = o.input('x', ['B', 5, 16]);
  const g = o.input('g', [16]);
  const b = o.input('b', [16]);
  const feeds = { x: hostF('float32', [3, 5, 16], () => rng.normal() * 3 + 1), g: hostF('float32', [16], () => rng.normal()), b: hostF('float32', [16], () => rng.normal()) };
  const out = await evaluate({ plain: o.layerNorm(x, g, b), fused: o.fusedLayerNorm(x, g, b) }, feeds, opts);
  assert.deepEqual(out.fused!.shape, [3, 5, 16]);
  assert.ok(maxAbsDiff(out.plain!.data as Float32Array, out.fused!.data as Float32Array) < 1e-5);
});

test('biasGelu computes gelu(x + bias) (exact GELU)', async () => {
  const rng = new Rng(2);
  const x = o.input('x', ['B', 4, 32]);
  const bias = o.input('bias', [32]);
  const feeds = { x: hostF('float32', [2, 4, 32], () => rng.normal() * 2), bias: hostF('float32', [32], () => rng.normal()) };
  const out = await evaluate({ plain: o.gelu(o.add(x, bias)), fused: o.biasGelu(x, bias) }, feeds, opts);
  assert.ok(maxAbsDiff(out.plain!.data as Float32Array, out.fused!.data as Float32Array) < 1e-5);
});

test('a graph with a contrib kernel imports the com.microsoft domain; one without does not', () => {
  const x = o.input('x', [2, 8]);
  const has = (bytes: Uint8Array) => Buffer.from(bytes).includes(Buffer.from('com.microsoft'));
  assert.ok(has(emitOnnx({ y: o.biasGelu(x, o.input('b', [8])) }).bytes));
  assert.ok(!has(emitOnnx({ y: o.gelu(x) }).bytes));
});

test('fused kernels check their operands', () => {
  const x = o.input('x', ['B', 8]);
  assert.throws(() => o.fusedLayerNorm(x, o.input('g', [4]), o.input('b', [8])), (e: unknown) => e instanceof ShapeError && /fused_layer_norm: gamma and beta must be \[8\]/.test(e.message));
  assert.throws(() => o.biasGelu(x, o.input('b', [2, 8])), (e: unknown) => e instanceof ShapeError && /bias_gelu: bias must be/.test(e.message));
  assert.throws(() => o.biasGelu(o.input('x64', [2, 8], 'float64'), o.input('b64', [8], 'float64')), /bias_gelu: needs float32/);
});

test('differentiating through a fused kernel is an error that names it', () => {
  const w = o.input('w', [8]);
  const x = o.input('x', [2, 8]);
  const g = o.input('g', [8]);
  assert.throws(() => grad(o.sum(o.biasGelu(x, w)), [w]), /grad: "bias_gelu" .* fused onnxruntime inference kernel and has no gradient/);
  assert.throws(() => grad(o.sum(o.fusedLayerNorm(x, g, w)), [g]), /grad: "fused_layer_norm" .* no gradient/);
  // Where no gradient has to flow through it, a fused kernel is no obstacle.
  const [gw] = grad(o.sum(o.add(o.mul(x, w), o.stopGradient(o.biasGelu(x, g)))), [w]);
  assert.deepEqual(gw!.shape, [8]);
});
