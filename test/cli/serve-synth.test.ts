// The real CLI: `ivr serve` as a child process (the openai client against it, graceful
// SIGTERM with a request in flight) and `ivr synth` as a child process against it
// (demonstrations, summary, resume), plus usage errors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { verifyResponse } from '../../src/tasks/index.js';
import { loadRemoteTasks } from '../../src/client/task.js';
import { listeningUrl } from '../helpers/serve-child.js';
import { exportTasks, pngDataUrl, tempDir, trainedCheckpoint, TRAIN_INSTANCES, UNSEEN_INSTANCES } from '../helpers/remote-fixture.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const INSTANCES = [...TRAIN_INSTANCES.slice(0, 2), ...UNSEEN_INSTANCES];

let child: ChildProcessWithoutNullStreams;
let url = '';
let stderr = '';
let exited: Promise<number | null>;
let tasksFile: string;

before(async () => {
  const ckpt = await trainedCheckpoint();
  tasksFile = exportTasks(tempDir('cli-tasks'), INSTANCES);
  child = spawn(process.execPath, [MAIN, 'serve', '--checkpoint', ckpt, '--port', '0', '--model-name', 'tiny', '--api-key', 'k3y', '--threads', '1'], { stdio: 'pipe' });
  exited = new Promise((r) => child.on('exit', (code) => r(code)));
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  url = await listeningUrl(child, 30_000);
});

after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });

function synth(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, 'synth', ...args], { stdio: 'pipe', env: { ...process.env, OPENAI_API_KEY: 'k3y' } });
    let stdout = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    p.on('exit', (code) => resolve({ code, stdout, stderr: err }));
  });
}

