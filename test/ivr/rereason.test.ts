// The Re-Reasoning Loop (DESIGN §7.3). Two layers:
// - a scripted policy pins the loop's logic exactly (rounds, kept steps, oracle rewrites,
//   contexts, token accounting, never returning an unverified trajectory);
// - the small trained policy (test/helpers/tiny-policy.ts) drives it for real on
//   deliberately corrupted rollouts: with the oracle fallback most are rectified, and every
//   returned trajectory is fully verified.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifierLocalizer, type Localization } from '../../src/ivr/localize.js';
import { RECTIFIERS, type Rectifier } from '../../src/ivr/rectifiers.js';
import { keepVerified, rereason, type Piece, type RectifyItem, type RectifyOutcome } from '../../src/ivr/rereason.js';
import { LocalReasoner } from '../../src/reasoner/local-reasoner.js';
import { instanceTask } from '../../src/reasoner/task.js';
import type { GenerateOptions, GenerateRequest, Generation, Policy } from '../../src/model/policy.js';
import {
  Rng, corruptStep, formatResponse, getFamily, getSplit, goldResponse, oracleStep, parseResponse, responsePrefix, verifyResponse, type Instance,
} from '../../src/tasks/index.js';
import { contextText, ScriptedPolicy, SMALL_VLM, TOKENIZER } from '../helpers/rl-fixtures.js';
import { tinyPolicy } from '../helpers/tiny-policy.js';

/** The loop's knobs as flags (the rectifier table below maps config names onto them). */
interface Opts { rounds: number; reground: boolean; oracleFallback: boolean; oracleFirst: boolean; oracleFirstIfNoPrefix?: boolean; temperature: number; topP: number; maxNew: number }
const OPTS: Opts = { rounds: 3, reground: true, oracleFallback: true, oracleFirst: false, temperature: 1, topP: 1, maxNew: 120 };

/** A rectifier with these flags (the tests also combine them in ways no config names). */
function rectifierOf(o: Opts): Rectifier {
  const rewriteFirst = o.oracleFirst ? RECTIFIERS.oracle.rewriteFirst : o.oracleFirstIfNoPrefix ? RECTIFIERS.adaptive.rewriteFirst : RECTIFIERS['re-ground'].rewriteFirst;
  return { name: 're-ground', reground: o.reground, rewriteFirst };
}

/** The loop on a local policy through the reasoner port, checked by the scene verifier. */
function loop(policy: Policy, items: RectifyItem[], o: Opts, seed: number) {
  const reasoner = new LocalReasoner(policy, { temperature: o.temperature, topP: o.topP, maxTokens: o.maxNew });
  return rereason(reasoner, items, { rounds: o.rounds, rectifier: rectifierOf(o), oracleFallback: o.oracleFallback, check: verifierLocalizer }, seed);
}

/** A flawed rollout of `inst` eroded at step k (kind), localised by the verifier. */
function flawedItem(inst: Instance, k: number, kind: 'visual' | 'logical' | 'format', rng: Rng): RectifyItem | null {
  const bad = corruptStep(inst, k, kind, rng);
  if (bad === null) return null;
  const steps = [...inst.steps];
  steps[k] = bad;
  // What verifierLocalizer returns (test/ivr/localize.test.ts), built synchronously.
  const v = verifyResponse(inst, formatResponse(steps, inst.answer));
  assert.ok(v.firstError === k);
  const loc: Localization = { step: k, kind: v.firstErrorKind ?? 'format', verifiedPrefix: v.verifiedPrefix };
  return { task: instanceTask(inst), loc };
}

/** Steps already in a request's context (after "<think>\n"). */
function stepsInContext(req: GenerateRequest): string[] {
  const ctx = contextText(req);
  return ctx.slice(ctx.indexOf('<think>\n') + 8).split('\n').filter((l) => l && l !== '[IMG]');
}

const text = (pieces: Piece[]) => pieces.map((p) => p.text).join('');

