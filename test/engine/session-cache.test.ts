// The runtime keeps at most $IVR_ORT_MAX_SESSIONS onnxruntime sessions open, evicting the
// least recently used idle one; a graph whose session was evicted re-opens it on its next
// run and computes the same thing. Sessions in use are never closed under a run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as o from '../../src/engine/ops.js';
import { compile, sessionStats } from '../../src/engine/runtime.js';

test('session cache: bounded by IVR_ORT_MAX_SESSIONS, LRU eviction, evicted graphs re-open and agree', async () => {
  const before = process.env.IVR_ORT_MAX_SESSIONS;
  process.env.IVR_ORT_MAX_SESSIONS = '2';
  try {
    // Three distinct graphs (y = x·k + k for k = 1, 2, 3).
    const graphs = await Promise.all([1, 2, 3].map((k) => compile({ y: o.add(o.mul(o.input('x', [4]), k), k) }, { threads: 1 })));
    const x = { x: { data: Float32Array.from([1, 2, 3, 4]), shape: [4] } };
    const first = await graphs[0]!.run(x);
    assert.ok(sessionStats().open <= 2, `open ${sessionStats().open}`);
    const evictedBefore = sessionStats().evicted;
    await graphs[1]!.run(x);
    await graphs[2]!.run(x); // evicts graph 0's session, the least recently used
    assert.ok(sessionStats().evicted > evictedBefore);
    assert.ok(sessionStats().open <= 2);
    const openedBefore = sessionStats().opened;
    const again = await graphs[0]!.run(x);
    assert.equal(sessionStats().opened, openedBefore + 1, 'graph 0 re-opened its session');
    assert.deepEqual([...again.y!.data], [...first.y!.data]);
    assert.deepEqual([...first.y!.data], [2, 3, 4, 5]);
    // Concurrent runs of more graphs than the budget all complete (none is closed mid-run).
    const outs = await Promise.all(graphs.flatMap((g) => [g.run(x), g.run(x)]));
    outs.forEach((r, i) => assert.equal((r.y!.data as Float32Array)[0], 2 * (Math.floor(i / 2) + 1)));
  } finally {
    if (before === undefined) delete process.env.IVR_ORT_MAX_SESSIONS;
    else process.env.IVR_ORT_MAX_SESSIONS = before;
  }
});

test('session cache: a graph compiled with the arena is its own session and computes the same', async () => {
  const y = o.add(o.mul(o.input('x', ['N']), 7), 5);
  const openedBefore = sessionStats().opened;
  const plain = await compile({ y }, { threads: 1 });
  const arena = await compile({ y }, { threads: 1, arena: true });
  assert.equal(sessionStats().opened, openedBefore + 2);
  for (const n of [3, 5, 3]) {
    const x = { x: { data: Float32Array.from({ length: n }, (_, i) => i / 3), shape: [n] } };
    assert.deepEqual([...(await arena.run(x)).y!.data], [...(await plain.run(x)).y!.data]);
  }
});
