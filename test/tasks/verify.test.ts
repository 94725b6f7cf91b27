import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  FAMILY_IDS, Rng, corruptStep, formatResponse, getFamily, getSplit, goldResponse, oracleStep, parseResponse, responsePrefix, reward,
  verifyResponse, type FamilyId, type Instance,
} from '../../src/tasks/index.js';

const familyArb = fc.constantFrom<FamilyId>(...FAMILY_IDS);
/** A random instance at any horizon the family's splits use (training or ood). */
const instanceArb = fc.record({ family: familyArb, seed: fc.nat({ max: 2_000_000_000 }), t: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }) }).map(({ family, seed, t }) => {
  const fam = getFamily(family);
  const lo = fam.horizons.train[0], hi = fam.horizons.ood[1];
  return fam.generate(seed, lo + Math.floor(t * (hi - lo + 1)));
});

for (const kind of ['visual', 'logical', 'format'] as const) {
  test(`corrupting step k with a ${kind} error gives firstError = k, kind ${kind}`, () => {
    let applicable = 0;
    fc.assert(fc.property(instanceArb, fc.nat(), fc.nat(), (inst, kRaw, rngSeed) => {
      const k = kRaw % inst.horizon;
      const bad = corruptStep(inst, k, kind, new Rng(rngSeed));
      if (bad === null) {
        // only impossible where the step makes no claim of that kind
        assert.notEqual(kind, 'format');
        return;
      }
      applicable++;
      assert.notEqual(bad, inst.steps[k]);
      const steps = inst.steps.slice();
      steps[k] = bad;
      const v = verifyResponse(inst, formatResponse(steps, inst.answer));
      assert.equal(v.firstError, k, `${inst.id} "${inst.question}" step ${k}: "${inst.steps[k]}" -> "${bad}": ${JSON.stringify(v.steps[k])} first=${v.firstError}`);
      assert.equal(v.firstErrorKind, kind, `${inst.id} "${inst.question}" step ${k}: "${inst.steps[k]}" -> "${bad}": ${v.firstErrorReason}`);
      assert.equal(v.steps[k]!.kind, kind);
      assert.ok(v.steps.slice(0, k).every((s) => s.kind === 'ok'));
      assert.deepEqual(v.verifiedPrefix, inst.steps.slice(0, k));
      assert.equal(v.complete, false);
      if (kind === 'visual') assert.ok(v.steps[k]!.visualClaimsHeld < v.steps[k]!.visualClaims);
      else assert.equal(v.steps[k]!.visualClaimsHeld, v.steps[k]!.visualClaims);
      assert.equal(v.formatValid, kind !== 'format');
      // the oracle rewrite repairs exactly this step
      assert.equal(oracleStep(inst, v.verifiedPrefix), inst.steps[k]);
      assert.equal(oracleStep(inst, steps.slice(0, k + 1)), null);
    }), { numRuns: 600, seed: 1234 });
    assert.ok(applicable > 300, `too few applicable corruptions: ${applicable}`);
  });
}

test('later steps are judged against the model\'s own earlier steps (grid)', () => {
  // Scene: start 00, wall at 01. The model misreads the wall as open, then continues consistently.
  const fam = getFamily('grid');
  const inst: Instance = {
    id: 'g', family: 'grid', seed: 0, horizon: 3, question: 'moves RRD',
    scene: { size: 6, rows: ['.#....', '......', '......', '......', '......', '......'], start: [0, 0] }, steps: [], answer: '',
  };
  Object.assign(inst, fam.solve(inst.question, inst.scene));
  assert.deepEqual(inst.steps, ['R 01 w 00', 'R 01 w 00', 'D 10 o 10']);
  const text = formatResponse(['R 01 o 01', 'R 02 o 02', 'D 12 o 12'], '12');
  const v = verifyResponse(inst, text);
  assert.deepEqual(v.steps.map((s) => s.kind), ['visual', 'ok', 'ok']);
  assert.equal(v.firstError, 0);
  assert.equal(v.answerCorrect, false);
  assert.deepEqual([v.visualClaims, v.visualClaimsHeld], [4, 3]); // start + 3 target claims
  // a logical slip after a correct start: wrong arithmetic of the target
  const v2 = verifyResponse(inst, formatResponse(['R 01 w 00', 'R 02 o 02', 'D 12 o 12'], '12'));
  assert.deepEqual(v2.steps.map((s) => s.kind), ['ok', 'logical', 'ok']);
  // misreading the start cell is a visual error at step 1
  const v3 = verifyResponse(inst, formatResponse(['R 11 o 11', 'R 12 o 12', 'D 22 o 22'], '22'));
  assert.equal(v3.firstErrorKind, 'visual');
  assert.match(v3.firstErrorReason!, /start is 00/);
});