/** The invariants every outcome must satisfy (DESIGN §7.3 "Output"). */
function checkOutcome(item: RectifyItem, o: RectifyOutcome, J: number, where: string): void {
  assert.ok(o.rounds >= 0 && o.rounds <= J, `${where}: rounds ${o.rounds} > J ${J}`);
  if (!o.pieces) return;
  const t = text(o.pieces);
  const v = verifyResponse(item.task.inst!, t);
  assert.equal(v.complete, true, `${where}: returned an unverified trajectory ${JSON.stringify(t)}: ${v.firstErrorReason}`);
  // Layout: "<think>\n", one piece per kept/rewritten step, then the final continuation.
  assert.deepEqual(o.pieces[0], { text: '<think>\n', rewritten: false }, where);
  const stepPieces = o.pieces.slice(1, -1);
  assert.ok(stepPieces.length <= item.task.inst!.horizon, where);
  stepPieces.forEach((p, i) => {
    // Kept (policy) and rewritten (oracle) steps are both verified (above); a rewritten step is
    // the oracle's next step after the pieces before it, in their order (for grid, the gold step).
    const before = stepPieces.slice(0, i).map((q) => q.text.replace(/\n$/, ''));
    if (p.rewritten) assert.equal(p.text, oracleStep(item.task.inst!, before) + '\n', `${where}: piece ${i}`);
    if (item.task.inst!.family === 'grid') assert.equal(p.text, item.task.inst!.steps[i] + '\n', `${where}: piece ${i}`);
  });
  // The verified prefix is kept as-is and never marked rewritten.
  item.loc.verifiedPrefix.forEach((s, i) => assert.deepEqual(stepPieces[i], { text: s + '\n', rewritten: false }, where));
  assert.equal(o.pieces.at(-1)!.rewritten, false, where);
}

// ---------------------------------------------------------------- scripted policy, exact logic

const INST = getSplit('grid', 'train', 5)[4]!; // "moves LRD": L 13 o 13 / R 14 o 14 / D 24 w 14, answer 14
const GARBAGE = 'Q\n</think><answer>0</answer>';
const itemAt = (k: number): RectifyItem => flawedItem(INST, k, 'format', new Rng(k))!;
const goldRest = (req: GenerateRequest) => goldResponse(INST).slice(responsePrefix(stepsInContext(req)).length);

test('scripted: a policy that continues correctly finishes in round 1 with its own words (nothing rewritten)', async () => {
  for (let k = 0; k < 3; k++) {
    const pol = new ScriptedPolicy(goldRest);
    const item = itemAt(k);
    const { outcomes, loopTokens } = await loop(pol.asPolicy(), [item], OPTS, 11);
    const o = outcomes[0]!;
    checkOutcome(item, o, OPTS.rounds, `k=${k}`);
    assert.equal(o.rounds, 1);
    assert.equal(text(o.pieces!), goldResponse(INST));
    assert.ok(o.pieces!.every((p) => !p.rewritten));
    assert.deepEqual(o.pieces!.map((p) => p.text), ['<think>\n', ...INST.steps.slice(0, k).map((s) => s + '\n'), goldRest(pol.calls[0]!.reqs[0]!)]);
    assert.equal(loopTokens, TOKENIZER.encode(goldRest(pol.calls[0]!.reqs[0]!)).length);
  }
});

test('scripted: with the oracle fallback, a policy that only knows how to close needs h-k+1 rounds; rewritten pieces are exactly the oracle steps', async () => {
  // The policy writes garbage until every step is in its context, then closes correctly.
  const closer = (req: GenerateRequest) => (stepsInContext(req).length === 3 ? '</think><answer>14</answer>' : GARBAGE);
  for (let k = 0; k < 3; k++) {
    const need = 3 - k + 1;
    for (const J of [need - 1, need, need + 2]) {
      if (J < 1) continue;
      const pol = new ScriptedPolicy(closer);
      const item = itemAt(k);
      const { outcomes, loopTokens } = await loop(pol.asPolicy(), [item], { ...OPTS, rounds: J }, 3);
      const o = outcomes[0]!;
      checkOutcome(item, o, J, `k=${k} J=${J}`);
      if (J < need) {
        assert.equal(o.pieces, null, `k=${k} J=${J}: rounds ran out`);
        assert.equal(o.rounds, J);
        assert.equal(loopTokens, 6 * J);
        continue;
      }
      assert.equal(o.rounds, need);
      assert.equal(pol.calls.length, need);
      assert.deepEqual(o.pieces, [
        { text: '<think>\n', rewritten: false },
        ...INST.steps.map((s, i) => ({ text: s + '\n', rewritten: i >= k })),
        { text: '</think><answer>14</answer>', rewritten: false },
      ]);
      assert.equal(loopTokens, 6 * (need - 1) + 5);
      // Each round's context = prompt + prefix so far, with the image re-inserted after it.
      pol.calls.forEach((c, r) => {
        assert.deepEqual(c.reqs[0]!.segments.map((s) => s.kind), ['image', 'text', 'image']);
        assert.equal(contextText(c.reqs[0]!), `[IMG]moves LRD\n${responsePrefix(INST.steps.slice(0, k + r))}[IMG]`);
        assert.equal(c.opts.seed, 3 + r + 1, 'seed + round');
        assert.equal(c.opts.temperature, 1);
      });
    }
  }
});

