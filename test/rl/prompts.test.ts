// The RL prompt stream: filters by family and horizon, the horizon curriculum, and that the
// unfiltered stream is unchanged (resumed runs draw the same prompts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  curriculumMaxHorizon, drawPrompts, horizonRange, rlPrompt, unfilteredStreamState, type PromptFilter, type PromptStreamState,
} from '../../src/rl/prompts.js';
import { FAMILY_IDS, type FamilyId } from '../../src/tasks/index.js';

const ALL: PromptFilter = { families: FAMILY_IDS, min_horizon: null, max_horizon: null, curriculum: null };

test('unfiltered: drawPrompts reproduces rlPrompt, in batches of any size', () => {
  const state: PromptStreamState = unfilteredStreamState(0, FAMILY_IDS);
  const drawn = [...drawPrompts(state, 5, FAMILY_IDS, (f) => horizonRange(f, ALL, 0)), ...drawPrompts(state, 7, FAMILY_IDS, (f) => horizonRange(f, ALL, 0))];
  assert.deepEqual(drawn.map((i) => i.id), Array.from({ length: 12 }, (_, k) => rlPrompt(k, FAMILY_IDS).id));
  assert.equal(state.next, 12);
  // The state after 12 draws equals the one derived from the counter (old checkpoints).
  assert.deepEqual(unfilteredStreamState(12, FAMILY_IDS), state);
  assert.deepEqual(unfilteredStreamState(4, FAMILY_IDS).cursors, { grid: 2, shapes: 1, chart: 1 });
});

test('filters: only the chosen families, only horizons in range, no instance twice', () => {
  const filter: PromptFilter = { families: ['shapes', 'grid'], min_horizon: 3, max_horizon: 4, curriculum: null };
  const state = unfilteredStreamState(0, filter.families);
  const insts = drawPrompts(state, 40, filter.families, (f) => horizonRange(f, filter, 0));
  assert.deepEqual(insts.slice(0, 4).map((i) => i.family), ['shapes', 'grid', 'shapes', 'grid']);
  for (const i of insts) assert.ok(i.horizon >= 3 && i.horizon <= 4 && i.split === 'train', `${i.id}`);
  // Both horizons appear for both families (the split schedule covers the range evenly).
  for (const f of ['shapes', 'grid'] as FamilyId[]) assert.deepEqual(new Set(insts.filter((i) => i.family === f).map((i) => i.horizon)), new Set([3, 4]));
  assert.equal(new Set(insts.map((i) => i.id)).size, insts.length);
  // horizonRange intersects with the family's training range (shapes 2..6, grid 2..10).
  assert.deepEqual(horizonRange('shapes', { ...ALL, min_horizon: 5, max_horizon: 9 }, 0), [5, 6]);
  assert.throws(() => horizonRange('shapes', { ...ALL, min_horizon: 8 }, 0), /no training horizon of shapes/);
});

test('curriculum: linear ramp of the largest horizon by hand, clamped to each family range', () => {
  // start 2, end 10, ramp 8 iterations: floor(2 + 8·i/8) = 2 + i until 8, then 10.
  assert.deepEqual([0, 1, 4, 7, 8, 50].map((i) => curriculumMaxHorizon(2, 10, i, 8)), [2, 3, 6, 9, 10, 10]);
  // start 3, end 6, ramp 4: floor(3 + 3·i/4) = 3, 3, 4, 5, 6.
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => curriculumMaxHorizon(3, 6, i, 4)), [3, 3, 4, 5, 6]);
  assert.throws(() => curriculumMaxHorizon(2, 10, 0, 0), /rampIterations/);
  const cur: PromptFilter = { ...ALL, curriculum: { start_max_horizon: 3, iterations: 10 } };
  // Each family ramps to its own maximum: grid 2..10, shapes 2..6, chart 2..7.
  assert.deepEqual(horizonRange('grid', cur, 0), [2, 3]);
  assert.deepEqual(horizonRange('grid', cur, 5), [2, 6]); // floor(3 + 7·0.5)
  assert.deepEqual(horizonRange('shapes', cur, 5), [2, 4]); // floor(3 + 3·0.5)
  assert.deepEqual(horizonRange('chart', cur, 10), [2, 7]);
  // With a minimum above the start, the range is never empty.
  assert.deepEqual(horizonRange('grid', { ...cur, min_horizon: 5 }, 0), [5, 5]);
  // Drawing across a widening range never repeats an instance.
  const state = unfilteredStreamState(0, FAMILY_IDS);
  const seen: string[] = [];
  for (let it = 0; it <= 10; it++) {
    for (const i of drawPrompts(state, 6, FAMILY_IDS, (f) => horizonRange(f, cur, it))) {
      const [, hi] = horizonRange(i.family, cur, it);
      assert.ok(i.horizon <= hi, `iteration ${it}: ${i.id} above ${hi}`);
      seen.push(i.id);
    }
  }
  assert.equal(new Set(seen).size, seen.length);
});
