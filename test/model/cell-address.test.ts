// model.cellAddress (vlm.ts "Cell addressing"): every path that runs the model (full forward,
// layout forward with a re-inserted image, KV-cached sampling) must add the same address
// term. The address weights start at std 0.02, where a wrong cell code would hide below the
// tolerance, so the tests scale them up until the term moves the log-probs by whole nats.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import { numPatches, patchDim, type VlmConfig } from '../../src/model/config.js';
import { Policy } from '../../src/model/policy.js';
import { kvVersusFull, regroundedVersusLayout } from '../helpers/path-agreement.js';

const CFG: VlmConfig = { vocab: 112, dim: 32, layers: 2, heads: 2, mlpRatio: 2, maxText: 96, imageSize: 24, patch: 8, cellAddress: 1 };

function randomPatches(seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: numPatches(CFG) * patchDim(CFG) }, () => rng.float() * 2 - 1);
}

/** A cellAddress policy whose address weights are `scale` times their initial values. */
function policyWithAddress(seed: number, scale: number): Policy {
  const policy = Policy.init(CFG, seed, undefined, 1);
  const names = policy.params.specs.map((s) => s.name).filter((n) => n.includes('.address.'));
  assert.equal(names.length, CFG.layers, 'one address projection per layer');
  for (const n of names) policy.params.get(n).forEach((v, i, a) => { a[i] = v * scale; });
  return policy;
}

const prompt = (policy: Policy, text: string) => [policy.tokenizer.bos, ...policy.tokenizer.encode(text)];

test('cellAddress: the address term changes what the model predicts (it is wired in)', async () => {
  const rows = [{ patches: randomPatches(1), text: prompt(Policy.init(CFG, 3, undefined, 1), 'moves RRD\n<think>\nR 11 o 11\n') }];
  const weak = await policyWithAddress(3, 0).scoreTexts(rows);
  const strong = await policyWithAddress(3, 300).scoreTexts(rows);
  const maxDiff = Math.max(...weak[0]!.map((lp, t) => Math.abs(lp - strong[0]![t]!)));
  assert.ok(maxDiff > 0.05, `address weights ×300 moved log-probs by only ${maxDiff}`);
});

test('cellAddress: KV-cached sampling equals the full forward (max abs diff < 2e-4)', async () => {
  const policy = policyWithAddress(11, 300);
  const reqs = ['moves RRDL\n', 'count rc@r2\n', 'x\n'].map((p, i) => ({ patches: randomPatches(i), segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: prompt(policy, p) }] }));
  const maxDiff = await kvVersusFull(policy, reqs, { maxNew: 20, seed: 5 });
  assert.ok(maxDiff < 2e-4, `max |logp_kv - logp_full| = ${maxDiff}`);
});

test('cellAddress: with the image re-inserted, KV-cached sampling equals the layout forward, and the layout forward without re-insertion equals the full forward', async () => {
  const policy = policyWithAddress(15, 300);
  const contexts = [prompt(policy, 'moves RRD\n<think>\nR 11 o 11\n'), prompt(policy, 'bars r+g\n<think>\n')];
  const maxDiff = await regroundedVersusLayout(policy, contexts, [randomPatches(20), randomPatches(21)], { maxNew: 12, seed: 4 });
  assert.ok(maxDiff < 2e-4, `max |logp_kv - logp_layout| = ${maxDiff}`);
});
