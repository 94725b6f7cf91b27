// Evaluation: aggregation against hand-built results, evaluatePolicy's bookkeeping against a
// scripted policy (exact numbers), report shape on a real untrained policy, and pass@k on a
// briefly trained one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamState } from '../../src/engine/optim.js';
import { aggregate, evaluatePolicy, firstErrorHist, outcomeString, type EvalReport, type InstanceResult } from '../../src/eval/evaluate.js';
import { formatErosionTable } from '../../src/eval/table.js';
import type { VlmConfig } from '../../src/model/config.js';
import { instancePatches, promptIds } from '../../src/model/episode.js';
import { Policy, type GenerateOptions, type GenerateRequest, type Generation } from '../../src/model/policy.js';
import { SftStepper, sftBatch } from '../../src/sft/trainer.js';
import {
  formatResponse, generateInstance, getSplit, goldResponse, verifyResponse, Rng, corruptStep,
  type FamilyId, type Instance, type Verification,
} from '../../src/tasks/index.js';

const CFG: VlmConfig = { vocab: 112, dim: 48, layers: 2, heads: 2, mlpRatio: 4, maxText: 128, imageSize: 48, patch: 8 };

function verification(v: Partial<Verification>): Verification {
  return {
    steps: [], firstError: null, firstErrorKind: null, firstErrorReason: null, verifiedPrefix: [], answer: null,
    answerCorrect: false, formatValid: false, complete: false, visualClaims: 0, visualClaimsHeld: 0, ...v,
  };
}

function result(family: FamilyId, horizon: number, r: { correct: boolean; pass: boolean; claims: number; held: number; format: boolean; firstError: number | null; length: number }): InstanceResult {
  return {
    id: `${family}-x-${horizon}`, family, horizon, responses: ['r'], correct: r.correct, passAtK: r.pass, length: r.length,
    verification: verification({ answerCorrect: r.correct, visualClaims: r.claims, visualClaimsHeld: r.held, formatValid: r.format, firstError: r.firstError, complete: r.firstError === null }),
  };
}

test('aggregate and firstErrorHist on hand-built results (grounding = held / claims over all steps, not a mean of ratios)', () => {
  const rs = [
    result('grid', 2, { correct: true, pass: true, claims: 1, held: 1, format: true, firstError: null, length: 10 }),
    result('grid', 3, { correct: false, pass: true, claims: 3, held: 0, format: true, firstError: 0, length: 20 }),
    result('shapes', 2, { correct: false, pass: false, claims: 0, held: 0, format: false, firstError: 2, length: 30 }),
    result('chart', 2, { correct: true, pass: true, claims: 4, held: 4, format: true, firstError: null, length: 40 }),
  ];
  const { accuracy_ci: ci, ...rest } = aggregate(rs);
  assert.deepEqual(rest, { n: 4, accuracy: 0.5, pass_at_k: 0.75, grounding_fidelity: 5 / 8, format_validity: 0.75, mean_length: 25 });
  // Wilson 95% for 2 of 4 (hand-computed): 0.1500 .. 0.8500
  assert.ok(Math.abs(ci[0] - 0.15) < 1e-4 && Math.abs(ci[1] - 0.85) < 1e-4, `${ci}`);
  assert.deepEqual(firstErrorHist(rs), { none: 2, 0: 1, 2: 1 });
  assert.deepEqual(aggregate([]), { n: 0, accuracy: 0, accuracy_ci: [0, 0], pass_at_k: 0, grounding_fidelity: 0, format_validity: 0, mean_length: 0 });
  assert.deepEqual(firstErrorHist([]), {});
  // No visual claims at all: fidelity 0 (nothing was grounded), never NaN.
  assert.equal(aggregate([rs[2]!]).grounding_fidelity, 0);
});

