// IVR-R1's data side on a served model, end to end on loopback: rollouts, screening,
// localization, the Re-Reasoning Loop, demonstrations in the chat messages format,
// resumability, torn-output repair, a flaky proxy survived by retries, and the judge
// localizer on tasks without a scene.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import { OpenAIClient } from '../../src/client/client.js';
import { RemoteJudge } from '../../src/client/judge.js';
import { LocalReasoner } from '../../src/reasoner/local-reasoner.js';
import { describeModel, RemoteReasoner } from '../../src/client/remote-reasoner.js';
import { createChatServer, type ChatServer } from '../../src/serve/server.js';
import { runSynth, sidecar, type SynthOptions } from '../../src/ivr/synth.js';
import { loadRemoteTasks } from '../../src/client/task.js';
import { formatResponse, parseResponse, verifyResponse, type Instance } from '../../src/tasks/index.js';
import { completion, exportTasks, flakyProxy, listen, readJson, tempDir, trainedCheckpoint, TRAIN_INSTANCES, UNSEEN_INSTANCES, type Running } from '../helpers/remote-fixture.js';

const MODEL = 'tiny';
const INSTANCES = [...TRAIN_INSTANCES, ...UNSEEN_INSTANCES];
let server: ChatServer;
let tasksFile: string;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  const ckpt = await trainedCheckpoint();
  server = createChatServer({ policy: loadPolicy(ckpt, 1).policy, modelName: MODEL, batchWindowMs: 10 });
  await server.listen(0);
  closers.push(() => server.close());
  tasksFile = exportTasks(tempDir('tasks'), INSTANCES);
});
after(async () => { for (const c of closers.reverse()) await c(); });

async function synthOptions(endpoint: string, out: string, extra: Partial<SynthOptions> = {}): Promise<{ opts: SynthOptions; client: OpenAIClient }> {
  const client = new OpenAIClient({ endpoints: [endpoint], retryBaseMs: 10, retryMaxMs: 100, maxRetries: 8 });
  const info = describeModel(await client.models(), MODEL);
  assert.equal(info.promptFormat, 'question', 'our server asks for the bare question');
  const reasoner = new RemoteReasoner(client, { model: MODEL, promptFormat: info.promptFormat!, imageSize: info.imageSize!, temperature: 1, topP: 1, maxTokens: 200 });
  return {
    client,
    opts: {
      // Plain continuation: the fixture checkpoint was SFT'd on plain contexts only and writes
      // garbage after a re-inserted image. The loop once written in synth hid that by letting
      // the prior rewrite the answer slot; the one loop (ivr/rereason.ts) rewrites steps only.
      out, reasoner, localizer: 'verifier', rectifier: 'resample', samples: 4, rounds: 3, tau: 1, maxPerInstance: 2, keepCorrect: 1, oracleFallback: true,
      concurrency: 3, format: 'trl', imagePaths: 'absolute', seed: 0, maxErrors: 3, progress: false, ...extra,
    },
  };
}

