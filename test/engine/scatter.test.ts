// scatter_add_rows (the gather VJP: embedding gradients) must sum every update, also for
// repeated indices at several threads. onnxruntime's ScatterND(add) lost updates there
// (1 run in 15 at 2 threads under load), so the op is lowered as one-hot(idx)ᵀ·updates;
// this test pins the result to an exact host sum, run after run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as o from '../../src/engine/ops.js';
import { evaluate } from '../../src/engine/runtime.js';
import { Rng } from '../../src/util/rng.js';

test('scatter_add_rows: repeated indices at 2 threads equal the exact sum, identically every run', async () => {
  const V = 112, D = 128, N = 32 * 96;
  const out = o.scatterAddRows(o.input('table', [V, D]), o.input('idx', [N], 'int64'), o.input('upd', [N, D]));
  const rng = new Rng(7);
  const ids = BigInt64Array.from({ length: N }, () => BigInt(rng.nextU32() % 20)); // 20 rows hit ~150 times each
  const upd = Float32Array.from({ length: N * D }, () => rng.float() - 0.5);
  const exact = new Float64Array(V * D);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) exact[Number(ids[i]) * D + d] += upd[i * D + d]!;
  let first: Float32Array | null = null;
  for (let rep = 0; rep < 8; rep++) {
    const y = (await evaluate({ out }, { idx: { data: ids, shape: [N] }, upd: { data: upd, shape: [N, D] } }, { threads: 2 })).out!.data as Float32Array;
    let err = 0;
    for (let i = 0; i < y.length; i++) err = Math.max(err, Math.abs(y[i]! - exact[i]!));
    assert.ok(err < 1e-4, `run ${rep}: max error ${err} against the exact sum`);
    if (first) assert.deepEqual(y, first, `run ${rep} differs from run 0`);
    else first = new Float32Array(y);
  }
});
