// IVR-R1 replay (ivr/replay.ts): rectified trajectories of hard prompts (no right rollout in
// their group) are trained again in later iterations as NLL demonstrations with their own
// prompt; the draw order, the use limit and the capacity are exact; the buffer survives a
// save/restore (a resumed run replays what the uninterrupted one would).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTrainConfig } from '../../src/ivr/config.js';
import { ivrAugmenter } from '../../src/ivr/method.js';
import { ReplayBuffer, type NewReplayEntry } from '../../src/ivr/replay.js';
import { formatResponse, getSplit, goldResponse, responsePrefix, type Instance } from '../../src/tasks/index.js';
import { contextText, fakeGroup, ScriptedPolicy, textSample } from '../helpers/rl-fixtures.js';

const [A, B] = getSplit('grid', 'train', 6).slice(4, 6) as [Instance, Instance];

function entry(inst: Instance, added: number, text = goldResponse(inst)): NewReplayEntry {
  const ids = Array.from(text, (c) => c.charCodeAt(0));
  return { inst, responseIds: ids, rewritten: new Uint8Array(ids.length), added };
}

test('ReplayBuffer: least used first, then oldest; leaves after max_uses; oldest leave over capacity; JSON round trip', () => {
  const buf = new ReplayBuffer({ capacity: 3, maxUses: 2 });
  buf.add([entry(A, 0), entry(B, 1)]);
  assert.deepEqual(buf.draw(1).map((e) => e.added), [0]);
  assert.deepEqual(buf.draw(1).map((e) => e.added), [1], 'the unused one comes before a second use');
  assert.deepEqual(buf.draw(2).map((e) => e.added), [0, 1]);
  assert.equal(buf.size, 0, 'both used twice: gone');

  buf.add([entry(A, 2), entry(B, 3), entry(A, 4, 'another text'), entry(B, 5, 'a third text'), entry(B, 6, 'a third text')]);
  assert.equal(buf.size, 3, 'the duplicate (6) is not added; the oldest (2) left over capacity');
  const saved = JSON.parse(JSON.stringify(buf.toJSON()));
  const back = ReplayBuffer.fromJSON(saved, { capacity: 3, maxUses: 2 });
  const a = buf.draw(3), b = back.draw(3);
  assert.deepEqual(a.map((e) => e.added), [3, 4, 5], 'the oldest (2) left over capacity');
  assert.deepEqual(b.map((e) => [e.added, e.inst.id, e.responseIds.join(',')]), a.map((e) => [e.added, e.inst.id, e.responseIds.join(',')]));
  assert.deepEqual(b[0]!.inst, a[0]!.inst, 'instances regenerate exactly from (family, seed, horizon)');
  assert.throws(() => ReplayBuffer.fromJSON([{ family: 'nope', ids: [] }], { capacity: 1, maxUses: 1 }), /replay buffer state: entry 0 is malformed/);
});

test('ivrAugmenter with replay: a hard group\'s rectified trajectory returns as a demonstration in later iterations, with its own prompt', async () => {
  const cfg = parseTrainConfig({
    method: 'ivr',
    ivr: { max_rectifications: 4, rounds: 1, rectifier: 'resample', oracle_fallback: true, inject: 'member', shaping: false, replay: { per_iter: 2, capacity: 8, max_uses: 2 } },
  }, 'test');
  // Every continuation completes the gold solution from whatever prefix it is given.
  const policy = new ScriptedPolicy((req) => {
    const ctx = contextText(req);
    const inst = ctx.includes(A.question) ? A : B;
    const have = ctx.slice(ctx.indexOf('<think>\n') + '<think>\n'.length).split('\n').filter((l) => l && l !== '[IMG]');
    return goldResponse(inst).slice(responsePrefix(have).length);
  }).asPolicy();
  const wrong = (inst: Instance) => textSample(inst, 'policy', formatResponse(inst.steps, '99'));
  const aug = ivrAugmenter(cfg);

  // Iteration 0: A's group is hard (both wrong); B's has a right rollout (not hard).
  const hardA = fakeGroup([wrong(A), wrong(A)], A);
  const easyB = fakeGroup([textSample(B, 'policy', goldResponse(B)), wrong(B)], B);
  const r0 = await aug.augment([hardA, easyB], { policy, cfg, iteration: 0, seed: 1 });
  assert.equal(r0.stats.ivr_replayed, 0, 'nothing to replay yet');
  assert.equal(r0.stats.ivr_replay_buffer, 1, 'only the hard group\'s rectification is kept');
  assert.equal(r0.demos.length, 0);
  const saved = JSON.parse(JSON.stringify(aug.saveState!()));

  // Iteration 1: only B's groups. A's trajectory comes back as a demonstration with A's prompt.
  const r1 = await aug.augment([fakeGroup([textSample(B, 'policy', goldResponse(B))], B)], { policy, cfg, iteration: 1, seed: 2 });
  assert.equal(r1.demos.length, 1);
  const d = r1.demos[0]!;
  assert.equal(d.sample.responseText, goldResponse(A));
  assert.equal(d.sample.kind, 'rectified');
  assert.equal(d.sample.accuracy, 1);
  assert.deepEqual(d.prompt.promptIds, hardA.promptIds);
  assert.deepEqual(Array.from(d.prompt.patches), Array.from(hardA.patches));
  assert.equal(d.sample.rewritten?.length, d.sample.responseIds.length, 'the rewritten marks travel with the trajectory');

  // A restored augmenter replays the same trajectory; after max_uses it is gone.
  const resumed = ivrAugmenter(cfg);
  resumed.restoreState!(saved);
  const r1b = await resumed.augment([fakeGroup([textSample(B, 'policy', goldResponse(B))], B)], { policy, cfg, iteration: 1, seed: 2 });
  assert.deepEqual(r1b.demos.map((x) => x.sample.responseText), r1.demos.map((x) => x.sample.responseText));
  const r2 = await aug.augment([fakeGroup([textSample(B, 'policy', goldResponse(B))], B)], { policy, cfg, iteration: 2, seed: 3 });
  assert.equal(r2.demos.length, 1, 'second use');
  assert.equal(r2.stats.ivr_replay_buffer, 0, 'used max_uses times: left the buffer');

  // Off (the default): no state to save.
  assert.equal(ivrAugmenter(parseTrainConfig({ method: 'ivr' }, 'test')).saveState!(), undefined);
});
