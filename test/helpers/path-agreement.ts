// The model runs three ways over the same weights (vlm.ts): a full forward (scoring,
// training), a layout forward (the image re-inserted mid-text) and KV-cached chunks
// (sampling). These checks sample through the cache and rescore the samples the other way;
// every architecture switch must keep the paths equal.
import assert from 'node:assert/strict';
import type { Policy } from '../../src/model/policy.js';

type Req = { patches: Float32Array; segments: ({ kind: 'image' } | { kind: 'text'; ids: number[] })[] };

/** Max |log p| difference between KV-cached sampling and full-forward scoring of the samples; requests are [image, text]. */
export async function kvVersusFull(policy: Policy, reqs: Req[], opts: { maxNew: number; seed: number; stop?: number[] }): Promise<number> {
  const gens = await policy.generate(reqs, { maxNew: opts.maxNew, temperature: 1, topP: 1, seed: opts.seed, ...(opts.stop ? { stop: opts.stop } : {}) });
  const prompts = reqs.map((r) => (r.segments[1] as { ids: number[] }).ids);
  const scored = await policy.scoreTexts(reqs.map((r, i) => ({ patches: r.patches, text: [...prompts[i]!, ...gens[i]!.tokens] })));
  let maxDiff = 0;
  gens.forEach((g, i) => {
    assert.ok(g.tokens.length > 0, `row ${i} sampled nothing`);
    g.logps.forEach((lp, t) => { maxDiff = Math.max(maxDiff, Math.abs(lp - scored[i]![prompts[i]!.length - 1 + t]!)); });
  });
  return maxDiff;
}

/**
 * With the image re-inserted after each context ([image, text, image]): max |log p| difference
 * between KV-cached sampling and the layout forward; also asserts that the layout forward
 * without re-insertion equals the full forward on the first context.
 */
export async function regroundedVersusLayout(policy: Policy, contexts: number[][], patches: Float32Array[], opts: { maxNew: number; seed: number }): Promise<number> {
  const reqs = contexts.map((ctx, i) => ({ patches: patches[i]!, segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: ctx }, { kind: 'image' as const }] }));
  const gens = await policy.generate(reqs, { maxNew: opts.maxNew, temperature: 1, topP: 1, seed: opts.seed });
  const scored = await policy.scoreLayouts(reqs.map((r, i) => ({ patches: r.patches, text: [...contexts[i]!, ...gens[i]!.tokens], insertAt: contexts[i]!.length })));
  let maxDiff = 0;
  gens.forEach((g, i) => g.logps.forEach((lp, t) => { maxDiff = Math.max(maxDiff, Math.abs(lp - scored[i]![contexts[i]!.length - 1 + t]!)); }));
  const plain = await policy.scoreTexts([{ patches: patches[0]!, text: contexts[0]! }]);
  const viaLayout = await policy.scoreLayouts([{ patches: patches[0]!, text: contexts[0]!, insertAt: null }]);
  plain[0]!.forEach((lp, t) => assert.ok(Math.abs(lp - viaLayout[0]![t]!) < 2e-4, `without re-insertion, token ${t}: full ${lp} vs layout ${viaLayout[0]![t]}`));
  return maxDiff;
}