test('scripted: newly verified steps are kept as the policy wrote them; the oracle rewrites only the next eroded one', async () => {
  // Round 1 from the empty prefix: the policy writes step 0 right, then a visual error.
  // Kept: step 0 (policy's). Oracle: step 1. Round 2: the policy finishes correctly.
  const pol = new ScriptedPolicy((req, _row, call) => (call === 0 ? `${INST.steps[0]}\nR 14 w 13\nD 23 o 23\n</think><answer>23</answer>` : goldRest(req)));
  const item = itemAt(0);
  const { outcomes } = await loop(pol.asPolicy(), [item], OPTS, 0);
  const o = outcomes[0]!;
  checkOutcome(item, o, 3, 'kept');
  assert.equal(o.rounds, 2);
  assert.deepEqual(o.pieces, [
    { text: '<think>\n', rewritten: false },
    { text: INST.steps[0] + '\n', rewritten: false },
    { text: INST.steps[1] + '\n', rewritten: true },
    { text: INST.steps[2] + '\n</think><answer>14</answer>', rewritten: false },
  ]);
});

test('scripted: a verified prefix in the policy\'s own order (not the gold one) is kept, and the oracle continues it in that order', async () => {
  // chart "bars r+g-b" (r=5 g=3 b=2): gold r=5 / g=3 / +3=8 / b=2 / -2=6. The policy read b and
  // g first (a valid order), then misread r: the verified prefix [b=2, g=3] is not a gold prefix.
  const scene = { slots: 6, maxValue: 9, bars: [{ slot: 0, colour: 'r', value: 5 }, { slot: 2, colour: 'g', value: 3 }, { slot: 3, colour: 'b', value: 2 }] };
  const inst: Instance = { id: 'chart-order', family: 'chart', seed: -1, horizon: 5, question: 'bars r+g-b', scene, ...getFamily('chart').solve('bars r+g-b', scene) };
  assert.deepEqual(inst.steps, ['r=5', 'g=3', '+3=8', 'b=2', '-2=6']);
  const v = verifyResponse(inst, formatResponse(['b=2', 'g=3', 'r=4', '+3=7', '-2=5'], '5'));
  assert.equal(v.firstError, 2);
  const item: RectifyItem = { task: instanceTask(inst), loc: { step: 2, kind: 'visual', verifiedPrefix: v.verifiedPrefix } };
  // A policy that only knows how to close: the oracle writes every missing step, one per round.
  const closer = (req: GenerateRequest) => (stepsInContext(req).length === 5 ? '</think><answer>6</answer>' : GARBAGE);
  const pol = new ScriptedPolicy(closer);
  const { outcomes } = await loop(pol.asPolicy(), [item], { ...OPTS, rounds: 5 }, 0);
  const o = outcomes[0]!;
  checkOutcome(item, o, 5, 'own order');
  assert.deepEqual(o.pieces, [
    { text: '<think>\n', rewritten: false },
    { text: 'b=2\n', rewritten: false },
    { text: 'g=3\n', rewritten: false },
    { text: 'r=5\n', rewritten: true },
    { text: '+3=8\n', rewritten: true },
    { text: '-2=6\n', rewritten: true },
    { text: '</think><answer>6</answer>', rewritten: false },
  ]);
  // A policy that continues the prefix in yet another valid order is kept as it wrote it.
  const own = new ScriptedPolicy(() => 'r=5\n+3=8\n-2=6\n</think><answer>6</answer>');
  const r2 = (await loop(own.asPolicy(), [item], OPTS, 0)).outcomes[0]!;
  checkOutcome(item, r2, 3, 'policy continues');
  assert.equal(r2.rounds, 1);
  assert.equal(text(r2.pieces!), formatResponse(['b=2', 'g=3', 'r=5', '+3=8', '-2=6'], '6'));
});

