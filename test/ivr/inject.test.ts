// IVR-R1 injection and step-level credit (DESIGN §7.4–7.5), against hand-computed values:
// the augmenter returns the rectified trajectory (the groups are not touched); as a member it
// joins its group's advantages with its reward recomputed;
// rewritten tokens (and only those) are off-policy when shaping is on; flagged rollouts'
// negative advantage starts at their eroded step; the update feeds put everything at the right
// token positions. Driven by a scripted policy, so every number here is exact.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { likelihoodInjector, memberInjector, prefixInjector } from '../../src/ivr/inject.js';
import { ivrAugmenter } from '../../src/ivr/method.js';
import type { Piece } from '../../src/ivr/rereason.js';
import { groupAdvantages } from '../../src/rl/advantages.js';
import { parseTrainConfig as parseRlConfig, type TrainConfig as RlConfig } from '../../src/ivr/config.js';
import type { Group, Sample } from '../../src/rl/rollout.js';
import { RlUpdater, type TrainRow } from '../../src/rl/update.js';
import { formatResponse, getSplit, goldResponse, responsePrefix, type Instance } from '../../src/tasks/index.js';
import { contextText, fakeGroup, patchLen, ScriptedPolicy, TOKENIZER, textSample } from '../helpers/rl-fixtures.js';

// grid-4-3: "moves LRD", gold L 13 o 13 / R 14 o 14 / D 24 w 14, answer 14. Every grid step is
// 9 characters, i.e. 9 tokens (char-level), and 10 with its newline. Token counts:
// "<think>\n" = 2, each step line = 10, "</think><answer>14</answer>" = 1 + 1 + 2 + 1 = 5,
// so a full 3-step response is 37 tokens. The prompt [<bos>, "moves LRD\n"] is 11 tokens.
const INST: Instance = getSplit('grid', 'train', 5)[4]!;
const [G0, G1, G2] = INST.steps as [string, string, string];
const VISUAL_AT_1 = formatResponse([G0, 'R 14 w 13', 'D 23 o 23'], '23'); // step 1 claims 14 is a wall (it is open)
const WRONG_ANSWER = formatResponse(INST.steps, '13'); // every step right, answer wrong
const LOGICAL_AT_0 = formatResponse(['L 13 o 12', 'R 13 o 13', 'D 23 o 23'], '23'); // step 0: target right, position wrong
const GARBAGE = 'Q\n</think><answer>0</answer>'; // 6 tokens, unreadable first step
const SQ5 = Math.sqrt(5);
const SQ3 = Math.sqrt(3);

