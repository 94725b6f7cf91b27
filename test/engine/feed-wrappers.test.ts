// CompiledGraph.run serves an input's onnxruntime wrapper from its last run while the feed is
// the same array with the same shape (runtime.ts). The wrapper holds the array, not a copy:
// contents changed in place between runs must be what the next run reads, and a different
// array or shape must never be answered from the cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as o from '../../src/engine/ops.js';
import { compile, type HostTensor } from '../../src/engine/runtime.js';

test('feed wrappers: in-place changes are seen; another array, view or shape is not served from the cache', async () => {
  const x = o.input('x', ['B', 'N']);
  const idx = o.input('idx', ['K'], 'int64');
  const g = await compile({ y: o.mul(x, 2), picked: o.gather(o.constant([10, 20, 30, 40], [4]), idx) }, { threads: 1 });
  const data = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const ids = BigInt64Array.from([0n, 1n]);
  const feeds: Record<string, HostTensor> = { x: { data, shape: [2, 3] }, idx: { data: ids, shape: [2] } };
  const run = async () => {
    const r = await g.run(feeds);
    return { y: [...r.y!.data as Float32Array], shape: r.y!.shape, picked: [...r.picked!.data as BigInt64Array].map(Number) };
  };
  assert.deepEqual(await run(), { y: [2, 4, 6, 8, 10, 12], shape: [2, 3], picked: [10, 20] });
  // The same arrays and shapes, changed in place.
  data.set([7, 8, 9], 0);
  ids[1] = 3n;
  assert.deepEqual(await run(), { y: [14, 16, 18, 8, 10, 12], shape: [2, 3], picked: [10, 40] });
  // The same array under another shape of the same size (the shape array changed in place too).
  feeds.x!.shape[0] = 3;
  feeds.x!.shape[1] = 2;
  assert.deepEqual((await run()).shape, [3, 2]);
  feeds.x = { data, shape: [1, 6] };
  assert.deepEqual((await run()).shape, [1, 6]);
  // Another array with the same shape and a view of the first one's buffer.
  feeds.x = { data: Float32Array.from([1, 1, 1, 1, 1, 1]), shape: [1, 6] };
  assert.deepEqual((await run()).y, [2, 2, 2, 2, 2, 2]);
  feeds.x = { data: data.subarray(3), shape: [1, 3] };
  assert.deepEqual((await run()).y, [8, 10, 12]);
  feeds.x = { data: data.subarray(0, 3), shape: [1, 3] };
  assert.deepEqual((await run()).y, [14, 16, 18]);
  // Validation still applies to a feed whose wrapper is cached.
  await assert.rejects(g.run({ ...feeds, x: { data, shape: [2, 2] } }), /^Error: run: input "x" has 6 values for shape \[2,2\]$/);
});