test('scripted: never returns an unverified trajectory (right answer with wrong steps, wrong answer with right steps, extra steps, unfinished)', async () => {
  const liars: [string, (req: GenerateRequest) => string][] = [
    ['right answer, eroded steps', () => 'L 13 o 13\nR 14 w 13\nD 24 w 14\n</think><answer>14</answer>'],
    ['right steps, wrong answer', (req) => goldRest(req).replace('<answer>14', '<answer>13')],
    ['an extra step', (req) => goldRest(req).replace('</think>', 'D 24 w 14\n</think>')],
    ['never closes', (req) => goldRest(req).replace(/<\/think>.*/, '')],
    ['empty answer', (req) => goldRest(req).replace('<answer>14', '<answer> ')],
    ['unreadable answer', (req) => goldRest(req).replace('<answer>14', '<answer>1x4')],
  ];
  for (const [name, script] of liars) {
    for (const oracleFallback of [false, true]) {
      const pol = new ScriptedPolicy(script);
      const items = [0, 1, 2].map(itemAt);
      const { outcomes } = await loop(pol.asPolicy(), items, { ...OPTS, oracleFallback, rounds: 4 }, 1);
      outcomes.forEach((o, i) => {
        checkOutcome(items[i]!, o, 4, `${name} fallback=${oracleFallback} item ${i}`);
        assert.equal(o.pieces, null, `${name}: a policy that never writes a verified ending cannot be rectified`);
        assert.equal(o.rounds, 4);
      });
    }
  }
});

test('scripted: oracle-first rewrites the eroded step before the policy continues', async () => {
  const pol = new ScriptedPolicy(goldRest);
  const item = itemAt(1);
  const { outcomes } = await loop(pol.asPolicy(), [item], { ...OPTS, oracleFirst: true }, 0);
  assert.equal(outcomes[0]!.rounds, 1);
  assert.equal(contextText(pol.calls[0]!.reqs[0]!), `[IMG]moves LRD\n${responsePrefix(INST.steps.slice(0, 2))}[IMG]`);
  assert.deepEqual(outcomes[0]!.pieces!.map((p) => p.rewritten), [false, false, true, false]);
  checkOutcome(item, outcomes[0]!, 3, 'oracle-first');
});

test('scripted: reground=false continues from the same text without the re-inserted image', async () => {
  const on = new ScriptedPolicy(goldRest);
  const off = new ScriptedPolicy(goldRest);
  await loop(on.asPolicy(), [itemAt(2)], { ...OPTS, reground: true }, 0);
  await loop(off.asPolicy(), [itemAt(2)], { ...OPTS, reground: false }, 0);
  assert.deepEqual(on.calls[0]!.reqs[0]!.segments.map((s) => s.kind), ['image', 'text', 'image']);
  assert.deepEqual(off.calls[0]!.reqs[0]!.segments.map((s) => s.kind), ['image', 'text']);
  assert.deepEqual(on.calls[0]!.reqs[0]!.segments[1], off.calls[0]!.reqs[0]!.segments[1]);
  assert.deepEqual(on.calls[0]!.reqs[0]!.patches, off.calls[0]!.reqs[0]!.patches);
});

test('scripted: the generation budget is capped by the room left in maxText; no room -> no call, no outcome', async () => {
  const item = itemAt(2); // context = 11 prompt tokens + "<think>\n" + 2 steps = 33 tokens
  const roomy = new ScriptedPolicy(goldRest, { ...SMALL_VLM, maxText: 40 });
  await loop(roomy.asPolicy(), [item], { ...OPTS, maxNew: 120 }, 0);
  assert.equal(roomy.calls[0]!.opts.maxNew, 7);
  const full = new ScriptedPolicy(goldRest, { ...SMALL_VLM, maxText: 34 });
  const { outcomes, loopTokens } = await loop(full.asPolicy(), [item], OPTS, 0);
  assert.equal(full.calls.length, 0);
  assert.deepEqual(outcomes, [{ pieces: null, rounds: 0 }]);
  assert.equal(loopTokens, 0);
});

