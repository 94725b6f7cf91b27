// Rows with one context decode against one shared copy of it (model/shared-context.ts, vlm.ts
// SharedContext): the same tokens and log-probs as rows that each hold their own copy, through
// the first compaction (where the shared layout ends), with the image re-inserted, and on the
// committed base (cell addressing and token shift read the shared slots too).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import { numPatches, patchDim, type VlmConfig } from '../../src/model/config.js';
import { Policy, type GenerateOptions, type GenerateRequest } from '../../src/model/policy.js';
import { contextGroups } from '../../src/model/shared-context.js';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import { instancePatches, promptIds } from '../../src/model/episode.js';
import { BASE_CHECKPOINT } from '../../src/util/package-paths.js';
import { FAMILY_IDS, getSplit } from '../../src/tasks/index.js';
import { kvVersusFull } from '../helpers/path-agreement.js';

const CFG: VlmConfig = { vocab: 112, dim: 32, layers: 2, heads: 2, mlpRatio: 2, maxText: 96, imageSize: 16, patch: 8 };

function randomPatches(cfg: VlmConfig, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: numPatches(cfg) * patchDim(cfg) }, () => rng.float() * 2 - 1);
}

/** Generates with the context shared and with every row holding its own: the same tokens, log-probs within 1e-4. */
async function sharedEqualsFlat(policy: Policy, reqs: GenerateRequest[], opts: GenerateOptions): Promise<void> {
  assert.ok(contextGroups(reqs), 'the requests come in equal groups');
  const outs = [];
  for (const share of [false, true]) {
    policy.shareContexts = share;
    outs.push(await policy.generate(reqs, opts));
  }
  policy.shareContexts = true;
  const [flat, shared] = outs;
  flat!.forEach((g, i) => {
    assert.deepEqual(shared![i]!.tokens, g.tokens, `row ${i}`);
    g.logps.forEach((lp, t) => assert.ok(Math.abs(lp - shared![i]!.logps[t]!) < 1e-4, `row ${i} token ${t}: ${lp} vs ${shared![i]!.logps[t]}`));
    assert.equal(shared![i]!.finished, g.finished);
  });
}

test('contextGroups: equal runs of one context (the same image by content), else null', () => {
  const a = randomPatches(CFG, 1);
  const b = randomPatches(CFG, 2);
  const row = (patches: Float32Array, ids: number[]): GenerateRequest => ({ patches, segments: [{ kind: 'image' }, { kind: 'text', ids }] });
  assert.deepEqual(contextGroups([row(a, [1, 2]), row(Float32Array.from(a), [1, 2]), row(b, [1, 2]), row(b, [1, 2])]), { groups: 2, rowsPerGroup: 2 });
  assert.deepEqual(contextGroups(Array.from({ length: 6 }, () => row(a, [3]))), { groups: 1, rowsPerGroup: 6 });
  assert.equal(contextGroups([row(a, [1, 2]), row(a, [1, 2]), row(b, [1, 2])]), null, 'unequal groups');
  assert.equal(contextGroups([row(a, [1, 2]), row(a, [1, 3])]), null, 'different text');
  assert.equal(contextGroups([row(a, [1]), row(b, [1])]), null, 'different images');
  assert.equal(contextGroups([row(a, [1]), { patches: a, segments: [{ kind: 'image' }, { kind: 'text', ids: [1] }, { kind: 'image' }] }]), null, 'different layouts');
  assert.equal(contextGroups([row(a, [1])]), null, 'one row');
});

test('shared context: sampling equals per-row caches through compaction, and equals full-forward scoring', async () => {
  const policy = Policy.init(CFG, 21, undefined, 1);
  const tok = policy.tokenizer;
  // 4 groups of 4; three rows of every group stop after 3 tokens: compacted mid-generation.
  const reqs = Array.from({ length: 16 }, (_, i) => ({
    patches: randomPatches(CFG, Math.floor(i / 4)),
    segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: [tok.bos, ...tok.encode(`prompt ${Math.floor(i / 4)}\n`)] }],
    sampling: { seed: 300 + i, maxNew: i % 4 === 0 ? 20 : 3 },
  }));
  await sharedEqualsFlat(policy, reqs, { maxNew: 20, temperature: 1, topP: 1, seed: 0, stop: [] });
  // Without per-row seeds, rows of a group still sample differently (one generator).
  const plain = reqs.map(({ sampling: _, ...r }) => r);
  const gens = await policy.generate(plain, { maxNew: 12, temperature: 1, topP: 1, seed: 4, stop: [] });
  assert.notDeepEqual(gens[0]!.tokens, gens[1]!.tokens);
  assert.ok(await kvVersusFull(policy, plain, { maxNew: 12, seed: 4 }) < 2e-4);
});

test('shared context ending in a re-inserted image ([image, text, image]) equals per-row caches', async () => {
  const policy = Policy.init(CFG, 22, undefined, 1);
  const tok = policy.tokenizer;
  const reqs = Array.from({ length: 6 }, (_, i) => ({
    patches: randomPatches(CFG, 10 + Math.floor(i / 3)),
    segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: [tok.bos, ...tok.encode(`steps ${Math.floor(i / 3)}\n`)] }, { kind: 'image' as const }],
    sampling: { seed: 40 + i },
  }));
  await sharedEqualsFlat(policy, reqs, { maxNew: 16, temperature: 1, topP: 1, seed: 0, stop: [] });
});

test('shared context on the committed base (cell addressing, token shift): greedy and sampled equal per-row caches', async () => {
  const { policy } = loadPolicy(BASE_CHECKPOINT, 1);
  assert.equal(policy.cfg.cellAddress, 1);
  assert.equal(policy.cfg.tokenShift, 1);
  const insts = FAMILY_IDS.flatMap((f) => getSplit(f, 'test', 2));
  const reqs = insts.flatMap((inst) => {
    const r = { patches: instancePatches(inst, policy.cfg), segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: promptIds(inst, policy.tokenizer) }] };
    return [r, r, r];
  });
  await sharedEqualsFlat(policy, reqs, { maxNew: policy.cfg.maxText, temperature: 0, topP: 1, seed: 0 });
  await sharedEqualsFlat(policy, reqs, { maxNew: policy.cfg.maxText, temperature: 1, topP: 1, seed: 7 });
});
