// Sampling through the KV cache must give the same log-probs as a full forward pass over
// the same sequence, and re-inserted image tokens must be attended like the prefix image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import { numPatches, patchDim, type VlmConfig } from '../../src/model/config.js';
import { Policy } from '../../src/model/policy.js';
import { BufferPool, CACHE_BUCKET, KvCache } from '../../src/model/kv-cache.js';
import { kvVersusFull, regroundedVersusLayout } from '../helpers/path-agreement.js';

const CFG: VlmConfig = { vocab: 112, dim: 32, layers: 2, heads: 2, mlpRatio: 2, maxText: 96, imageSize: 16, patch: 8 };

function randomPatches(seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: numPatches(CFG) * patchDim(CFG) }, () => rng.float() * 2 - 1);
}

test('KV-cached sampling log-probs equal full-forward scoring (max abs diff < 2e-4)', async () => {
  const policy = Policy.init(CFG, 11, undefined, 1);
  const tok = policy.tokenizer;
  // Rows with different prompt lengths exercise left padding inside the prefill chunk.
  const prompts = ['moves RRDL\n', 'count red\n', 'x\n', 'a longer prompt than the others\n'];
  const reqs = prompts.map((p, i) => ({ patches: randomPatches(i), segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: [tok.bos, ...tok.encode(p)] }] }));
  const maxDiff = await kvVersusFull(policy, reqs, { maxNew: 24, seed: 5 });
  assert.ok(maxDiff < 2e-4, `max |logp_kv - logp_full| = ${maxDiff}`);
});

test('greedy generation is deterministic and batch-independent', async () => {
  const policy = Policy.init(CFG, 12, undefined, 1);
  const tok = policy.tokenizer;
  const mk = (p: string, s: number) => ({ patches: randomPatches(s), segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: [tok.bos, ...tok.encode(p)] }] });
  const alone = await policy.generate([mk('moves RR\n', 1)], { maxNew: 16, temperature: 0, topP: 1, seed: 1 });
  const batched = await policy.generate([mk('longer prompt here\n', 2), mk('moves RR\n', 1)], { maxNew: 16, temperature: 0, topP: 1, seed: 9 });
  assert.deepEqual(batched[1]!.tokens, alone[0]!.tokens);
});

test('re-inserted image tokens are attended: output depends on them, like the prefix image', async () => {
  const policy = Policy.init(CFG, 13, undefined, 1);
  const tok = policy.tokenizer;
  const prompt = [tok.bos, ...tok.encode('moves RRD\n')];
  const regrounded = (patches: Float32Array) => ({ patches, segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: prompt }, { kind: 'image' as const }] });
  const opts = { maxNew: 1, temperature: 1, topP: 1, seed: 3 };
  const a = await policy.generate([regrounded(randomPatches(1))], opts);
  const b = await policy.generate([regrounded(randomPatches(2))], opts);
  // The same first token sampled with the same seed can differ only through its probability.
  assert.notEqual(a[0]!.logps[0], b[0]!.logps[0]);
  // With the image re-inserted after the text, the next-token distribution must differ from
  // the one without re-insertion (the new tokens are attended), for the same image.
  const plain = await policy.generate([{ patches: randomPatches(1), segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: prompt }] }], opts);
  assert.notEqual(plain[0]!.logps[0], a[0]!.logps[0]);
});

test('dropping finished rows from the cache (batch compaction) leaves every row unchanged', async () => {
  const policy = Policy.init(CFG, 14, undefined, 1);
  const tok = policy.tokenizer;
  // 12 rows stop after 3 tokens, 4 keep going: the batch is compacted mid-generation.
  const reqs = Array.from({ length: 16 }, (_, i) => ({
    patches: randomPatches(i),
    segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: [tok.bos, ...tok.encode(`prompt ${i}\n`)] }],
    sampling: { seed: 100 + i, maxNew: i < 12 ? 3 : 20 },
  }));
  const opts = { maxNew: 20, temperature: 1, topP: 1, seed: 0, stop: [] };
  const batched = await policy.generate(reqs, opts);
  for (const i of [0, 12, 15]) {
    const alone = await policy.generate([reqs[i]!], opts);
    assert.deepEqual(batched[i]!.tokens, alone[0]!.tokens, `row ${i}`);
    batched[i]!.logps.forEach((lp, t) => assert.ok(Math.abs(lp - alone[0]!.logps[t]!) < 2e-4, `row ${i} token ${t}`));
  }
  assert.equal(batched[15]!.tokens.length, 20);
  assert.equal(batched[0]!.tokens.length, 3);
});