test('formatErosionTable: share of chains first failing at each step, by horizon; outcome strings in instance order', () => {
  const rs = [
    result('grid', 5, { correct: false, pass: false, claims: 2, held: 2, format: true, firstError: 2, length: 10 }),
    result('grid', 5, { correct: false, pass: false, claims: 5, held: 4, format: true, firstError: 4, length: 10 }),
    result('grid', 5, { correct: true, pass: true, claims: 5, held: 5, format: true, firstError: null, length: 10 }),
    result('grid', 5, { correct: false, pass: false, claims: 0, held: 0, format: false, firstError: 0, length: 10 }),
  ];
  const report = { ...aggregate(rs), samples: 1, temperature: 0, first_error_hist: firstErrorHist(rs), by_family: [], results: rs,
    by_horizon: [{ family: 'grid' as const, horizon: 5, ...aggregate(rs), first_error_hist: firstErrorHist(rs) }] };
  const table = formatErosionTable([{ split: 'test', report }]).split('\n');
  assert.equal(table[2], '| test | grid | 5 | 4 | 25.0% | 25.0% | 0.0% | 25.0% | 0.0% | 25.0% | 25.0% |');
  assert.equal(outcomeString(rs), '0010');
});

/** A policy whose generate() returns scripted texts in request order and records its calls. */
function scriptedPolicy(texts: string[]): { policy: Policy; calls: { reqs: GenerateRequest[]; opts: GenerateOptions }[] } {
  const policy = Policy.init({ ...CFG, dim: 16, heads: 2, layers: 1 }, 1, undefined, 1);
  const calls: { reqs: GenerateRequest[]; opts: GenerateOptions }[] = [];
  let next = 0;
  policy.generate = async (reqs: GenerateRequest[], opts: GenerateOptions): Promise<Generation[]> => {
    calls.push({ reqs, opts });
    return reqs.map(() => ({ tokens: policy.tokenizer.encode(texts[next++]!), logps: [], finished: true }));
  };
  return { policy, calls };
}

