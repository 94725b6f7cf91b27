// model.tokenShift (token-shift.ts): every path that runs the model (full forward, layout
// forward with a re-inserted image, KV-cached prefill and decoding, batch compaction) must
// give each text token the same predecessors. The predecessor embeddings are scaled up so that
// a wrong predecessor moves the log-probs far past the tolerance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import { numPatches, patchDim, type VlmConfig } from '../../src/model/config.js';
import { Policy } from '../../src/model/policy.js';
import { chunkPredecessors, SHIFT_TOKENS } from '../../src/model/token-shift.js';
import { kvVersusFull, regroundedVersusLayout } from '../helpers/path-agreement.js';

const CFG: VlmConfig = { vocab: 112, dim: 32, layers: 2, heads: 2, mlpRatio: 2, maxText: 96, imageSize: 24, patch: 8, tokenShift: 1, cellAddress: 1 };

function randomPatches(seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: numPatches(CFG) * patchDim(CFG) }, () => rng.float() * 2 - 1);
}

function shiftedPolicy(seed: number, scale: number): Policy {
  const policy = Policy.init(CFG, seed, undefined, 1);
  const names = policy.params.specs.map((s) => s.name).filter((n) => /tokPrev\d$|\.address\./.test(n));
  assert.equal(names.filter((n) => n.includes('tokPrev')).length, SHIFT_TOKENS);
  for (const n of names) policy.params.get(n).forEach((v, i, a) => { a[i] = v * scale; });
  return policy;
}

const prompt = (policy: Policy, text: string) => [policy.tokenizer.bos, ...policy.tokenizer.encode(text)];

test('chunkPredecessors: nearest first, 0 before the first text token, left padding skipped, history carried between chunks', () => {
  const recent = new Int32Array(2 * SHIFT_TOKENS);
  recent.set([7, 8], 2); // row 1 already wrote text ending "... 7 8"
  // Row 0: [pad, 5, 6]; row 1: [9, 10, 11].
  const ids = BigInt64Array.from([0n, 5n, 6n, 9n, 10n, 11n]);
  const [p1, p2] = chunkPredecessors(recent, ids, 3, Uint8Array.from([0, 1, 1, 1, 1, 1]));
  assert.deepEqual([...p1!].map(Number), [0, 0, 5, 8, 9, 10]);
  assert.deepEqual([...p2!].map(Number), [0, 0, 0, 7, 8, 9]);
  assert.deepEqual([...recent], [5, 6, 10, 11]);
  const [d1, d2] = chunkPredecessors(recent, BigInt64Array.from([42n, 43n]), 1, Uint8Array.from([1, 0]));
  assert.deepEqual([...d1!].map(Number), [6, 11]);
  assert.deepEqual([...d2!].map(Number), [5, 10]);
  assert.deepEqual([...recent], [6, 42, 10, 11], 'a finished row (not valid) keeps its history');
});

test('tokenShift: the predecessor embeddings change what the model predicts (they are wired in)', async () => {
  const rows = [{ patches: randomPatches(1), text: prompt(Policy.init(CFG, 3, undefined, 1), 'moves RRD\n<think>\nR 11 o 11\n') }];
  const a = await shiftedPolicy(3, 0).scoreTexts(rows);
  const b = await shiftedPolicy(3, 30).scoreTexts(rows);
  const maxDiff = Math.max(...a[0]!.map((lp, t) => Math.abs(lp - b[0]![t]!)));
  assert.ok(maxDiff > 0.05, `predecessor embeddings ×30 moved log-probs by only ${maxDiff}`);
});

test('tokenShift: KV-cached sampling (left-padded prefill, decode, compaction) equals the full forward (max abs diff < 2e-4)', async () => {
  const policy = shiftedPolicy(11, 30);
  const reqs = ['moves RRDL\n', 'count rc@r2\n', 'x\n', 'bars r+g^b*2\n'].map((p, i) => ({ patches: randomPatches(i), segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: prompt(policy, p) }] }));
  // Stopping at a frequent token ends rows at different steps, so the cache gets compacted.
  const maxDiff = await kvVersusFull(policy, reqs, { maxNew: 30, seed: 5, stop: [policy.tokenizer.encode(' ')[0]!] });
  assert.ok(maxDiff < 2e-4, `max |logp_kv - logp_full| = ${maxDiff}`);
});

test('tokenShift: after a re-inserted image, KV-cached sampling equals the layout forward (predecessors run in text order)', async () => {
  const policy = shiftedPolicy(15, 30);
  const contexts = [prompt(policy, 'moves RRD\n<think>\nR 11 o 11\n'), prompt(policy, 'bars r+g\n<think>\n')];
  const maxDiff = await regroundedVersusLayout(policy, contexts, [randomPatches(20), randomPatches(21)], { maxNew: 12, seed: 4 });
  assert.ok(maxDiff < 2e-4, `max |logp_kv - logp_layout| = ${maxDiff}`);
});
