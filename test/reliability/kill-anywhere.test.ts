// Defects found by scripts/kill-anywhere.mjs (issue #27, item 3), each with its regression test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fromInstance, wholePng } from '../../src/client/task.js';
import { encodePng, generateInstance, renderSmall } from '../../src/tasks/index.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-kill-anywhere-test-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));

test('synth task images: a PNG torn by a kill mid-render is rendered again, not kept forever', () => {
  // ivr synth renders images of tasks without image files into DEMOS.images/. They were
  // written with writeFileSync and skipped when the file existed, so a SIGKILL mid-write left
  // a torn PNG that every resumed run accepted (and served to the model).
  const inst = generateInstance('grid', 42, 3);
  const { images: _drop, ...bare } = inst;
  const dir = path.join(TMP, 'demos.images');
  const first = fromInstance(bare, dir);
  const small = first.images[0]!.path;
  const whole = fs.readFileSync(small);
  assert.ok(wholePng(small));
  assert.ok(whole.equals(Buffer.from(encodePng(renderSmall(inst)))));
  fs.writeFileSync(small, whole.subarray(0, Math.floor(whole.length / 2))); // the torn write
  assert.equal(wholePng(small), false);
  fromInstance(bare, dir); // the resumed run
  assert.ok(fs.readFileSync(small).equals(whole), 'the torn image was rendered again');
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temp files left');
});

test('scripts/kill-anywhere.mjs at a small budget: sft and tasks export killed 3 times, resumed, equal to uninterrupted runs', { timeout: 180_000 }, async () => {
  const { spawnSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const r = spawnSync(process.execPath, [path.join(root, 'scripts/kill-anywhere.mjs'), '--kills', '3', '--seed', '5', '--only', 'sft,export', '--work', path.join(TMP, 'ka')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /3 kills in \d+ s; nothing lost, duplicated, locked or corrupt/);
});

test('a child of ivr bench (IVR_EXIT_WITH_PARENT=1) stops when its parent is SIGKILLed instead of training on', { timeout: 60_000 }, async () => {
  // kill-anywhere found the children of a killed bench still training (and holding their run
  // directory's lock) long after it died. A shell stands in for the bench: it starts the CLI in
  // the background and is killed; the orphan must exit within a few seconds.
  const { spawn } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const cli = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..'), 'dist/src/cli/main.js');
  const pidFile = path.join(TMP, 'orphan.pid');
  const sh = spawn('sh', ['-c', `"${process.execPath}" "${cli}" serve --port 0 --checkpoint checkpoints/base >/dev/null 2>&1 & echo $! > "${pidFile}"; wait`], {
    env: { ...process.env, IVR_EXIT_WITH_PARENT: '1' }, stdio: 'ignore', cwd: path.resolve(path.dirname(cli), '../../..'),
  });
  const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
  const t0 = Date.now();
  while (!fs.existsSync(pidFile) || !fs.readFileSync(pidFile, 'utf8').trim()) { if (Date.now() - t0 > 20_000) break; await new Promise((r) => setTimeout(r, 50)); }
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  await new Promise((r) => setTimeout(r, 1500)); // the CLI is up and watching
  sh.kill('SIGKILL');
  const t1 = Date.now();
  while (alive(pid) && Date.now() - t1 < 15_000) await new Promise((r) => setTimeout(r, 100));
  const gone = !alive(pid);
  if (!gone) process.kill(pid, 'SIGKILL');
  assert.ok(gone, 'the orphaned child exited');
});