test('evaluatePolicy with a scripted policy: exact accuracy, pass@k, grounding, format, lengths, by_family and by_horizon', async () => {
  const g3 = generateInstance('grid', 12, 3), s2 = generateInstance('shapes', 13, 2), g2 = generateInstance('grid', 11, 2);
  const c2 = generateInstance('chart', 14, 2), g2b = generateInstance('grid', 15, 2);
  const instances = [g3, s2, g2, c2, g2b];
  const badStep = corruptStep(g2, 0, 'visual', new Rng(1));
  assert.ok(badStep !== null);
  const k = 2;
  const script: [Instance, string[]][] = [
    [g3, [goldResponse(g3), goldResponse(g3)]],
    [s2, ['hello', goldResponse(s2)]], // first wrong, second right: pass@2 but not accuracy
    [g2, [formatResponse([badStep, g2.steps[1]!], g2.answer), 'x']], // right answer, a false visual claim
    [c2, [`<answer>${c2.answer}</answer>`, 'nope']], // right answer, malformed
    [g2b, [formatResponse(g2b.steps, g2b.answer === '00' ? '11' : '00'), goldResponse(g2b)]], // wrong answer
  ];
  const { policy, calls } = scriptedPolicy(script.flatMap(([, t]) => t));
  const rep = await evaluatePolicy(policy, instances, { temperature: 0.7, topP: 0.9, samples: k, seed: 5, batchSize: 4 });

  // Requests: k consecutive copies per instance, [image, text(<bos> + prompt)], in batches of 4.
  const reqs = calls.flatMap((c) => c.reqs);
  assert.deepEqual(calls.map((c) => c.reqs.length), [4, 4, 2]);
  assert.equal(reqs.length, instances.length * k);
  reqs.forEach((r, i) => {
    const inst = instances[Math.floor(i / k)]!;
    assert.deepEqual(r.segments, [{ kind: 'image' }, { kind: 'text', ids: promptIds(inst, policy.tokenizer) }]);
    assert.deepEqual(r.patches, instancePatches(inst, policy.cfg));
  });
  const longest = Math.max(...instances.map((i) => policy.tokenizer.encode(goldResponse(i)).length));
  for (const c of calls) {
    assert.equal(c.opts.temperature, 0.7);
    assert.equal(c.opts.topP, 0.9);
    assert.equal(c.opts.maxNew, Math.min(Math.ceil(1.5 * longest) + 16, policy.cfg.maxText));
  }
  assert.deepEqual(new Set(calls.map((c) => c.opts.seed)).size, calls.length, 'each batch gets its own seed');

  // Expected numbers, computed independently from the verifier.
  const exp = script.map(([inst, texts]) => {
    const vs = texts.map((t) => verifyResponse(inst, t));
    return { inst, texts, v: vs[0]!, correct: vs[0]!.answerCorrect, pass: vs.some((v) => v.answerCorrect), len: policy.tokenizer.encode(texts[0]!).length };
  });
  assert.deepEqual(exp.map((e) => e.correct), [true, false, true, true, false]);
  assert.deepEqual(exp.map((e) => e.pass), [true, true, true, true, true]);
  assert.ok(exp[2]!.v.visualClaimsHeld < exp[2]!.v.visualClaims, 'the corrupted step makes a false visual claim');
  assert.equal(exp[3]!.v.formatValid, false);
  const agg = (es: typeof exp) => {
    const claims = es.reduce((a, e) => a + e.v.visualClaims, 0);
    const held = es.reduce((a, e) => a + e.v.visualClaimsHeld, 0);
    return {
      n: es.length,
      accuracy: es.filter((e) => e.correct).length / es.length,
      pass_at_k: es.filter((e) => e.pass).length / es.length,
      grounding_fidelity: claims ? held / claims : 0,
      format_validity: es.filter((e) => e.v.formatValid).length / es.length,
      mean_length: es.reduce((a, e) => a + e.len, 0) / es.length,
    };
  };
  const pick = (r: object) => { const { n, accuracy, pass_at_k, grounding_fidelity, format_validity, mean_length } = r as EvalReport; return { n, accuracy, pass_at_k, grounding_fidelity, format_validity, mean_length }; };
  assert.deepEqual(pick(rep), agg(exp));
  assert.equal(rep.accuracy, 0.6);
  assert.equal(rep.pass_at_k, 1);
  assert.equal(rep.samples, k);
  assert.equal(rep.temperature, 0.7);
  assert.deepEqual(rep.results.map((r) => r.responses), script.map(([, t]) => t));
  assert.deepEqual(rep.results.map((r) => r.id), instances.map((i) => i.id));
  const hist: Record<string, number> = {};
  for (const e of exp) { const key = e.v.firstError === null ? 'none' : String(e.v.firstError); hist[key] = (hist[key] ?? 0) + 1; }
  assert.deepEqual(rep.first_error_hist, hist);

  // by_family in order of first appearance; by_horizon grouped by (family, horizon), horizons ascending.
  assert.deepEqual(rep.by_family.map((f) => f.family), ['grid', 'shapes', 'chart']);
  assert.deepEqual(pick(rep.by_family[0]!), agg(exp.filter((e) => e.inst.family === 'grid')));
  assert.deepEqual(rep.by_horizon.map((h) => [h.family, h.horizon, h.n]), [['grid', 2, 2], ['grid', 3, 1], ['shapes', 2, 1], ['chart', 2, 1]]);
  for (const h of rep.by_horizon) {
    const es = exp.filter((e) => e.inst.family === h.family && e.inst.horizon === h.horizon);
    assert.deepEqual(pick(h), agg(es), `${h.family} h${h.horizon}`);
  }
  const grid2 = rep.by_horizon[0]!;
  assert.equal(grid2.accuracy, 0.5); // g2 right (despite the bad step), g2b wrong
  assert.ok(grid2.grounding_fidelity < 1);
  assert.deepEqual(grid2.first_error_hist, { 0: 1, [String(exp[4]!.v.firstError)]: 1 });
});

function assertWellFormed(rep: EvalReport, instances: Instance[]): void {
  const unit = (x: unknown, what: string) => assert.ok(typeof x === 'number' && x >= 0 && x <= 1, `${what} = ${x}`);
  for (const key of ['accuracy', 'grounding_fidelity', 'format_validity', 'pass_at_k'] as const) unit(rep[key], key);
  assert.equal(rep.n, instances.length);
  assert.ok(rep.pass_at_k >= rep.accuracy);
  assert.ok(rep.mean_length > 0 && Number.isFinite(rep.mean_length));
  assert.equal(rep.results.length, instances.length);
  const pairs = [...new Set(instances.map((i) => `${i.family}:${i.horizon}`))];
  assert.equal(rep.by_horizon.length, pairs.length);
  assert.equal(rep.by_horizon.reduce((a, h) => a + h.n, 0), instances.length);
  for (const h of rep.by_horizon) {
    assert.ok(pairs.includes(`${h.family}:${h.horizon}`));
    assert.ok(Number.isInteger(h.horizon) && Number.isInteger(h.n) && h.n > 0);
    unit(h.accuracy, `${h.family}/${h.horizon} accuracy`);
    unit(h.grounding_fidelity, `${h.family}/${h.horizon} grounding_fidelity`);
    assert.equal(h.n, instances.filter((i) => i.family === h.family && i.horizon === h.horizon).length);
  }
  assert.equal(Object.values(rep.first_error_hist).reduce((a, b) => a + b, 0), instances.length);
  // The report is what `ivr eval --json` prints: it must survive JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(rep)), rep);
}