describe('ivr serve and ivr synth as processes', () => {
  test('ivr serve binds to loopback and answers the openai client (with an image)', async () => {
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const client = new OpenAI({ baseURL: url, apiKey: 'k3y', maxRetries: 0 });
    const img = loadRemoteTasks(tasksFile, tempDir('r'))[0]!.images.find((i) => i.width === 48)!.path;
    const r = await client.chat.completions.create({ model: 'tiny', temperature: 0, max_tokens: 60, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: pngDataUrl(img) } }, { type: 'text', text: INSTANCES[0]!.question }] }] });
    const text = r.choices[0]!.message.content!;
    assert.ok(text.startsWith('<think>'), text);
    assert.ok(verifyResponse(INSTANCES[0]!, text).complete, `the trained model solves a training instance greedily: ${text}`);
    await assert.rejects(new OpenAI({ baseURL: url, apiKey: 'wrong', maxRetries: 0 }).models.list(), /401/);
  });

  test('ivr synth writes demos and a summary, and a rerun resumes', async () => {
    const dir = tempDir('cli-synth');
    const out = path.join(dir, 'demos.jsonl');
    // What the fixture can do, as in synth.test.ts. It memorised 4 tasks, SFT'd on plain
    // contexts only: after a re-inserted image (the default --continuation reground) it writes
    // garbage even on the tasks it memorised, and on unseen tasks it cannot conclude even from
    // all the gold steps. The loop once written in synth hid that: with --oracle-fallback it
    // rewrote the answer slot from the prior, so every unseen task came out "rectified" by
    // round 3 whatever the model wrote. The one loop (ivr/rereason.ts, shared with RL) rewrites
    // steps only (test/ivr/rereason.test.ts pins that). So: plain continuation; τ just above 1
    // also flags right-answer rollouts with a format error (reward 1 + 0.1 · 0), which the fixture
    // re-reasons from their verified prefix; and verified-correct rollouts are kept, so demos
    // are written whatever the sampled rollouts are. The unseen tasks still go through the loop.
    const common = ['--endpoint', url, '--model', 'tiny', '--tasks', tasksFile, '--samples', '3', '--rounds', '3', '--oracle-fallback',
      '--continuation', 'prefix', '--tau', '1.05', '--keep-correct', '1', '--json', '--retry-delay-ms', '20'];
    const args = [...common, '--out', out];
    const r1 = await synth(args);
    assert.equal(r1.code, 0, r1.stderr);
    const s1 = JSON.parse(r1.stdout);
    assert.equal(s1.instances.done, INSTANCES.length);
    assert.equal(s1.config.prompt_format, 'question', 'asked the endpoint for its prompt format');
    assert.ok(s1.requests.requests >= INSTANCES.length);
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.equal(lines.length, s1.demos.total);
    assert.ok(lines.length >= 1);
    assert.ok(s1.attempted >= 2, 'the unseen tasks have flagged rollouts');
    assert.ok(s1.rectified <= s1.attempted && s1.attempted <= s1.flagged);
    assert.equal(lines.filter((l) => l.source === 'rectified').length, s1.demos.rectified);
    for (const d of lines) {
      const inst = INSTANCES.find((i) => i.id === d.id)!;
      assert.ok(verifyResponse(inst, d.messages[1].content[0].text).complete);
      assert.ok(fs.existsSync(d.images[0]));
    }
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'demos.summary.json'), 'utf8')).instances, s1.instances);

    const r2 = await synth(args);
    assert.equal(r2.code, 0, r2.stderr);
    const s2 = JSON.parse(r2.stdout);
    assert.equal(s2.instances.resumed, INSTANCES.length);
    assert.equal(s2.instances.this_run, 0);
    assert.equal(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).length, lines.length);

    const llama = path.join(dir, 'llama.jsonl');
    const r3 = await synth([...common, '--out', llama, '--format', 'llamafactory', '--image-paths', 'relative', '--limit', '2']);
    assert.equal(r3.code, 0, r3.stderr);
    for (const d of fs.readFileSync(llama, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))) {
      assert.ok(d.messages[0].content.startsWith('<image>'));
      assert.equal(typeof d.messages[1].content, 'string');
      assert.ok(!path.isAbsolute(d.images[0]) && fs.existsSync(path.join(dir, d.images[0])));
    }
  });

  test('usage errors name the option', async () => {
    const r = await synth(['--endpoint', url, '--model', 'tiny', '--tasks', tasksFile]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /required option '--out <file>' not specified/);
    const r2 = await synth(['--endpoint', url, '--model', 'tiny', '--tasks', tasksFile, '--out', '/tmp/x.jsonl', '--localizer', 'oracle']);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /option '--localizer <how>' argument .* is invalid\. Allowed choices are verifier, judge/);
    const s = spawnSync(process.execPath, [MAIN, 'serve', '--port', 'abc'], { encoding: 'utf8' });
    assert.equal(s.status, 2);
    assert.match(s.stderr, /option '--port <port>' argument 'abc' is invalid\. Expected an integer in 0\.\.65535/);
  });

  test('SIGTERM finishes the request in flight, then the server exits 0', async () => {
    const client = new OpenAI({ baseURL: url, apiKey: 'k3y', maxRetries: 0 });
    const img = loadRemoteTasks(tasksFile, tempDir('r'))[0]!.images.find((i) => i.width === 48)!.path;
    const pending = client.chat.completions.create({ model: 'tiny', max_tokens: 80, n: 4, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: pngDataUrl(img) } }, { type: 'text', text: 'moves RRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR' }] }] });
    let done = false;
    void pending.finally(() => { done = true; }).catch(() => {});
    // Wait until the request is being decoded (or already answered), then ask the server to stop.
    for (;;) {
      const m = await (await fetch(url.replace(/\/v1$/, '/metrics'), { headers: { authorization: 'Bearer k3y' } })).json() as { scheduler: { running: number; queued: number } };
      if (done || m.scheduler.running > 0 || m.scheduler.queued > 0) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGTERM');
    const r = await pending;
    assert.equal(r.choices.length, 4);
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM: finishing/);
  });
});