function readLines(file: string): Record<string, any>[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Every demo line: TRL messages format, an existing image, and a fully verified response. */
function checkDemos(lines: Record<string, any>[], byId: Map<string, Instance>): void {
  for (const d of lines) {
    assert.deepEqual(Object.keys(d).slice(0, 2), ['messages', 'images']);
    assert.equal(d.messages.length, 2);
    const [u, a] = d.messages;
    assert.equal(u.role, 'user');
    assert.deepEqual(u.content[0], { type: 'image' });
    assert.equal(u.content[1].type, 'text');
    assert.equal(a.role, 'assistant');
    assert.equal(a.content[0].type, 'text');
    assert.equal(d.images.length, 1);
    assert.ok(path.isAbsolute(d.images[0]) && fs.existsSync(d.images[0]), d.images[0]);
    const inst = byId.get(d.id)!;
    assert.ok(inst, d.id);
    assert.equal(u.content[1].text, inst.question + '\n');
    const v = verifyResponse(inst, a.content[0].text);
    assert.ok(v.complete, `${d.id}: demo does not verify: ${JSON.stringify(a.content[0].text)} (${v.firstErrorReason})`);
    for (const k of ['family', 'horizon', 'rounds', 'rewritten', 'source']) assert.ok(k in d, k);
    assert.ok(d.source === 'rectified' || d.source === 'rollout');
  }
}

describe('synth against the served checkpoint', () => {
  const dir = tempDir('synth');
  const out = path.join(dir, 'demos.jsonl');
  const byId = new Map(INSTANCES.map((i) => [i.id, i]));

  test('writes verified demonstrations and a summary', async () => {
    const { opts } = await synthOptions(server.url, out);
    const tasks = loadRemoteTasks(tasksFile, path.join(dir, 'render'));
    const s = await runSynth(tasks, opts);
    assert.equal(s.instances.total, INSTANCES.length);
    assert.equal(s.instances.done, INSTANCES.length);
    assert.equal(s.instances.errors_this_run, 0, JSON.stringify(s.errors));
    assert.equal(s.rollouts.total, 4 * INSTANCES.length);
    assert.ok(s.attempted >= 2, 'the unseen tasks have flagged rollouts');
    assert.ok(s.rectified >= 1, 'the loop (with oracle fallback) rectifies something');
    assert.ok(s.rectified <= s.attempted && s.attempted <= s.flagged);
    const lines = readLines(out);
    assert.equal(lines.length, s.demos.total);
    assert.equal(lines.filter((l) => l.source === 'rectified').length, s.demos.rectified);
    assert.ok(s.demos.rectified >= 1 && s.demos.rectified <= s.rectified, 'identical rectified trajectories are written once');
    checkDemos(lines, byId);
    // The small image was sent (what the served model reads).
    assert.ok(lines.every((l) => l.images[0].endsWith('.small.png')));
    const summary = JSON.parse(fs.readFileSync(sidecar(out, 'summary.json'), 'utf8'));
    assert.equal(summary.rectified, s.rectified);
    assert.ok(Object.keys(summary.first_error_hist).length > 0);
    assert.ok(summary.by_family.grid.instances === INSTANCES.length);
  });

  test('a rerun skips every finished task and leaves the output as it was', async () => {
    const before = fs.readFileSync(out);
    const served = server.stats.completions;
    const { opts } = await synthOptions(server.url, out);
    const s = await runSynth(loadRemoteTasks(tasksFile, path.join(dir, 'render')), opts);
    assert.equal(s.instances.resumed, INSTANCES.length);
    assert.equal(s.instances.this_run, 0);
    assert.equal(server.stats.completions, served, 'no requests for finished tasks');
    assert.deepEqual(fs.readFileSync(out), before);
  });

  test('a torn last line is truncated and its task redone', async () => {
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    const last = JSON.parse(lines.at(-1)!);
    // Simulate a crash mid-write of the last task: its lines torn, its progress line missing.
    const keep = lines.filter((l) => JSON.parse(l).id !== last.id);
    fs.writeFileSync(out, keep.map((l) => l + '\n').join('') + lines.at(-1)!.slice(0, 25));
    const prog = sidecar(out, 'progress.jsonl');
    fs.writeFileSync(prog, fs.readFileSync(prog, 'utf8').split('\n').filter((l) => l && JSON.parse(l).id !== last.id).map((l) => l + '\n').join(''));
    const { opts } = await synthOptions(server.url, out);
    const s = await runSynth(loadRemoteTasks(tasksFile, path.join(dir, 'render')), opts);
    assert.ok(s.output_repaired_bytes >= 25);
    assert.equal(s.instances.this_run, 1);
    assert.equal(s.instances.done, INSTANCES.length);
    const after = readLines(out); // every line parses
    checkDemos(after, byId);
    assert.ok(after.some((l) => l.id === last.id));
  });

  test('a proxy that fails every 3rd request with a 500 is survived by retries', async () => {
    const proxy = await flakyProxy(server.url, 3);
    closers.push(proxy.close);
    const out2 = path.join(dir, 'flaky.jsonl');
    const { opts, client } = await synthOptions(proxy.url, out2, { keepCorrect: 0 });
    const s = await runSynth(loadRemoteTasks(tasksFile, path.join(dir, 'render')), opts);
    assert.equal(s.instances.errors_this_run, 0, JSON.stringify(s.errors));
    assert.equal(s.instances.done, INSTANCES.length);
    assert.ok(proxy.failed() >= 2, `injected ${proxy.failed()} failures`);
    assert.ok(client.counters.retries >= proxy.failed());
    checkDemos(readLines(out2), byId);
  });
});

describe('one port, two reasoners', () => {
  test('the local reasoner gives the same demos as the same checkpoint served over HTTP', async () => {
    const dir = tempDir('parity');
    const tasks = loadRemoteTasks(tasksFile, path.join(dir, 'render'));
    const remoteOut = path.join(dir, 'remote.jsonl');
    const localOut = path.join(dir, 'local.jsonl');
    // One task at a time, so the server decodes exactly the rows the local run decodes together.
    const { opts } = await synthOptions(server.url, remoteOut, { concurrency: 1, rectifier: 're-ground' });
    await runSynth(tasks, opts);
    const local = new LocalReasoner(loadPolicy(await trainedCheckpoint(), 1).policy, { temperature: 1, topP: 1, maxTokens: 200 }, MODEL);
    const s = await runSynth(tasks, { ...opts, out: localOut, reasoner: local });
    assert.equal(s.instances.errors_this_run, 0);
    assert.ok(s.demos.total >= 1);
    assert.deepEqual(readLines(localOut), readLines(remoteOut));
  });
});

describe('judge localizer on tasks without a scene', () => {
  let judge: Running;
  let judgeCalls = 0;

  before(async () => {
    // A stand-in external judge VLM: it recognises the image and judges the steps with the
    // scene verifier (a perfect judge), answering in the structured-output contract.
    const byImage = new Map<string, Instance>();
    const imgDir = path.join(path.dirname(tasksFile), 'images');
    for (const inst of INSTANCES) byImage.set(fs.readFileSync(path.join(imgDir, `${inst.id}.small.png`)).toString('base64'), inst);
    judge = await listen(async (req: http.IncomingMessage, res: http.ServerResponse) => {
      judgeCalls++;
      const b = await readJson(req);
      const parts = (b.messages as any[])[0].content;
      const inst = byImage.get(parts[0].image_url.url.split(',')[1])!;
      const text: string = parts[1].text;
      const steps = [...text.matchAll(/^(\d+)\. (.*)$/gm)].map((m) => m[2]!);
      const answer = /^Final answer: (.*)$/m.exec(text)![1]!;
      const v = verifyResponse(inst, formatResponse(steps, answer === '(none)' ? '' : answer));
      const verdict = v.firstError === null ? { first_error_step: null, kind: null, reason: 'consistent' } : { first_error_step: v.firstError + 1, kind: v.firstErrorKind, reason: v.firstErrorReason ?? '' };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(completion(JSON.stringify(verdict)));
    });
    closers.push(judge.close);
  });

  test('generic {id, question, answer, image} tasks are localized by the judge', async () => {
    const dir = tempDir('generic');
    const imgDir = path.join(path.dirname(tasksFile), 'images');
    const generic = path.join(dir, 'generic.jsonl');
    fs.writeFileSync(generic, INSTANCES.map((i) => JSON.stringify({ id: `g-${i.id}`, question: i.question, answer: i.answer, image: path.join(imgDir, `${i.id}.small.png`) }) + '\n').join(''));
    const tasks = loadRemoteTasks(generic, path.join(dir, 'render'));
    assert.ok(tasks.every((t) => t.inst === null));
    const out = path.join(dir, 'demos.jsonl');
    const judgeClient = new OpenAIClient({ endpoints: [judge.url], retryBaseMs: 10 });
    const rj = new RemoteJudge(judgeClient, { model: 'judge', imageSize: 48 });
    const { opts } = await synthOptions(server.url, out, { judge: rj, oracleFallback: false, rounds: 4, maxPerInstance: 4, keepCorrect: 0 });
    const s = await runSynth(tasks, opts);
    assert.equal(s.instances.errors_this_run, 0, JSON.stringify(s.errors));
    assert.ok(s.attempted >= 1);
    assert.ok(judgeCalls >= s.attempted, 'every flagged rollout was localized by the judge');
    assert.ok(rj.counters.verdicts >= s.attempted);
    // Without a scene, a demo needs the gold answer, a clean format and a judge with no objection.
    const byId = new Map(INSTANCES.map((i) => [`g-${i.id}`, i]));
    for (const d of readLines(out)) {
      const inst = byId.get(d.id)!;
      const text = d.messages[1].content[0].text;
      assert.equal(parseResponse(text).answer, inst.answer);
      assert.ok(verifyResponse(inst, text).complete, 'the (perfect) judge let only verified demos through');
      assert.equal(d.localizer, 'judge');
    }
  });

  test('--localizer judge on scene tasks records judge/verifier agreement', async () => {
    const dir = tempDir('agree');
    const out = path.join(dir, 'demos.jsonl');
    const rj = new RemoteJudge(new OpenAIClient({ endpoints: [judge.url], retryBaseMs: 10 }), { model: 'judge', imageSize: 48 });
    const { opts } = await synthOptions(server.url, out, { judge: rj, localizer: 'judge', rounds: 2, keepCorrect: 0 });
    const s = await runSynth(loadRemoteTasks(tasksFile, path.join(dir, 'render')), opts);
    assert.equal(s.instances.errors_this_run, 0, JSON.stringify(s.errors));
    assert.ok(s.judge_agreement && s.judge_agreement.compared >= 1);
    assert.equal(s.judge_agreement!.rate, 1, 'a perfect judge agrees with the verifier');
    checkDemos(readLines(out), new Map(INSTANCES.map((i) => [i.id, i])));
  });
});