test('scripted: a batch runs in lockstep, one generate call per round over the items still open', async () => {
  // Items at k = 0, 1, 2 with the "closer" policy finish after 4, 3, 2 rounds.
  const closer = (req: GenerateRequest) => (stepsInContext(req).length === 3 ? '</think><answer>14</answer>' : GARBAGE);
  const pol = new ScriptedPolicy(closer);
  const items = [0, 1, 2].map(itemAt);
  const { outcomes } = await loop(pol.asPolicy(), items, { ...OPTS, rounds: 5 }, 0);
  assert.deepEqual(outcomes.map((o) => o.rounds), [4, 3, 2]);
  assert.deepEqual(pol.calls.map((c) => c.reqs.length), [3, 3, 2, 1]);
  outcomes.forEach((o, i) => checkOutcome(items[i]!, o, 5, `item ${i}`));
});

// ---------------------------------------------------------------- the small trained policy

/** Wraps a real policy, recording every request (Policy is used structurally by the loop). */
function spy(policy: Policy): { policy: Policy; reqs: GenerateRequest[][]; gens: Generation[][] } {
  const reqs: GenerateRequest[][] = [];
  const gens: Generation[][] = [];
  const wrapped = {
    cfg: policy.cfg, tokenizer: policy.tokenizer,
    async generate(r: GenerateRequest[], o: GenerateOptions) { reqs.push(r); const g = await policy.generate(r, o); gens.push(g); return g; },
  };
  return { policy: wrapped as unknown as Policy, reqs, gens };
}

/**
 * Corrupted rollouts of grid instances at horizons 2–4 (the tiny policy is trained on 2–3):
 * one per instance, eroded at a step and with a kind that vary over the instances.
 */
function corruptedItems(n: number): RectifyItem[] {
  const rng = new Rng(1);
  const insts = getSplit('grid', 'val', 400, 5000).filter((i) => i.horizon >= 2 && i.horizon <= 4).slice(0, n);
  const kinds = ['visual', 'logical', 'format'] as const;
  return insts.flatMap((inst, j) => {
    for (let t = 0; t < 6; t++) {
      const it = flawedItem(inst, (j + t) % inst.horizon, kinds[(j + t) % 3]!, rng);
      if (it) return [it];
    }
    return [];
  });
}

const N_ITEMS = 30;

test('tiny policy: with the oracle fallback most corrupted rollouts are rectified, and every outcome is fully verified', async (t) => {
  const { policy } = await tinyPolicy();
  const items = corruptedItems(N_ITEMS);
  assert.equal(items.length, N_ITEMS);
  const J = 4;
  const s = spy(policy);
  // Plain continuation from the verified prefix ('resample'), where the tiny policy is at its
  // best (the re-grounded variant is measured in the last test).
  const { outcomes, loopTokens } = await loop(s.policy, items, { ...OPTS, rounds: J, reground: false, maxNew: 64 }, 7);
  outcomes.forEach((o, i) => checkOutcome(items[i]!, o, J, `item ${i} ${items[i]!.task.inst!.id}`));
  const ok = outcomes.filter((o) => o.pieces).length;
  t.diagnostic(`rectified ${ok}/${items.length}`);
  // Measured 20/30 (the failures are mostly horizon-4 items, beyond the policy's training
  // range, where it keeps writing after the last step). Bound with margin: at least 12/30.
  assert.ok(ok >= 0.4 * items.length, `rectified ${ok}/${items.length}`);
  assert.ok(outcomes.every((o) => o.rounds >= 1));
  // Loop token accounting = everything the policy generated.
  assert.equal(loopTokens, s.gens.flat().reduce((a, g) => a + g.tokens.length, 0));
  // The fallback was exercised, and the policy wrote some of the repaired steps itself.
  const rewritten = outcomes.flatMap((o) => o.pieces ?? []).filter((p) => p.rewritten).length;
  // Steps beyond the verified prefix that the oracle did not write came from the policy.
  const policySteps = outcomes.reduce((a, o, i) => a + (o.pieces ? items[i]!.task.inst!.horizon - items[i]!.loc.verifiedPrefix.length - o.pieces.filter((p) => p.rewritten).length : 0), 0);
  assert.ok(rewritten > 0, 'the fallback was exercised');
  assert.ok(policySteps > 0, `the policy wrote some of the repaired steps itself (${policySteps})`);
});

