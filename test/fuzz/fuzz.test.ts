// Every fuzz target at a small budget (issue #27): zero failures. The full runs are
// `npm run fuzz -- --runs N` (scripts/fuzz.mjs); a failure there prints its input, which
// belongs here as a regression test in regressions.test.ts once fixed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTarget, summaryLine } from './harness.js';
import { TARGETS } from './targets.js';

const RUNS = Number(process.env.IVR_FUZZ_RUNS ?? 150);
const SEED = Number(process.env.IVR_FUZZ_SEED ?? 20270);

for (const t of TARGETS) {
  test(`fuzz ${t.name}: ${RUNS} inputs, no failures`, async () => {
    const r = await runTarget(t, RUNS, SEED);
    assert.equal(r.inputs, RUNS);
    assert.equal(r.failures, 0, `${summaryLine(r)}\n${r.examples.map((e) => `input #${e.index}: ${e.error}\n  ${e.input}`).join('\n')}`);
  });
}
