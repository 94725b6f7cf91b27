// Blindness check: a baseline that sees the question but not the image must score near
// chance. The baseline learns, on the train split, the most frequent answer per key and
// predicts it on the test split, backing off from the most specific key that was seen in
// training to coarser ones: exact question → question type (family.questionType: the
// question with colours/shapes/bars abstracted, or the grid's net displacement) → horizon →
// global. Stated bound: at most 15% accuracy overall on every family, and at most 30% at
// any single horizon (chance is 1/36 ≈ 3% for grid; shapes and chart answers are integers
// spread over dozens of values).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FAMILY_IDS, getFamily, getSplit, type Instance } from '../../src/tasks/index.js';

const BOUND_OVERALL = 0.15;
const BOUND_PER_HORIZON = 0.3;

function majority(m: Map<string, number>): string {
  let best = '', n = -1;
  for (const [k, v] of [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) if (v > n) { best = k; n = v; }
  return best;
}

for (const family of FAMILY_IDS) {
  test(`${family}: an answer-only baseline that sees only the question scores near chance`, () => {
    const fam = getFamily(family);
    const keys: Array<(i: Instance) => string> = [(i) => i.question, (i) => fam.questionType(i), (i) => `h${i.horizon}`, () => ''];
    const tables = keys.map(() => new Map<string, Map<string, number>>());
    for (const inst of getSplit(family, 'train', 4000)) {
      keys.forEach((key, j) => {
        const k = key(inst);
        const m = tables[j]!.get(k) ?? new Map<string, number>();
        m.set(inst.answer, (m.get(inst.answer) ?? 0) + 1);
        tables[j]!.set(k, m);
      });
    }
    const test = getSplit(family, 'test', 1500);
    let hits = 0;
    const byH = new Map<number, [number, number]>();
    for (const inst of test) {
      let guess = '';
      for (let j = 0; j < keys.length; j++) {
        const m = tables[j]!.get(keys[j]!(inst));
        if (m) { guess = majority(m); break; }
      }
      const ok = guess === inst.answer ? 1 : 0;
      hits += ok;
      const e = byH.get(inst.horizon) ?? [0, 0];
      byH.set(inst.horizon, [e[0] + ok, e[1] + 1]);
    }
    const acc = hits / test.length;
    assert.ok(acc <= BOUND_OVERALL, `${family}: blind accuracy ${acc.toFixed(3)} > ${BOUND_OVERALL}`);
    for (const [h, [a, n]] of byH) assert.ok(a / n <= BOUND_PER_HORIZON, `${family} h${h}: blind accuracy ${(a / n).toFixed(3)} > ${BOUND_PER_HORIZON}`);
    // the answer space is not degenerate
    assert.ok(new Set(test.map((i) => i.answer)).size >= 30, `${family}: too few distinct answers`);
  });
}
