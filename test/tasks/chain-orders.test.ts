// Alternative orders in the chain families (shapes, chart; src/tasks/families/chain.ts):
// updates in the question's order, reads in any order and at any time, each read once and
// before the update that uses it. Every valid order verifies with the same answer and
// horizon; an update before its read, a second read, or a read the question does not use is
// a logical error at that step; and the oracle continues any verified prefix in its own
// order to a complete solution (what the Re-Reasoning Loop's rewrite relies on).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { chartPlan } from '../../src/tasks/families/chart.js';
import { shapesPlan } from '../../src/tasks/families/shapes.js';
import { planRefs, type ChainPlan } from '../../src/tasks/families/chain.js';
import { formatResponse, getFamily, oracleStep, Rng, verifyResponse, type Instance } from '../../src/tasks/index.js';

const CHART_SCENE = { slots: 6, maxValue: 9, bars: [{ slot: 0, colour: 'r', value: 5 }, { slot: 2, colour: 'g', value: 3 }, { slot: 3, colour: 'b', value: 2 }, { slot: 5, colour: 'y', value: 7 }] };

function chart(question: string): Instance {
  const inst: Instance = { id: 'c', family: 'chart', seed: 0, horizon: 0, question, scene: CHART_SCENE, steps: [], answer: '' };
  Object.assign(inst, getFamily('chart').solve(question, CHART_SCENE));
  inst.horizon = inst.steps.length;
  return inst;
}

const kinds = (inst: Instance, steps: string[]) => verifyResponse(inst, formatResponse(steps, inst.answer)).steps.map((s) => s.kind);
const complete = (inst: Instance, steps: string[]) => verifyResponse(inst, formatResponse(steps, inst.answer)).complete;

test('chart: the gold order reads each bar right before its update; other valid orders verify too', () => {
  const a = chart('bars r+g-b');
  assert.deepEqual(a.steps, ['r=5', 'g=3', '+3=8', 'b=2', '-2=6']);
  for (const order of [
    ['r=5', 'g=3', 'b=2', '+3=8', '-2=6'], // all reads first
    ['b=2', 'g=3', 'r=5', '+3=8', '-2=6'], // reads in reverse
    ['g=3', 'r=5', '+3=8', 'b=2', '-2=6'], // a term before the first read
    ['r=5', 'b=2', 'g=3', '+3=8', '-2=6'],
  ]) assert.ok(complete(a, order), order.join(' '));

  const c = chart('bars r*2+g');
  assert.deepEqual(c.steps, ['r=5', '*2=10', 'g=3', '+3=13']);
  assert.ok(complete(c, ['g=3', 'r=5', '*2=10', '+3=13']));
  assert.ok(complete(c, ['r=5', 'g=3', '*2=10', '+3=13']));
});

test('chart: order errors are logical at the step that breaks the order', () => {
  const a = chart('bars r+g-b');
  // an update before the read it uses
  assert.deepEqual(kinds(a, ['r=5', '+3=8', 'g=3', 'b=2', '-2=6']), ['ok', 'logical', 'ok', 'ok', 'ok']);
  assert.match(verifyResponse(a, formatResponse(['r=5', '+3=8'], '8')).steps[1]!.reason!, /read g before the update that uses it/);
  // an update before the first read
  assert.deepEqual(kinds(a, ['g=3', '+3=8'])[1], 'logical');
  assert.match(verifyResponse(a, formatResponse(['g=3', '+3=8'], '8')).steps[1]!.reason!, /read r first/);
  // updates out of the question's order
  assert.deepEqual(kinds(a, ['r=5', 'g=3', 'b=2', '-2=3', '+3=6']), ['ok', 'ok', 'ok', 'logical', 'logical']);
  // a second read of the same bar, and a read the question does not use (the bar exists)
  assert.deepEqual(kinds(a, ['r=5', 'g=3', 'g=3', '+3=8', 'b=2']), ['ok', 'ok', 'logical', 'ok', 'ok']);
  assert.deepEqual(kinds(a, ['r=5', 'y=7', 'g=3', '+3=8', 'b=2']), ['ok', 'logical', 'ok', 'ok', 'ok']);
  // a wrong value is visual, and the update uses the model's own claim of it (ok)
  assert.deepEqual(kinds(a, ['b=3', 'r=5', 'g=3', '+3=8', '-3=5']), ['visual', 'ok', 'ok', 'ok', 'ok']);
  // ... so the true value in that update is logical (it contradicts the model's own read)
  assert.deepEqual(kinds(a, ['b=3', 'r=5', 'g=3', '+3=8', '-2=6']), ['visual', 'ok', 'ok', 'ok', 'logical']);
});

test('oracleStep continues a non-gold verified prefix in its own order', () => {
  const a = chart('bars r+g-b');
  const walk = (prefix: string[]) => {
    const out = [...prefix];
    for (let s = oracleStep(a, out); s !== null; s = oracleStep(a, out)) out.push(s);
    return out;
  };
  assert.equal(oracleStep(a, ['b=2']), 'r=5', 'the first read before anything else');
  assert.equal(oracleStep(a, ['b=2', 'r=5']), 'g=3', 'the read the next update waits for');
  assert.equal(oracleStep(a, ['b=2', 'g=3', 'r=5']), '+3=8', 'the next update when its operand is read');
  assert.deepEqual(walk(['b=2']), ['b=2', 'r=5', 'g=3', '+3=8', '-2=6']);
  assert.deepEqual(walk(['g=3', 'r=5', '+3=8']), ['g=3', 'r=5', '+3=8', 'b=2', '-2=6']);
  assert.ok(complete(a, walk(['b=2'])));
  assert.equal(oracleStep(a, ['r=5', '+3=8']), null, 'not a verified prefix');
});