test('tiny policy: every rectifier variant returns only fully verified trajectories', async () => {
  const { policy } = await tinyPolicy();
  const items = corruptedItems(N_ITEMS);
  for (const reground of [true, false]) {
    for (const oracleFallback of [true, false]) {
      const { outcomes } = await loop(policy, items, { ...OPTS, rounds: 2, oracleFallback, reground, maxNew: 64 }, 3);
      outcomes.forEach((o, i) => {
        checkOutcome(items[i]!, o, 2, `reground=${reground} fallback=${oracleFallback} item ${i}`);
        if (o.pieces && !oracleFallback) assert.ok(o.pieces.every((p) => !p.rewritten), 'no oracle text without the fallback');
      });
    }
  }
});

test('tiny policy: re-grounding changes what the policy conditions on (image re-inserted after the prefix)', async () => {
  const { policy } = await tinyPolicy();
  const items = corruptedItems(12);
  const on = spy(policy), off = spy(policy);
  const greedy = { ...OPTS, rounds: 1, oracleFallback: false, temperature: 0, maxNew: 24 };
  await loop(on.policy, items, { ...greedy, reground: true }, 0);
  await loop(off.policy, items, { ...greedy, reground: false }, 0);
  assert.ok(on.reqs[0]!.every((r) => r.segments.length === 3 && r.segments[2]!.kind === 'image'));
  assert.ok(off.reqs[0]!.every((r) => r.segments.length === 2));
  // Same text context, same greedy decoding: only the re-inserted image differs, and the
  // policy's next-token distribution differs with it (the first token's log-prob).
  const differ = on.gens[0]!.filter((g, i) => Math.abs(g.logps[0]! - off.gens[0]![i]!.logps[0]!) > 1e-6).length;
  assert.ok(differ >= items.length / 2, `first-token log-probs differ on ${differ}/${items.length} items`);
  // The text segment before the re-inserted image is exactly prompt + verified prefix.
  on.reqs[0]!.forEach((r, i) => {
    const t = TOKENIZER.decode((r.segments[1] as { ids: number[] }).ids);
    assert.equal(t, items[i]!.task.inst!.question + '\n' + responsePrefix(items[i]!.loc.verifiedPrefix));
    assert.deepEqual(parseResponse(t.slice(t.indexOf('<think>'))).steps, items[i]!.loc.verifiedPrefix);
  });
});

// The default rectifier re-inserts the image after the verified prefix. The tiny policy saw
// such contexts in its second SFT stage (as checkpoints/base does, scripts/make-base.sh);
// before that stage existed it rectified 1/30 this way (it wrote garbage after the image).
test('tiny policy: the re-grounded loop (the default rectifier) rectifies a fair share too', async (t) => {
  const { policy } = await tinyPolicy();
  const items = corruptedItems(N_ITEMS);
  const run = async (reground: boolean) => (await loop(policy, items, { ...OPTS, rounds: 4, reground, maxNew: 64 }, 7)).outcomes;
  const [rg, rs] = [await run(true), await run(false)];
  rg.forEach((o, i) => checkOutcome(items[i]!, o, 4, `re-ground item ${i}`));
  const ok = (os: RectifyOutcome[]) => os.filter((o) => o.pieces).length;
  t.diagnostic(`re-ground ${ok(rg)}/${items.length}, resample ${ok(rs)}/${items.length}`);
  // Measured 12/30 (resample: 20/30). Bound: 8/30.
  assert.ok(ok(rg) >= 8, `re-ground rectified ${ok(rg)}/${items.length}`);
});