test('later steps are judged against the model\'s own earlier steps (chart, shapes)', () => {
  const chart = getFamily('chart');
  const inst: Instance = {
    id: 'c', family: 'chart', seed: 0, horizon: 4, question: 'bars r+g*2',
    scene: { slots: 6, maxValue: 9, bars: [{ slot: 0, colour: 'r', value: 5 }, { slot: 2, colour: 'g', value: 3 }] }, steps: [], answer: '',
  };
  Object.assign(inst, chart.solve(inst.question, inst.scene));
  assert.deepEqual(inst.steps, ['r=5', 'g=3', '+3=8', '*2=16']);
  assert.equal(inst.answer, '16');
  const v = verifyResponse(inst, formatResponse(['r=5', 'g=4', '+4=9', '*2=18'], '18'));
  assert.deepEqual(v.steps.map((s) => s.kind), ['ok', 'visual', 'ok', 'ok']);
  const v2 = verifyResponse(inst, formatResponse(['r=5', 'g=3', '+3=9', '*2=18'], '18'));
  assert.deepEqual(v2.steps.map((s) => s.kind), ['ok', 'ok', 'logical', 'ok']);
  const v3 = verifyResponse(inst, formatResponse(['r=5', 'b=3', '+3=8', '*2=16'], '16'));
  // there is no blue bar (and the question does not read one); the update then uses g, which
  // the model never read: logical (an operand is the model's own read of that term's bar)
  assert.deepEqual(v3.steps.map((s) => s.kind), ['ok', 'visual', 'logical', 'ok']);
  assert.match(v3.steps[1]!.reason!, /no blue bar/);
  assert.equal(v3.answerCorrect, true); // right answer, wrong grounding
  assert.equal(v3.complete, false);

  const shapes = getFamily('shapes');
  const s: Instance = {
    id: 's', family: 'shapes', seed: 0, horizon: 3, question: 'count r.@r0-.t@c1',
    scene: { size: 6, objects: [{ row: 0, col: 0, colour: 'r', shape: 't' }, { row: 0, col: 3, colour: 'b', shape: 'c' }, { row: 0, col: 5, colour: 'r', shape: 's' }, { row: 2, col: 1, colour: 'g', shape: 't' }, { row: 4, col: 1, colour: 'y', shape: 't' }] },
    steps: [], answer: '',
  };
  Object.assign(s, shapes.solve(s.question, s.scene));
  assert.deepEqual(s.steps, ['r.@r0=2', '.t@c1=2', '-2=0']);
  const w = verifyResponse(s, formatResponse(['r.@r0=2', '.t@c1=1', '-1=1'], '1'));
  assert.deepEqual(w.steps.map((x) => x.kind), ['ok', 'visual', 'ok']);
});