// ---------------------------------------------------------------- property tests, both families

const planOf = (inst: Instance): ChainPlan => (inst.family === 'chart' ? chartPlan : shapesPlan)(inst.question);

/** The gold step of each read (by ref) and the gold updates in order: the same texts in every valid order. */
function goldParts(inst: Instance) {
  const reads = new Map<string, string>();
  const updates: string[] = [];
  for (const s of inst.steps) {
    if (/^[-+*^_][0-9]+=-?[0-9]+$/.test(s)) updates.push(s);
    else reads.set(s.slice(0, s.lastIndexOf('=')), s);
  }
  return { reads, updates };
}

/** A uniformly chosen valid action at each step: any unread ref, or the next update when it may go. */
function randomValidOrder(inst: Instance, rng: Rng): string[] {
  const plan = planOf(inst);
  const { reads, updates } = goldParts(inst);
  const unread = new Set(planRefs(plan));
  const out: string[] = [];
  let u = 0;
  while (out.length < inst.horizon) {
    const options: Array<() => void> = [...unread].map((ref) => () => { unread.delete(ref); out.push(reads.get(ref)!); });
    const term = plan.terms[u];
    if (term && !unread.has(plan.first) && !('read' in term && unread.has(term.read))) options.push(() => { out.push(updates[u]!); u++; });
    rng.pick(options)();
  }
  return out;
}

/** A chain instance at any horizon its family's splits use (uniform: fast-check's doubles crowd at the ends). */
const chainInstance = fc.record({ family: fc.constantFrom<'shapes' | 'chart'>('shapes', 'chart'), seed: fc.nat({ max: 2_000_000_000 }), h: fc.integer({ min: 0, max: 9_999 }) }).map(({ family, seed, h }) => {
  const fam = getFamily(family);
  const lo = fam.horizons.train[0], hi = fam.horizons.ood[1];
  return fam.generate(seed, lo + (h % (hi - lo + 1)));
});

test('property: random valid orders of a gold solution verify, with the same answer and horizon; the oracle completes any of their prefixes', () => {
  fc.assert(fc.property(chainInstance, fc.nat(), (inst, seed) => {
    const rng = new Rng(seed);
    const order = randomValidOrder(inst, rng);
    assert.equal(order.length, inst.horizon);
    assert.deepEqual([...order].sort(), [...inst.steps].sort(), 'the same steps');
    const v = verifyResponse(inst, formatResponse(order, inst.answer));
    assert.ok(v.complete, `${inst.id} "${inst.question}" ${order.join(' ')}: ${v.firstErrorReason}`);
    assert.equal(v.visualClaimsHeld, v.visualClaims);
    // From any prefix of this order, the oracle's steps finish it in its own order.
    const k = rng.int(0, inst.horizon);
    const built = order.slice(0, k);
    for (let s = oracleStep(inst, built); s !== null; s = oracleStep(inst, built)) built.push(s);
    assert.deepEqual(built.slice(0, k), order.slice(0, k));
    assert.equal(built.length, inst.horizon);
    assert.ok(complete(inst, built), `${inst.id}: oracle completion of ${order.slice(0, k).join(' ')} -> ${built.join(' ')}`);
  }), { numRuns: 400, seed: 22 });
});

test('property: moving a read after the update that uses it, or reading a ref twice, is logical at that step', () => {
  let moved = 0;
  fc.assert(fc.property(chainInstance, fc.nat(), (inst, seed) => {
    const rng = new Rng(seed);
    const order = randomValidOrder(inst, rng);
    const plan = planOf(inst);
    const { reads, updates } = goldParts(inst);
    // A read term's update in this order, with its read moved right after it.
    const readTerms = plan.terms.flatMap((t, i) => ('read' in t ? [{ ref: t.read, update: updates[i]! }] : []));
    if (readTerms.length > 0) {
      const { ref, update } = rng.pick(readTerms);
      const bad = order.filter((s) => s !== reads.get(ref));
      const at = bad.indexOf(update);
      bad.splice(at + 1, 0, reads.get(ref)!);
      const v = verifyResponse(inst, formatResponse(bad, inst.answer));
      assert.equal(v.firstError, at, `${inst.id} ${bad.join(' ')}`);
      assert.equal(v.firstErrorKind, 'logical');
      assert.deepEqual(v.verifiedPrefix, bad.slice(0, at));
      moved++;
    }
    // A second read of some ref right after its first read.
    const k = rng.int(0, order.length - 1);
    const read = order.slice(0, k + 1).reverse().find((s) => ![...updates].includes(s));
    if (read !== undefined) {
      const at = order.indexOf(read) + 1;
      const twice = [...order.slice(0, at), read, ...order.slice(at)];
      const v = verifyResponse(inst, formatResponse(twice, inst.answer));
      assert.equal(v.firstError, at, `${inst.id} ${twice.join(' ')}`);
      assert.equal(v.firstErrorKind, 'logical');
      assert.match(v.firstErrorReason!, /was read already/);
    }
  }), { numRuns: 300, seed: 25 });
  assert.ok(moved > 150, `read terms moved in ${moved} runs`);
});