test('evaluatePolicy on a tiny untrained policy: well-formed report (greedy, and greedy with k = 3 equals k = 1)', async () => {
  const policy = Policy.init(CFG, 3, undefined, 1);
  const instances = (['grid', 'shapes', 'chart'] as const).flatMap((f) => getSplit(f, 'val', 4));
  const rep = await evaluatePolicy(policy, instances, { temperature: 0, topP: 1, samples: 1, seed: 0, maxNew: 24, batchSize: 5 });
  assertWellFormed(rep, instances);
  assert.equal(rep.samples, 1);
  assert.equal(rep.pass_at_k, rep.accuracy);
  for (const r of rep.results) assert.ok(policy.tokenizer.encode(r.responses[0]!).length <= 24);
  // Greedy is deterministic: k greedy samples are k copies of the greedy response.
  const rep3 = await evaluatePolicy(policy, instances, { temperature: 0, topP: 1, samples: 3, seed: 9, maxNew: 24, batchSize: 7 });
  assertWellFormed(rep3, instances);
  rep3.results.forEach((r, i) => assert.deepEqual(r.responses, [0, 1, 2].map(() => rep.results[i]!.responses[0]!)));
  assert.equal(rep3.pass_at_k, rep.accuracy);
});

test('pass@k: on a briefly SFT-trained policy, pass@8 at temperature 1 >= greedy accuracy; sampling is seeded', async () => {
  const instances = (['grid', 'shapes', 'chart'] as const).flatMap((f) => [generateInstance(f, 101, 2), generateInstance(f, 202, 2)]);
  const policy = Policy.init(CFG, 7, undefined, 1);
  const state = AdamState.zeros(policy.params.specs);
  const batch = sftBatch(policy, instances.map((inst) => ({ inst, response: goldResponse(inst) })));
  const step = await new SftStepper(policy, { weightDecay: 0, maxGradNorm: 1 }).get(batch.T);
  let loss = Infinity;
  while (state.step < 300 && loss > 0.05) loss = (await step.run(policy.params, state, batch.feeds, 3e-3)).loss;
  assert.ok(loss <= 0.05, `loss ${loss}`);

  const greedy = await evaluatePolicy(policy, instances, { temperature: 0, topP: 1, samples: 1, seed: 0 });
  const opts = { temperature: 1, topP: 1, samples: 8, seed: 1 };
  const sampled = await evaluatePolicy(policy, instances, opts);
  assertWellFormed(greedy, instances);
  assertWellFormed(sampled, instances);
  assert.ok(greedy.accuracy >= 5 / 6, `greedy accuracy ${greedy.accuracy}`);
  assert.ok(sampled.pass_at_k >= greedy.accuracy, `pass@8 ${sampled.pass_at_k} < greedy ${greedy.accuracy}`);
  assert.ok(sampled.pass_at_k >= sampled.accuracy);
  for (const r of sampled.results) {
    assert.equal(r.responses.length, 8);
    const inst = instances.find((i) => i.id === r.id)!;
    assert.equal(r.passAtK, r.responses.some((t) => verifyResponse(inst, t).answerCorrect));
    assert.equal(r.correct, verifyResponse(inst, r.responses[0]!).answerCorrect);
  }
  // Temperature 1 really samples (some instance gets two different responses) ...
  assert.ok(sampled.results.some((r) => new Set(r.responses).size > 1), 'no diversity at temperature 1');
  // ... and the same seed reproduces the same samples.
  const again = await evaluatePolicy(policy, instances, opts);
  assert.deepEqual(again.results.map((r) => r.responses), sampled.results.map((r) => r.responses));
});