test('response structure: missing steps, extra steps, wrong or unreadable answers', () => {
  const inst = getSplit('grid', 'test', 1, 4)[0]!; // horizon >= 3
  assert.ok(inst.horizon >= 3);
  const h = inst.horizon;
  const cases: Array<[string, number, string]> = [
    [formatResponse(inst.steps.slice(0, h - 1), inst.answer), h - 1, 'logical'],
    [formatResponse([...inst.steps, inst.steps[0]!], inst.answer), h, 'logical'],
    [formatResponse(inst.steps, '55') === goldResponse(inst) ? formatResponse(inst.steps, '44') : formatResponse(inst.steps, '55'), h, 'logical'],
    [formatResponse(inst.steps, 'the end'), h, 'format'],
    [responsePrefix(inst.steps), h, 'format'],
    [responsePrefix(inst.steps) + '</think>', h, 'format'],
    [goldResponse(inst) + ' and more', h, 'format'],
    ['I think the answer is 23', 0, 'format'],
    ['', 0, 'format'],
    [responsePrefix(inst.steps.slice(0, 2)), 2, 'format'],
  ];
  for (const [text, first, kind] of cases) {
    const v = verifyResponse(inst, text);
    assert.equal(v.firstError, first, JSON.stringify(text));
    assert.equal(v.firstErrorKind, kind, JSON.stringify(text) + ' ' + v.firstErrorReason);
    assert.equal(v.complete, false);
  }
  // lenient answers: spacing and punctuation
  for (const a of [`${inst.answer[0]},${inst.answer[1]}`, ` (${inst.answer[0]}, ${inst.answer[1]}) `]) {
    assert.equal(verifyResponse(inst, formatResponse(inst.steps, a)).complete, true);
  }
  // whitespace around steps and blank lines are tolerated
  const loose = '  <think>\n\n' + inst.steps.map((s) => `  ${s}  \r\n`).join('') + '\n</think>\n<answer> ' + inst.answer + ' </answer>\n';
  assert.equal(verifyResponse(inst, loose).complete, true);
});

test('reward = accuracy + 0.1 * format', () => {
  const inst = getSplit('chart', 'test', 1)[0]!;
  assert.deepEqual(reward(inst, goldResponse(inst)), { reward: 1.1, accuracy: 1, format: 1 });
  const wrong = String(Number(inst.answer) + 1);
  assert.deepEqual(reward(inst, formatResponse(inst.steps, wrong)), { reward: 0.1, accuracy: 0, format: 1 });
  assert.deepEqual(reward(inst, `<answer>${inst.answer}</answer>`), { reward: 1, accuracy: 1, format: 0 });
  assert.deepEqual(reward(inst, 'garbage'), { reward: 0, accuracy: 0, format: 0 });
  const garbled = inst.steps.slice();
  garbled[0] = garbled[0] + '?';
  assert.deepEqual(reward(inst, formatResponse(garbled, inst.answer)), { reward: 1, accuracy: 1, format: 0 });
});

test('parseResponse and verifyResponse never throw on arbitrary text', () => {
  const insts = FAMILY_IDS.map((f) => getSplit(f, 'test', 1)[0]!);
  const pieces = fc.constantFrom('<think>', '</think>', '<answer>', '</answer>', '\n', ' ', '=', '-', '--', 'R 23 o 23', 'rc@r2=3', '+3=5', '.s@c1', '@', 'x', '9');
  const textArb = fc.oneof(fc.string({ maxLength: 80 }), fc.array(pieces, { maxLength: 20 }).map((a) => a.join('')), fc.string({ unit: 'binary', maxLength: 40 }));
  fc.assert(fc.property(textArb, fc.nat({ max: 2 }), (text, i) => {
    const p = parseResponse(text);
    assert.ok(Array.isArray(p.steps));
    const v = verifyResponse(insts[i]!, text);
    assert.equal(v.steps.length, p.steps.length);
    if (v.complete) assert.equal(v.firstError, null);
    if (v.firstError !== null) assert.ok(v.firstError >= 0 && v.firstError <= p.steps.length);
  }), { numRuns: 800, seed: 7 });
});

test('oracleStep walks the gold solution from any verified prefix', () => {
  for (const f of FAMILY_IDS) {
    for (const inst of getSplit(f, 'val', 30)) {
      for (let k = 0; k < inst.horizon; k++) assert.equal(oracleStep(inst, inst.steps.slice(0, k)), inst.steps[k]);
      assert.equal(oracleStep(inst, inst.steps), null);
      assert.equal(oracleStep(inst, ['nonsense']), null);
      // a rectified trajectory assembled step by step is complete
      const built: string[] = [];
      for (let s = oracleStep(inst, built); s !== null; s = oracleStep(inst, built)) built.push(s);
      assert.equal(verifyResponse(inst, formatResponse(built, inst.answer)).complete, true);
    }
  }
});