test('scripted: adaptive rewrites a step-0 erosion first, and re-reasons a later one like re-ground', async () => {
  // k* = 0: nothing verified, so the first step comes from the prior before the policy continues.
  const fromStart = new ScriptedPolicy(goldRest);
  const first = await loop(fromStart.asPolicy(), [itemAt(0)], { ...OPTS, oracleFirstIfNoPrefix: true }, 0);
  assert.equal(contextText(fromStart.calls[0]!.reqs[0]!), `[IMG]moves LRD\n${responsePrefix(INST.steps.slice(0, 1))}[IMG]`);
  assert.deepEqual(first.outcomes[0]!.pieces!.map((p) => p.rewritten), [false, true, false]);
  checkOutcome(itemAt(0), first.outcomes[0]!, 3, 'adaptive k*=0');
  // k* = 1: a verified prefix exists, so the policy re-reasons from it without a rewrite.
  const later = new ScriptedPolicy(goldRest);
  const second = await loop(later.asPolicy(), [itemAt(1)], { ...OPTS, oracleFirstIfNoPrefix: true }, 0);
  assert.equal(contextText(later.calls[0]!.reqs[0]!), `[IMG]moves LRD\n${responsePrefix(INST.steps.slice(0, 1))}[IMG]`);
  assert.ok(second.outcomes[0]!.pieces!.every((p) => !p.rewritten));
});

// ---------------------------------------------------------------- strategies and the unified rules

test('the rectifier table: each config name is the flags the loop had before the table', () => {
  const flags = (r: Rectifier) => ({ reground: r.reground, r1k0: r.rewriteFirst(1, 0), r1k2: r.rewriteFirst(1, 2), r2k0: r.rewriteFirst(2, 0) });
  assert.deepEqual(flags(RECTIFIERS['re-ground']), { reground: true, r1k0: false, r1k2: false, r2k0: false });
  assert.deepEqual(flags(RECTIFIERS.resample), { reground: false, r1k0: false, r1k2: false, r2k0: false });
  assert.deepEqual(flags(RECTIFIERS.oracle), { reground: false, r1k0: true, r1k2: true, r2k0: true });
  assert.deepEqual(flags(RECTIFIERS.adaptive), { reground: true, r1k0: true, r1k2: false, r2k0: false });
  for (const [name, r] of Object.entries(RECTIFIERS)) assert.equal(r.name, name);
});

test('kept steps: a response extending them adds its newly verified steps; one that started over replaces them only when longer', () => {
  const kept: Piece[] = [{ text: 'a\n', rewritten: false }, { text: 'b\n', rewritten: true }];
  assert.deepEqual(keepVerified(kept, ['a', 'b', 'c']), [...kept, { text: 'c\n', rewritten: false }], 'extends: rewritten marks stay');
  assert.deepEqual(keepVerified(kept, ['a']), kept, 'a shorter chain never shortens the kept one');
  assert.deepEqual(keepVerified(kept, ['x', 'y']), kept, 'a different chain of the same length is not taken');
  assert.deepEqual(keepVerified(kept, ['x', 'y', 'z']), ['x', 'y', 'z'].map((t) => ({ text: t + '\n', rewritten: false })), 'a longer chain replaces, all its own');
});

test('scripted: all steps verified and only the answer wrong: the prior does not rewrite the answer slot', async () => {
  // The policy always repeats the wrong answer: with the fallback on, nothing may be rectified
  // (the loop once written in synth rewrote the answer from the prior here).
  const pol = new ScriptedPolicy(() => '</think><answer>13</answer>');
  const loc: Localization = { step: 3, kind: 'logical', verifiedPrefix: [...INST.steps] };
  const { outcomes } = await loop(pol.asPolicy(), [{ task: instanceTask(INST), loc }], OPTS, 0);
  assert.deepEqual(outcomes, [{ pieces: null, rounds: 3 }]);
  pol.calls.forEach((c) => assert.equal(contextText(c.reqs[0]!), `[IMG]moves LRD\n${responsePrefix(INST.steps)}[IMG]`));
});

test('scripted: items with their own seed continue with seed + round, per row', async () => {
  const pol = new ScriptedPolicy(goldRest);
  await loop(pol.asPolicy(), [{ ...itemAt(1), seed: 100 }, itemAt(2)], { ...OPTS, rounds: 1 }, 5);
  assert.deepEqual(pol.calls[0]!.reqs.map((r) => r.sampling?.seed), [101, undefined]);
  assert.equal(pol.calls[0]!.opts.seed, 6);
});
