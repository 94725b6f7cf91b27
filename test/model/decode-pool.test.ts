// Decode workers (model/decode-pool.ts): batches generated on worker threads give exactly what
// the policy generates in process, because every row samples from its own seed; rows with an
// onToken callback stay in process; a worker's failure is an error naming it, and the next
// run starts fresh workers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';
import { numPatches, patchDim, type VlmConfig } from '../../src/model/config.js';
import { Policy, type GenerateRequest } from '../../src/model/policy.js';
import { planBatches, withRowSeeds } from '../../src/model/decode.js';
import { sameContext } from '../../src/model/shared-context.js';

const CFG: VlmConfig = { vocab: 112, dim: 32, layers: 2, heads: 2, mlpRatio: 2, maxText: 96, imageSize: 16, patch: 8 };

function requests(policy: Policy, n: number, perContext: number): GenerateRequest[] {
  const tok = policy.tokenizer;
  return Array.from({ length: n }, (_, i) => {
    const c = Math.floor(i / perContext);
    const rng = new Rng(c);
    return {
      patches: Float32Array.from({ length: numPatches(CFG) * patchDim(CFG) }, () => rng.float() * 2 - 1),
      segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: [tok.bos, ...tok.encode(`prompt ${c}\n`)] }],
      ...(i % 5 === 0 ? { sampling: { seed: 1000 + i, maxNew: 6 } } : {}),
    };
  });
}

test('withRowSeeds: a row keeps its own seed, else gets one that depends only on its index', () => {
  const reqs: GenerateRequest[] = [0, 1, 2].map((i) => ({ patches: new Float32Array(1), segments: [], ...(i === 1 ? { sampling: { seed: 77 } } : {}) }));
  const a = withRowSeeds(reqs, 5);
  const b = withRowSeeds([reqs[0]!, reqs[2]!, reqs[1]!], 5);
  assert.equal(a[1]!.sampling!.seed, 77);
  assert.equal(a[0]!.sampling!.seed, b[0]!.sampling!.seed);
  assert.notEqual(a[0]!.sampling!.seed, a[2]!.sampling!.seed);
  assert.notEqual(withRowSeeds(reqs, 6)[0]!.sampling!.seed, a[0]!.sampling!.seed);
});

test('planBatches: by context shape, at most batchSize rows, halved for workers at a context boundary', () => {
  const img = (id: number): GenerateRequest => ({ patches: Float32Array.of(id), segments: [{ kind: 'image' }, { kind: 'text', ids: [1] }] });
  const reground: GenerateRequest = { patches: Float32Array.of(9), segments: [{ kind: 'image' }, { kind: 'text', ids: [1] }, { kind: 'image' }] };
  const reqs = [...[0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1].map(img), reground];
  assert.deepEqual(planBatches(reqs, 64), [[...Array(12).keys()], [12]]);
  assert.deepEqual(planBatches(reqs, 5), [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [10, 11], [12]]);
  // Two workers, one batch of 12: the change of context (rows 2|3) is 3 rows from the middle, so
  // the cut is there; with the change at 0|1, a half would have 1 row: the cut is the middle.
  assert.deepEqual(planBatches(reqs.slice(0, 12), 64, 2, sameContext).map((b) => b.length), [3, 9]);
  assert.deepEqual(planBatches([0, 1, 1, 1, 1, 1, 1, 1, 1, 1].map(img), 64, 2, sameContext).map((b) => b.length), [5, 5]);
  assert.deepEqual(planBatches([0, 0, 1, 1, 1].map(img), 64, 4, sameContext).map((b) => b.length), [2, 3], 'halves keep 2 rows at least');
  assert.deepEqual(planBatches([img(0), img(0), img(0)], 64, 2, sameContext).map((b) => b.length), [3], 'too few rows to split');
});

test('decode workers generate exactly what the policy generates in process (sampled, shared contexts, per-row limits)', async () => {
  const policy = Policy.init(CFG, 31, undefined, 1);
  const reqs = requests(policy, 40, 4);
  const opts = { maxNew: 14, temperature: 1, topP: 1, seed: 3, stop: [] };
  policy.decodeWorkers = 1;
  const alone = await policy.generate(reqs, opts);
  policy.decodeWorkers = 2;
  const pooled = await policy.generate(reqs, { ...opts, batchSize: 8 });
  pooled.forEach((g, i) => {
    assert.deepEqual(g.tokens, alone[i]!.tokens, `row ${i}`);
    g.logps.forEach((lp, t) => assert.ok(Math.abs(lp - alone[i]!.logps[t]!) < 1e-4, `row ${i} token ${t}`));
    assert.equal(g.finished, alone[i]!.finished);
  });
  assert.equal(pooled[0]!.tokens.length, 6, 'a row\'s own maxNew holds in a worker');
  // New weights reach the workers: the next run samples from them.
  for (const s of policy.params.specs) policy.params.values.set(s.name, policy.params.get(s.name).map((v) => v * 1.5));
  policy.decodeWorkers = 1;
  const after = await policy.generate(reqs, opts);
  policy.decodeWorkers = 2;
  const afterPooled = await policy.generate(reqs, { ...opts, batchSize: 8 });
  afterPooled.forEach((g, i) => assert.deepEqual(g.tokens, after[i]!.tokens, `row ${i} after new weights`));
  assert.ok(after.some((g, i) => g.tokens.join() !== alone[i]!.tokens.join()), 'the new weights change some samples');
  await policy.close();
});

test('decode workers: onToken rows decode in process; a worker failure is an error naming it', async () => {
  const policy = Policy.init(CFG, 32, undefined, 1);
  policy.decodeWorkers = 2;
  const seen: number[] = [];
  const reqs = requests(policy, 16, 4).map((r, i) => (i === 0 ? { ...r, onToken: (t: number) => { seen.push(t); } } : r));
  const gens = await policy.generate(reqs, { maxNew: 5, temperature: 1, topP: 1, seed: 1, stop: [] });
  assert.deepEqual(seen, gens[0]!.tokens);
  // A request the worker cannot decode (a context longer than the model takes) fails in the worker.
  const tooLong = requests(policy, 16, 4).map((r) => ({ ...r, segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: Array(200).fill(5) }] }));
  await assert.rejects(policy.generate(tooLong, { maxNew: 5, temperature: 1, topP: 1, seed: 1, batchSize: 8 }), /decode worker: .*(exceeds|maxText|context)/s);
  const again = await policy.generate(requests(policy, 16, 4), { maxNew: 4, temperature: 1, topP: 1, seed: 2, batchSize: 8 });
  assert.equal(again.length, 16);
  await policy.close();
});