test('re-grounded context: KV-cached generation after a re-inserted image matches the layout forward (max abs diff < 2e-4)', async () => {
  const policy = Policy.init(CFG, 15, undefined, 1);
  const tok = policy.tokenizer;
  const contexts = [[tok.bos, ...tok.encode('moves RRD\n<think>\nR 11 o 11\n')], [tok.bos, ...tok.encode('bars r+g\n<think>\n')]];
  const maxDiff = await regroundedVersusLayout(policy, contexts, [randomPatches(20), randomPatches(21)], { maxNew: 12, seed: 4 });
  assert.ok(maxDiff < 2e-4, `max |logp_kv - logp_layout| = ${maxDiff}`);
});

test('the cache grows by whole buckets as it fills and keeps every filled slot (keys, values, slot mask and positions)', () => {
  const [B, H, Dh] = [2, 2, 3];
  const cache = new KvCache(B, 1, H, Dh, 80);
  assert.equal(cache.slots, CACHE_BUCKET);
  // Slot s of row b, head h, channel d holds key 1000·b + 100·h + 10·d + s (value: its negative).
  const kv = (n: number) => {
    const k = new Float32Array(B * H * n * Dh);
    for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < n; i++) for (let d = 0; d < Dh; d++) k[((b * H + h) * n + i) * Dh + d] = 1000 * b + 100 * h + 10 * d + cache.used + i;
    return [k, k.map((x) => -x)] as [Float32Array, Float32Array];
  };
  const image = 5;
  cache.append(image, new Uint8Array(B * image).fill(1), null, () => kv(image));
  let textPos = 0;
  const sizes = new Set([cache.slots]);
  const early = cache.feeds();
  while (cache.used < 70) {
    const n = cache.used % 3 === 0 ? 3 : 1;
    // Row 1's first text token is left padding.
    const valid = Uint8Array.from({ length: B * n }, (_, j) => (j >= n && cache.used === image ? (j - n === 0 ? 0 : 1) : 1));
    const pos = Int32Array.from({ length: B * n }, (_, j) => textPos + (j % n));
    cache.append(n, valid, pos, () => kv(n));
    textPos += n;
    sizes.add(cache.slots);
  }
  assert.deepEqual([...sizes], [32, 64, 80], 'grown in buckets of 32, capped at the capacity');
  assert.throws(() => cache.reserve(cache.capacity - cache.used + 1), /overflow/);
  const S = cache.slots;
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < cache.used; s++) {
      for (let h = 0; h < H; h++) for (let d = 0; d < Dh; d++) {
        const want = 1000 * b + 100 * h + 10 * d + s;
        assert.equal(cache.keys[0]![((b * H + h) * S + s) * Dh + d], want, `key b${b} h${h} d${d} s${s}`);
        assert.equal(cache.values[0]![((b * H + h) * S + s) * Dh + d], -want, `value b${b} h${h} d${d} s${s}`);
      }
      assert.equal(cache.slotIsText[b * S + s], s < image ? 0 : 1);
      assert.equal(cache.slotMask[b * S + s], b === 1 && s === image ? -1e9 : 0, `mask b${b} s${s}`);
    }
    for (let s = cache.used; s < S; s++) assert.equal(cache.slotMask[b * S + s], -1e9, 'unfilled slots are masked');
  }
  const feeds = cache.feeds();
  assert.equal(cache.feeds(), feeds, 'the same views while the live region is the same');
  assert.notEqual(feeds, early, 'new views once it grew');
  assert.deepEqual(early.slotMask!.shape, [B, 1, 1, CACHE_BUCKET]);
  assert.ok(Object.isFrozen(feeds));
  assert.deepEqual(feeds.k0!.shape, [B, H, S, Dh]);
  assert.deepEqual(feeds.v0!.shape, [B, H, S, Dh]);
  assert.deepEqual(feeds.slotMask!.shape, [B, 1, 1, S]);
  const row1 = cache.compact([1]);
  assert.equal(row1.keys[0]![(0 * S + 40) * Dh + 2], 1000 + 20 + 40);
  assert.equal(row1.slotPos[40], cache.slotPos[S + 40]);
});

test('the buffer pool reuses the smallest buffer that fits and keeps at most maxBytes, dropping the oldest', () => {
  const pool = new BufferPool(100 * 4); // 100 floats
  const a = new Float32Array(40);
  const b = new Float32Array(30);
  const c = new Float32Array(50);
  pool.give(a);
  pool.give(b);
  assert.equal(pool.take(25), b, 'smallest that fits');
  assert.notEqual(pool.take(45), a, 'none fits: a new buffer');
  pool.give(b);
  pool.give(c); // 40 + 30 + 50 floats > 100: the oldest (a) goes
  assert.equal(pool.bytes, (30 + 50) * 4);
  assert.equal(pool.take(35), c);
  assert.equal(pool.take(10), b);
  assert.equal(pool.bytes, 0);
});