// The hand-computed rewards below include the 0.1 format bonus (no longer the default, #12).
function ivrConfig(over: Record<string, unknown> = {}, ivr: Record<string, unknown> = {}): RlConfig {
  return parseRlConfig({ method: 'ivr', reward: { mode: 'accuracy+format', format_bonus: 0.1 }, ...over, ivr: { tau: 0.5, max_rectifications: 2, rounds: 3, rectifier: 're-ground', oracle_fallback: true, step_credit: true, shaping: true, ...ivr } }, 'test');
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('fixture sanity: the hand-counted token lengths and the flawed rollouts', () => {
  assert.equal(INST.question, 'moves LRD');
  assert.deepEqual(INST.steps, ['L 13 o 13', 'R 14 o 14', 'D 24 w 14']);
  assert.equal(TOKENIZER.encode(goldResponse(INST)).length, 37);
  assert.equal(TOKENIZER.encode(GARBAGE).length, 6);
  assert.equal(fakeGroup([], INST).promptIds.length, 11);
  for (const [text, step, kind] of [[VISUAL_AT_1, 1, 'visual'], [WRONG_ANSWER, 3, 'logical'], [LOGICAL_AT_0, 0, 'logical']] as const) {
    const s = textSample(INST, 'policy', text);
    assert.equal(s.reward, 0.1);
    assert.equal(s.verification.firstError, step);
    assert.equal(s.verification.firstErrorKind, kind);
    assert.equal(s.responseIds.length, 37);
  }
});

test('memberInjector: the rectified sample for the group, reward recomputed, off-policy = rewritten tokens', async () => {
  const pieces: Piece[] = [
    { text: '<think>\n', rewritten: false },
    { text: G0 + '\n', rewritten: false },
    { text: G1 + '\n', rewritten: true },
    { text: G2 + '\n</think><answer>14</answer>', rewritten: false },
  ];
  const policy = new ScriptedPolicy(() => '').asPolicy();
  for (const shaping of [true, false]) {
    const cfg = ivrConfig({}, { shaping });
    const g = fakeGroup([0, 1, 2, 3].map(() => textSample(INST, 'policy', WRONG_ANSWER)), INST);
    const m = await memberInjector.inject([{ group: g, index: 3, pieces }], { policy, cfg, seed: 0 });
    assert.deepEqual([m.members.length, m.demos.length, m.genTokens], [1, 0, 0]);
    assert.equal(m.members[0]!.group, 3);
    assert.equal(m.members[0]!.prompt, undefined, 'conditioned on the group\'s own prompt');
    const s = m.members[0]!.sample;
    assert.equal(g.samples.length, 4, 'the injector returns the sample; the group is not touched');
    assert.equal(s.kind, 'rectified');
    assert.equal(s.responseText, goldResponse(INST));
    assert.deepEqual(s.responseIds, TOKENIZER.encode(goldResponse(INST)));
    assert.equal(s.reward, 1.1); // accuracy 1 + format bonus 0.1, recomputed from the text
    assert.equal(s.accuracy, 1);
    assert.equal(s.verification.complete, true);
    assert.equal(s.finished, true);
    assert.deepEqual(Array.from(s.rewritten!), Array.from({ length: 37 }, (_, i) => (i >= 12 && i <= 21 ? 1 : 0)));
    // Tokens 12..21 (the rewritten second step and its newline) are off-policy; nothing else.
    const want = Array.from({ length: 37 }, (_, i) => (shaping && i >= 12 && i <= 21 ? 1 : 0));
    assert.deepEqual(Array.from(s.offPolicy), want, `shaping=${shaping}`);
    // likelihood: the same trajectory as a demonstration (NLL, no shaping), rewritten marks kept.
    const l = await likelihoodInjector.inject([{ group: g, index: 3, pieces }], { policy, cfg, seed: 0 });
    assert.deepEqual([l.members.length, l.demos.length], [0, 1]);
    const d = l.demos[0]!;
    assert.equal(d.prompt.promptIds, g.promptIds);
    assert.deepEqual(d.sample.responseIds, s.responseIds);
    assert.ok(d.sample.offPolicy.every((x) => x === 0));
    assert.deepEqual(d.sample.rewritten, s.rewritten);
  }
});

test('advantages with the demonstration included (hand-computed): an all-fail group gains a signal', async () => {
  // Four format-valid wrong rollouts (reward 0.1 each) are a zero-variance group: no signal.
  const before = groupAdvantages([[0.1, 0.1, 0.1, 0.1]], 'grpo');
  assert.deepEqual(before.advantages, [[0, 0, 0, 0]]);
  assert.deepEqual(before.zeroVariance, [true]);
  // With the rectified member (1.1): mean 0.3, deviations (-0.2 ×4, 0.8), unbiased variance
  // (4·0.04 + 0.64)/4 = 0.2, std 1/√5 -> advantages -0.2·√5 = -1/√5 and 0.8·√5 = 4/√5.
  const g = fakeGroup([0, 1, 2, 3].map(() => textSample(INST, 'policy', WRONG_ANSWER)), INST);
  g.samples.push((await memberInjector.inject([{ group: g, index: 0, pieces: [{ text: goldResponse(INST), rewritten: false }] }], { policy: new ScriptedPolicy(() => '').asPolicy(), cfg: ivrConfig(), seed: 0 })).members[0]!.sample);
  const rewards = g.samples.map((s) => s.reward);
  close(rewards, [0.1, 0.1, 0.1, 0.1, 1.1], 1e-12, 'rewards');
  close(groupAdvantages([rewards], 'grpo').advantages[0]!, [-1 / SQ5, -1 / SQ5, -1 / SQ5, -1 / SQ5, 4 / SQ5], 1e-5, 'grpo');
  close(groupAdvantages([rewards], 'drgrpo').advantages[0]!, [-0.2, -0.2, -0.2, -0.2, 0.8], 1e-12, 'drgrpo');
});

/** Two groups as after a rollout: G1 all fail (rate 0), G2 one of two right (rate 0.5). */
function batch(): { g1: Group; g2: Group } {
  return {
    g1: fakeGroup([VISUAL_AT_1, WRONG_ANSWER, VISUAL_AT_1, WRONG_ANSWER].map((t) => textSample(INST, 'policy', t)), INST),
    g2: fakeGroup([textSample(INST, 'policy', goldResponse(INST)), textSample(INST, 'policy', LOGICAL_AT_0)], INST),
  };
}

/** Round 1: garbage for every row (so the oracle rewrites the eroded step); round 2: the gold rest. */
function twoRoundScript(): ScriptedPolicy {
  return new ScriptedPolicy((req, _row, call) => {
    if (call === 0) return GARBAGE;
    const ctx = contextText(req);
    const have = ctx.slice(ctx.indexOf('<think>\n') + '<think>\n'.length).split('\n').filter((l) => l && l !== '[IMG]');
    return goldResponse(INST).slice(responsePrefix(have).length);
  });
}

test('ivrAugmenter: screen -> localise -> re-reason -> inject, stats and step-level credit (hand-computed)', async () => {
  const cfg = ivrConfig();
  const { g1, g2 } = batch();
  const policy = twoRoundScript();
  const res = await ivrAugmenter(cfg).augment([g1, g2], { policy: policy.asPolicy(), cfg, iteration: 0, seed: 5 });

  // Screening chose G1's first rollout (all-fail group first) and G2's flawed one (M = 2).
  // Rectification: G1[0] keeps G0, round 1 fails, the oracle writes G1, round 2 finishes;
  // G2[1] keeps nothing, the oracle writes G0, round 2 finishes. Both: 2 rounds.
  assert.equal(policy.calls.length, 2);
  assert.deepEqual(policy.calls.map((c) => c.reqs.length), [2, 2]);
  for (const c of policy.calls) for (const r of c.reqs) assert.deepEqual(r.segments.map((s) => s.kind), ['image', 'text', 'image'], 're-grounded context');
  assert.deepEqual(policy.calls[0]!.reqs.map(contextText), [
    `[IMG]moves LRD\n<think>\n${G0}\n[IMG]`,
    `[IMG]moves LRD\n<think>\n[IMG]`,
  ]);
  assert.deepEqual(policy.calls[1]!.reqs.map(contextText), [
    `[IMG]moves LRD\n<think>\n${G0}\n${G1}\n[IMG]`,
    `[IMG]moves LRD\n<think>\n${G0}\n[IMG]`,
  ]);

  assert.equal(g1.samples.length, 4, 'groups untouched');
  assert.equal(g2.samples.length, 2, 'groups untouched');
  assert.deepEqual(res.members.map((m) => m.group), [0, 1]);
  assert.equal(res.demos.length, 0);
  const [r1, r2] = res.members.map((m) => m.sample) as [Sample, Sample];
  for (const r of [r1, r2]) {
    assert.equal(r.kind, 'rectified');
    assert.equal(r.responseText, goldResponse(INST));
    assert.equal(r.reward, 1.1);
  }
  // Off-policy: the rewritten step only (G1 at tokens 12..21 in r1, G0 at tokens 2..11 in r2).
  assert.deepEqual(Array.from(r1.offPolicy), Array.from({ length: 37 }, (_, i) => (i >= 12 && i <= 21 ? 1 : 0)));
  assert.deepEqual(Array.from(r2.offPolicy), Array.from({ length: 37 }, (_, i) => (i >= 2 && i <= 11 ? 1 : 0)));

  // Step-level credit: creditFrom = tokens of "<think>\n" + verified prefix lines.
  assert.deepEqual(g1.samples.map((s) => res.creditFrom.get(s)), [12, 32, 12, 32]);
  assert.deepEqual(g2.samples.map((s) => res.creditFrom.get(s)), [undefined, 2]);

  const s = res.stats;
  assert.equal(s.ivr_flagged, 5);
  assert.equal(s.ivr_attempted, 2);
  assert.equal(s.ivr_rectified, 2);
  assert.equal(s.ivr_rectify_rate, 1);
  assert.equal(s.ivr_rounds_mean, 2);
  assert.deepEqual(s.ivr_first_error_hist, { 0: 1, 1: 2, 3: 2 });
  assert.deepEqual(s.ivr_error_kinds, { visual: 2, logical: 3 });
  // Loop tokens: round 1 two garbage answers (2·6), round 2 the gold rests (15 + 25).
  assert.equal(res.extraGenTokens, 52);
  assert.equal(s.ivr_loop_tokens, 52);
  assert.equal(s.ivr_rewritten_tokens, 20);
  // Demo share: 2 rectified × 37 tokens out of 8 samples × 37 tokens.
  assert.equal(s.ivr_demo_token_frac, 2 / 8);
  assert.equal(typeof s.t_ivr_s, 'number');
});

test('update feeds: per-token advantages with step-level credit, masks, old log-probs and off-policy at prompt-offset positions', async () => {
  const cfg = ivrConfig();
  const { g1, g2 } = batch();
  const policy = twoRoundScript();
  const res = await ivrAugmenter(cfg).augment([g1, g2], { policy: policy.asPolicy(), cfg, iteration: 0, seed: 5 });
  const members = [g1, g2].map((g, i) => [...g.samples, ...res.members.filter((m) => m.group === i).map((m) => m.sample)]);
  const adv = groupAdvantages(members.map((ss) => ss.map((s) => s.reward)), cfg.advantage).advantages;
  close(adv[0]!, [-1 / SQ5, -1 / SQ5, -1 / SQ5, -1 / SQ5, 4 / SQ5], 1e-5, 'G1 advantages');
  // G2 rewards (1.1, 0.1, 1.1): mean 23/30, deviations (1/3, -2/3, 1/3), unbiased var 1/3.
  close(adv[1]!, [1 / SQ3, -2 / SQ3, 1 / SQ3], 1e-5, 'G2 advantages');

  const rowsWith = (credit: boolean): TrainRow[] => members.flatMap((ss, gi) => ss.map((sample, j) => ({ g: [g1, g2][gi]!, sample, advantage: adv[gi]![j]! })))
    .map(({ g, sample, advantage }, b) => ({
      patches: g.patches, promptIds: g.promptIds, sample, advantage, nllWeight: 0,
      creditFrom: credit ? res.creditFrom.get(sample) : undefined,
      oldLogp: Float32Array.from(sample.responseIds, (_, i) => -(b * 100 + i + 1) / 1000),
      refLogp: Float32Array.from(sample.responseIds, (_, i) => -(b * 100 + i + 1) / 500),
    }));
  const updater = new RlUpdater(policy.asPolicy(), cfg);
  // The feeds carry the rows' advantages (checked against the hand values above) exactly.
  const A = adv[0]![0]!;
  const [P1, N2] = [adv[1]![0]!, adv[1]![1]!];
  for (const credit of [true, false]) {
    const rows = rowsWith(credit);
    const { T, feeds } = updater.feeds(rows);
    // Prompt 11 tokens + response 37 -> 47 positions, padded to 48. Position t predicts token
    // t+1, so response token i sits at position 10 + i (positions 10..46).
    assert.equal(T, 48);
    const B = rows.length;
    assert.deepEqual(feeds.adv!.shape, [B, 48]);
    assert.deepEqual(feeds.patches!.shape.slice(0, 1), [B]);
    assert.equal((feeds.patches!.data as Float32Array).length, B * patchLen());
    assert.ok(feeds.ref_logp, 'beta > 0 feeds the reference log-probs');
    const row = (name: string, b: number) => Array.from((feeds[name]!.data as Float32Array).slice(b * T, (b + 1) * T), Number);
    const span = (from: number, to: number, v: number, rest = 0) => Array.from({ length: 48 }, (_, t) => (t >= from && t <= to ? v : rest));
    for (let b = 0; b < B; b++) {
      assert.deepEqual(row('mask', b), span(10, 46, 1), `mask row ${b}`);
      close(row('old_logp', b), Array.from({ length: 48 }, (_, t) => (t >= 10 && t <= 46 ? Math.fround(-(b * 100 + t - 10 + 1) / 1000) : 0)), 0, `old_logp row ${b}`);
      close(row('ref_logp', b), Array.from({ length: 48 }, (_, t) => (t >= 10 && t <= 46 ? Math.fround(-(b * 100 + t - 10 + 1) / 500) : 0)), 0, `ref_logp row ${b}`);
      const text = [...rows[b]!.promptIds, ...rows[b]!.sample.responseIds];
      const ids: number[] = Array.from((feeds.ids!.data as BigInt64Array).slice(b * T, (b + 1) * T), Number);
      const tg: number[] = Array.from((feeds.targets!.data as BigInt64Array).slice(b * T, (b + 1) * T), Number);
      assert.deepEqual(ids, [...text.slice(0, 47), 0], `ids row ${b}`);
      assert.deepEqual(tg, [...text.slice(1, 48), 0], `targets row ${b}`);
    }
    const f = Math.fround;
    // G1[0], G1[2]: eroded at step 1 -> the verified first step (response tokens 0..11,
    // positions 10..21) is not punished; from position 22 on the advantage is -1/√5 (G1[0]'s).
    // G1[1], G1[3]: every step verified, the answer wrong -> only the last 5 tokens
    // ("</think><answer>13</answer>", positions 42..46) are punished.
    // G1[4] (rectified, positive): the whole response gets +4/√5.
    const expected = [
      credit ? span(22, 46, f(A)) : span(10, 46, f(A)),
      credit ? span(42, 46, f(A)) : span(10, 46, f(A)),
      credit ? span(22, 46, f(A)) : span(10, 46, f(A)),
      credit ? span(42, 46, f(A)) : span(10, 46, f(A)),
      span(10, 46, f(adv[0]![4]!)),
      span(10, 46, f(P1)), // G2[0], correct, positive: unchanged
      credit ? span(12, 46, f(N2)) : span(10, 46, f(N2)), // G2[1]: eroded at step 0, creditFrom 2 ("<think>\n")
      span(10, 46, f(P1)), // G2[2], rectified
    ];
    expected.forEach((e, b) => close(row('adv', b), e, 0, `adv row ${b} (credit ${credit})`));
    // Off-policy: rewritten tokens of the rectified samples only.
    const offs = [0, 0, 0, 0, 1, 0, 0, 2];
    offs.forEach((o, b) => {
      const want = o === 1 ? span(22, 31, 1) : o === 2 ? span(12, 21, 1) : span(0, -1, 1);
      assert.deepEqual(row('off_policy', b), want, `off_policy row ${b}`);
    });
  }
  const noRef = new RlUpdater(policy.asPolicy(), ivrConfig({ beta: 0 })).feeds(rowsWith(true));
  assert.equal(noRef.feeds.ref_logp, undefined, 'beta = 0 feeds no reference log-probs');
});

test('shaping = false: rectified samples carry no off-policy tokens (rewritten text is scored like sampled text)', async () => {
  const cfg = ivrConfig({}, { shaping: false, step_credit: false });
  const { g1, g2 } = batch();
  const res = await ivrAugmenter(cfg).augment([g1, g2], { policy: twoRoundScript().asPolicy(), cfg, iteration: 0, seed: 5 });
  assert.equal(res.stats.ivr_rectified, 2);
  for (const { sample } of res.members) assert.ok(sample.offPolicy.every((x) => x === 0), 'no off-policy token without shaping');
  assert.equal(res.stats.ivr_rewritten_tokens, 20, 'the prior still wrote two steps');
});

test('M = 0: nothing is rectified or generated, but flagged rollouts are still localised for credit', async () => {
  const cfg = ivrConfig({}, { max_rectifications: 0 });
  const { g1, g2 } = batch();
  const policy = twoRoundScript();
  const res = await ivrAugmenter(cfg).augment([g1, g2], { policy: policy.asPolicy(), cfg, iteration: 0, seed: 5 });
  assert.equal(policy.calls.length, 0);
  assert.equal(res.extraGenTokens, 0);
  assert.equal(res.stats.ivr_flagged, 5);
  assert.equal(res.stats.ivr_attempted, 0);
  assert.equal(res.stats.ivr_rectify_rate, 0);
  assert.equal(g1.samples.length, 4);
  assert.deepEqual(g1.samples.map((s) => res.creditFrom.get(s)), [12, 32, 12, 32]);
});

// Step-level credit must follow the rollout's own text layout (no <think>, a leading blank
// line, text on the <think> line), not the canonical prefix "<think>\n" + verified steps.
test('creditFrom points at the eroded step in the rollout\'s own tokens, whatever its layout', async () => {
  const cfg = ivrConfig({}, { max_rectifications: 0 });
  const noThink = `${G0}\n${G1}\n</think><answer>0</answer>`; // format error at step 0: punish from token 0
  const blankFirst = `\n<think>\n${G0}\nR 14 w 13\n</think><answer>0</answer>`; // eroded step starts at token 13
  const sameLine = `<think>${G0}\nR 14 w 13\n</think><answer>0</answer>`; // eroded step starts at token 11
  const g = fakeGroup([noThink, blankFirst, sameLine].map((t) => textSample(INST, 'policy', t)), INST);
  const res = await ivrAugmenter(cfg).augment([g], { policy: twoRoundScript().asPolicy(), cfg, iteration: 0, seed: 5 });
  assert.deepEqual(g.samples.map((s) => res.creditFrom.get(s)), [0, 13, 11]);
});

test('prefixInjector: the hint is the verified prefix plus the first rewritten step; continuations join the group conditioned on it; NLL on the rewritten step', async () => {
  const pieces: Piece[] = [
    { text: '<think>\n', rewritten: false },
    { text: G0 + '\n', rewritten: false },
    { text: G1 + '\n', rewritten: true },
    { text: G2 + '\n</think><answer>14</answer>', rewritten: false },
  ];
  // Continuations: the first right (the gold rest), the second with a wrong answer.
  const policy = new ScriptedPolicy((_req, row) => (row % 2 === 0 ? `${G2}\n</think><answer>14</answer>` : `${G2}\n</think><answer>13</answer>`));
  const cfg = ivrConfig({}, { inject: 'prefix', prefix_samples: 2, shaping: false });
  const g = fakeGroup([0, 1].map(() => textSample(INST, 'policy', WRONG_ANSWER)), INST);
  const noRewrite: Piece[] = [{ text: goldResponse(INST), rewritten: false }];
  const r = await prefixInjector.inject([{ group: g, index: 1, pieces }, { group: g, index: 1, pieces: noRewrite }], { policy: policy.asPolicy(), cfg, seed: 7 });

  // One generate call: 2 continuations of the one hint, in the plain context [image, prompt + hint].
  assert.equal(policy.calls.length, 1);
  assert.deepEqual(policy.calls[0]!.reqs.map(contextText), [0, 1].map(() => `[IMG]moves LRD\n<think>\n${G0}\n${G1}\n`));
  // The trajectory without a rewrite is a plain member; the two continuations follow.
  assert.equal(r.members.length, 3);
  assert.equal(r.members[0]!.prompt, undefined);
  assert.equal(r.members[0]!.sample.responseText, goldResponse(INST));
  const [c0, c1] = [r.members[1]!, r.members[2]!];
  for (const c of [c0, c1]) {
    assert.equal(c.group, 1);
    assert.deepEqual(c.prompt!.promptIds, [...g.promptIds, ...TOKENIZER.encode(`<think>\n${G0}\n${G1}\n`)], 'conditioned on the hint');
    assert.ok(c.sample.offPolicy.every((x) => x === 0), 'the continuation is on-policy');
  }
  assert.equal(c0.sample.responseText, `${G2}\n</think><answer>14</answer>`, 'trained on the continuation alone');
  assert.deepEqual([c0.sample.accuracy, c1.sample.accuracy], [1, 0], 'rewarded as the whole response');
  assert.equal(c0.sample.reward, 1.1);
  assert.equal(r.genTokens, c0.sample.responseIds.length + c1.sample.responseIds.length);
  // NLL on the rewritten step given the verified prefix.
  assert.equal(r.demos.length, 1);
  assert.deepEqual(r.demos[0]!.prompt.promptIds, [...g.promptIds, ...TOKENIZER.encode(`<think>\n${G0}\n`)]);
  assert.equal(r.demos[0]!.sample.responseText, `${G1}\n`);
  assert.ok(r.demos[0]!.sample.rewritten!.every((x) => x === 1));
});
