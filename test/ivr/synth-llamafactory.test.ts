// `ivr synth --format llamafactory` registers its output in LLaMA-Factory's dataset_info.json,
// merged with the entries already there, and writes demos LLaMA-Factory can resolve: one
// "<image>" per image, images relative to the registry's directory. A scripted policy (a wrong
// answer first, the gold response on continuation) stands in for a model, so no server or
// checkpoint is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Reasoner } from '../../src/reasoner/reasoner.js';
import { runSynth } from '../../src/ivr/synth.js';
import { loadRemoteTasks, pickImage, type RemoteTask } from '../../src/client/task.js';
import { exportInstances, formatResponse, getSplit, goldResponse, verifyResponse } from '../../src/tasks/index.js';

function scriptedPolicy(): Reasoner {
  const gold = (t: RemoteTask) => goldResponse(t.inst!);
  return {
    name: 'scripted', promptFormat: 'question',
    imageFor: (t) => pickImage(t).path,
    sample: async (reqs) => reqs.map((r) => Array.from({ length: r.n }, () => ({ text: formatResponse(r.task.inst!.steps, 'wrong'), tokens: 0 }))),
    continueFrom: async (reqs) => reqs.map((r) => ({ text: gold(r.task), tokens: 0 })),
  };
}

test('synth --format llamafactory writes sharegpt demos and merges its dataset_info.json entry', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-synth-lf-'));
  try {
    const insts = [...getSplit('grid', 'test', 2), ...getSplit('chart', 'test', 1)];
    const tasks = loadRemoteTasks(exportInstances(insts, path.join(dir, 'tasks'), 'tasks').file, path.join(dir, 'render'));
    const registry = path.join(dir, 'out', 'dataset_info.json');
    fs.mkdirSync(path.dirname(registry), { recursive: true });
    fs.writeFileSync(registry, JSON.stringify({ mine: { file_name: 'mine.json' } }));
    const out = path.join(dir, 'out', 'demos.jsonl');
    const summary = await runSynth(tasks, {
      out, reasoner: scriptedPolicy(), localizer: 'verifier', samples: 1, rounds: 1, tau: 1, maxPerInstance: 1, keepCorrect: 0,
      oracleFallback: false, concurrency: 1, format: 'llamafactory', imagePaths: 'relative', seed: 0, maxErrors: 1, progress: false,
    });
    assert.equal(summary.rectified, insts.length);

    const info = JSON.parse(fs.readFileSync(registry, 'utf8'));
    assert.deepEqual(Object.keys(info), ['mine', 'demos']);
    assert.deepEqual(info.mine, { file_name: 'mine.json' });
    assert.deepEqual(info.demos, {
      file_name: 'demos.jsonl', formatting: 'sharegpt', columns: { messages: 'messages', images: 'images' },
      tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant' },
    });

    const demos = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(demos.length, insts.length);
    for (const d of demos) {
      const inst = insts.find((i) => i.id === d.id)!;
      const [u, a] = d.messages;
      assert.deepEqual([u.role, a.role], ['user', 'assistant']);
      assert.equal(u.content, '<image>' + inst.question + '\n');
      assert.ok(verifyResponse(inst, a.content).complete);
      assert.equal(d.images.length, 1);
      assert.ok(!path.isAbsolute(d.images[0]));
      assert.ok(fs.existsSync(path.resolve(path.dirname(registry), d.images[0])), d.images[0]);
    }

    // A resumed run keeps the registry as it is (the entry is rewritten, not duplicated).
    await runSynth(tasks, {
      out, reasoner: scriptedPolicy(), localizer: 'verifier', samples: 1, rounds: 1, tau: 1, maxPerInstance: 1, keepCorrect: 0,
      oracleFallback: false, concurrency: 1, format: 'llamafactory', imagePaths: 'relative', seed: 0, maxErrors: 1, progress: false,
    });
    assert.deepEqual(JSON.parse(fs.readFileSync(registry, 'utf8')), info);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('synth --format trl writes no dataset_info.json', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-synth-trl-'));
  try {
    const tasks = loadRemoteTasks(exportInstances(getSplit('grid', 'test', 1), dir, 'tasks').file, path.join(dir, 'render'));
    await runSynth(tasks, {
      out: path.join(dir, 'demos.jsonl'), reasoner: scriptedPolicy(), localizer: 'verifier', samples: 1, rounds: 1, tau: 1, maxPerInstance: 1,
      keepCorrect: 0, oracleFallback: false, concurrency: 1, format: 'trl', imagePaths: 'relative', seed: 0, maxErrors: 1, progress: false,
    });
    assert.ok(!fs.existsSync(path.join(dir, 'dataset_info.json')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
