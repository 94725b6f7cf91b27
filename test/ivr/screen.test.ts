// IVR-R1 screening (DESIGN §7.1): flagged = policy rollouts with reward < τ; groups visited in
// order of success rate (all-fail first, ties in rollout order); one flagged rollout per group
// per pass; at most M chosen.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { rewardScreen } from '../../src/ivr/screen.js';
import type { Group, Sample } from '../../src/rl/rollout.js';
import { fakeGroup, fakeSample } from '../helpers/rl-fixtures.js';

const TAU = 0.5;
const ok = () => fakeSample('policy', 1.1, 1);
const bad = (r = 0) => fakeSample('policy', r, 0);

/** Index of each chosen group / sample in the input, for readable assertions. */
function picks(groups: Group[], chosen: { group: Group; sample: Sample }[]): [number, number][] {
  return chosen.map((c) => [groups.indexOf(c.group), c.group.samples.indexOf(c.sample)]);
}

test('groups are visited all-fail first, then by success rate ascending, ties in rollout order', () => {
  const groups = [
    fakeGroup([ok(), bad(), ok(), bad()]), // 0: rate 0.5
    fakeGroup([bad(), bad(0.1), bad(), bad()]), // 1: rate 0
    fakeGroup([ok(), ok(), ok(), bad()]), // 2: rate 0.75
    fakeGroup([bad(0.1), ok(), bad(), bad()]), // 3: rate 0.25
    fakeGroup([bad(), bad(), bad(), bad()]), // 4: rate 0
    fakeGroup([ok(), ok(), ok(), ok()]), // 5: nothing flagged
    fakeGroup([bad(), ok(), bad(), ok()]), // 6: rate 0.5 (ties with 0, comes after it)
  ];
  const { flagged, chosen } = rewardScreen.select(groups, TAU, 5);
  assert.equal(flagged, 2 + 4 + 1 + 3 + 4 + 0 + 2);
  // First pass: 1, 4 (all-fail, in order), 3 (0.25), 0, 6 (0.5); cap 5 reached before 2.
  assert.deepEqual(picks(groups, chosen), [[1, 0], [4, 0], [3, 0], [0, 1], [6, 0]]);
});

test('one flagged rollout per group per pass: M spreads over groups before any gets a second', () => {
  const groups = [
    fakeGroup([bad(), bad(), bad()]), // 0: rate 0, flagged 0,1,2
    fakeGroup([ok(), bad(), ok()]), // 1: rate 2/3, flagged 1
    fakeGroup([bad(), ok(), bad()]), // 2: rate 1/3, flagged 0,2
  ];
  const order = [[0, 0], [2, 0], [1, 1], [0, 1], [2, 2], [0, 2]];
  for (let M = 0; M <= 8; M++) {
    const { flagged, chosen } = rewardScreen.select(groups, TAU, M);
    assert.equal(flagged, 6, 'flagged counts every flagged rollout, regardless of M');
    assert.deepEqual(picks(groups, chosen), order.slice(0, M), `M = ${M}`);
  }
});

test('reward >= τ is never flagged (boundary included), whatever the accuracy', () => {
  const atTau = fakeSample('policy', TAU, 0);
  const above = fakeSample('policy', TAU + 1e-9, 0);
  const below = fakeSample('policy', TAU - 1e-9, 0);
  const correctButLow = fakeSample('policy', 1.0, 1); // accuracy 1, reward below a high τ
  const g = fakeGroup([atTau, above, below, correctButLow]);
  const r = rewardScreen.select([g], TAU, 10);
  assert.equal(r.flagged, 1);
  assert.deepEqual(r.chosen.map((c) => c.sample), [below]);
  // With τ = 1.05 the correct-but-unformatted rollout (reward 1.0) is flagged too.
  const r2 = rewardScreen.select([g], 1.05, 10);
  assert.deepEqual(r2.chosen.map((c) => c.sample), [atTau, above, below, correctButLow]);
  // τ = 0: nothing can be flagged (rewards are >= 0).
  assert.deepEqual(rewardScreen.select([g], 0, 10), { flagged: 0, chosen: [] });
});

test('non-policy samples (gold, rectified) are never flagged and do not count in the success rate', () => {
  const gold = fakeSample('gold', 0, 0); // a gold sample with reward 0 (never happens, but must not be flagged)
  const rect = fakeSample('rectified', 0.1, 0);
  const goodGold = fakeSample('gold', 1.1, 1);
  const groups = [
    fakeGroup([ok(), bad()]), // 0: rate 0.5
    fakeGroup([bad(), goodGold, bad()]), // 1: policy rate 0 (the gold's success does not count)
    fakeGroup([gold, rect]), // 2: no policy samples: nothing flagged
    fakeGroup([rect, bad(), gold]), // 3: rate 0, flagged = the policy one only
  ];
  const { flagged, chosen } = rewardScreen.select(groups, TAU, 10);
  assert.equal(flagged, 1 + 2 + 0 + 1);
  assert.deepEqual(picks(groups, chosen), [[1, 0], [3, 1], [0, 1], [1, 2]]);
  for (const c of chosen) assert.equal(c.sample.kind, 'policy');
});

test('property: matches a reference implementation of the spec on random batches', () => {
  const sampleArb = fc.record({
    kind: fc.constantFrom('policy', 'policy', 'policy', 'gold', 'rectified' as const),
    reward: fc.constantFrom(0, 0.1, 0.5, 1, 1.1),
  });
  const batchArb = fc.array(fc.array(sampleArb, { minLength: 0, maxLength: 6 }), { minLength: 0, maxLength: 8 });
  fc.assert(fc.property(batchArb, fc.nat({ max: 12 }), fc.constantFrom(0.5, 1.05, 0.1), (spec, M, tau) => {
    const groups = spec.map((ss) => fakeGroup(ss.map((s) => fakeSample(s.kind as Sample['kind'], s.reward, s.reward >= 1 ? 1 : 0))));
    const { flagged, chosen } = rewardScreen.select(groups, tau, M);
    // Reference: rate over policy samples; stable sort; round-robin passes.
    const info = groups.map((g, i) => {
      const pol = g.samples.filter((s) => s.kind === 'policy');
      return { g, i, rate: pol.length ? pol.filter((s) => s.accuracy > 0).length / pol.length : 0, fl: pol.filter((s) => s.reward < tau) };
    }).filter((x) => x.fl.length > 0);
    const sorted = [...info].sort((a, b) => (a.rate !== b.rate ? a.rate - b.rate : a.i - b.i));
    const want: Sample[] = [];
    for (let pass = 0; pass < 6; pass++) for (const q of sorted) if (q.fl[pass]) want.push(q.fl[pass]!);
    assert.equal(flagged, info.reduce((a, q) => a + q.fl.length, 0));
    assert.deepEqual(chosen.map((c) => c.sample), want.slice(0, M));
    for (const c of chosen) {
      assert.ok(c.group.samples.includes(c.sample), 'chosen sample belongs to its group');
      assert.equal(c.sample.kind, 'policy');
      assert.ok(c.sample.reward < tau);
    }
    assert.equal(new Set(chosen.map((c) => c.sample)).size, chosen.length, 'no rollout chosen twice');
  }), { numRuns: 400, seed: 7 });
});

test('does not mutate the groups', () => {
  const groups = [fakeGroup([bad(), ok()]), fakeGroup([bad(), bad()])];
  const before = groups.map((g) => [...g.samples]);
  rewardScreen.select(groups, TAU, 3);
  groups.forEach((g, i) => assert.deepEqual(g.samples, before[i]));
});
