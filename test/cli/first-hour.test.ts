// Issue 25 ("a newcomer's first hour"): what tripped a new user, each through the CLI.
//   item 4: `ivr demo` runs twice in a row (the second replaced the first instead of stopping
//           with "pass --resume ... (--force discards it)"), and `ivr demo --force` exists;
//   item 5: --checkpoint / --init accept a run directory (its final, else latest, checkpoint),
//           and a directory that is neither says what to pass instead;
//   item 6: Ctrl-C through npm (npm forwards it to an `sh -c` that dies and leaves the CLI
//           running) stops a trainer, which says how to resume; --resume says where it resumed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { savePolicy } from '../../src/model/checkpoint-io.js';
import { Policy } from '../../src/model/policy.js';
import { SMALL_CFG } from '../helpers/remote-fixture.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const REPO = path.resolve(path.dirname(CLI), '..', '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-first-hour-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], cwd = REPO): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000, cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tiny = path.join(tmp, 'tiny');
savePolicy(tiny, Policy.init(SMALL_CFG, 5, undefined, 1));
const demoOut = path.join(tmp, 'demo');
const DEMO = ['demo', '--init', tiny, '--out', demoOut, '--eval-n', '1',
  '--set', 'iterations=1', '--set', 'prompts_per_iter=2', '--set', 'group_size=2', '--set', 'max_new_tokens=40',
  '--set', 'val_size=3', '--set', 'val_every=1', '--set', 'minibatch_size=4', '--set', 'threads=1'];

test('item 4: `ivr demo` twice in a row: the second replaces the first; --force and --resume exist', () => {
  const first = cli(DEMO);
  assert.equal(first.status, 0, first.stderr);
  const second = cli(DEMO);
  assert.equal(second.status, 0, `the second demo failed:\n${second.stderr}`);
  assert.match(second.stdout, /holds an earlier demo; it is replaced/);
  assert.ok(fs.existsSync(path.join(demoOut, 'report.html')));
  const forced = cli([...DEMO, '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  const both = cli([...DEMO, '--force', '--resume']);
  assert.equal(both.status, 2, 'one of --force and --resume');
});

test('item 5: a run directory is accepted as --checkpoint and --init; a directory that is neither names what to pass', () => {
  const runDir = path.join(demoOut, 'run');
  assert.ok(fs.existsSync(path.join(runDir, 'checkpoints', 'final', 'model.safetensors')), 'the demo test left its run');
  const r = cli(['eval', '--checkpoint', runDir, '--split', 'test', '--n', '1', '--json']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /is a run directory: using its final checkpoint/);
  assert.ok(JSON.parse(r.stdout), 'JSON on stdout stays clean');
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  const bad = cli(['eval', '--checkpoint', empty, '--split', 'test', '--n', '1']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /neither a checkpoint .* nor a run directory with checkpoints\/final or checkpoints\/latest/);
  const help = cli(['eval', '-h']).stdout + cli(['serve', '-h']).stdout;
  assert.doesNotMatch(help, /runs\/ivr\/final/, 'no help example names a path trainers never write');
});

function sftConfig(file: string, steps: number): void {
  fs.writeFileSync(file, JSON.stringify({
    seed: 3, model: { vocab: 112, dim: 32, layers: 1, heads: 2, mlpRatio: 2, maxText: 128, imageSize: 48, patch: 8 },
    steps, batch_size: 2, lr: 3e-3, warmup: 2, min_lr_frac: 0.1, weight_decay: 0.1, grad_clip: 1,
    families: ['grid'], max_horizon: { grid: 2 }, val_every: 100000, val_n: 3, checkpoint_every: 2, threads: 1,
  }));
}

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The shell npm runs `npx ivr ...` with: the repository's .npmrc `script-shell`, else sh. */
function npmScriptShell(): string {
  const rc = fs.existsSync(path.join(REPO, '.npmrc')) ? fs.readFileSync(path.join(REPO, '.npmrc'), 'utf8') : '';
  return /^script-shell\s*=\s*(\S+)/m.exec(rc)?.[1] ?? 'sh';
}

test('item 6: Ctrl-C (kill -INT) forwarded by npm to its shell stops the trainer, which says how to resume; --resume says where it resumed', async () => {
  const file = path.join(tmp, 'sft.json');
  sftConfig(file, 100000);
  const out = path.join(tmp, 'sft-run');
  // As `npx ivr sft ...` runs it: npm's run-script starts `<script-shell> -c "<bin> <args>"`
  // with npm_lifecycle_event set, and forwards SIGINT to that shell alone.
  const line = [process.execPath, CLI, 'sft', '--config', file, '--out', out, '--quiet'].map((w) => `'${w}'`).join(' ');
  const sh = spawn(npmScriptShell(), ['-c', line], { env: { ...process.env, npm_lifecycle_event: 'npx' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  sh.stderr.on('data', (d) => { stderr += String(d); });
  const streamsClosed = new Promise<void>((resolve) => sh.stderr.on('close', () => resolve()));
  const latest = path.join(out, 'checkpoints', 'latest', 'config.json');
  const lock = path.join(out, '.lock');
  const deadline = Date.now() + 60_000;
  while (!fs.existsSync(latest) && Date.now() < deadline) await sleep(20);
  assert.ok(fs.existsSync(latest), `no checkpoint within a minute: ${stderr}`);
  const trainerPid = (JSON.parse(fs.readFileSync(lock, 'utf8')) as { pid: number }).pid;
  sh.kill('SIGINT');
  const stopBy = Date.now() + 15_000;
  while (alive(trainerPid) && Date.now() < stopBy) await sleep(50);
  const stillRunning = alive(trainerPid);
  if (stillRunning) process.kill(trainerPid, 'SIGKILL');
  assert.ok(!stillRunning, 'the trainer kept training after Ctrl-C reached npm\'s shell');
  await streamsClosed;
  assert.ok(!fs.existsSync(lock), 'the run directory is released');
  assert.match(stderr, /interrupted \(SIGINT\); .* keeps its checkpoint at step \d+ \(checkpoints\/latest\); continue with:\n {2}ivr sft --config .* --resume/);
  const at = Number(/checkpoint at step (\d+)/.exec(stderr)![1]);

  // Resuming says where it resumed (a short run: the config's steps must match, so resume
  // and stop it again the same way, directly this time).
  const child = spawn(process.execPath, [CLI, 'sft', '--config', file, '--out', out, '--resume', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err2 = '';
  child.stderr.on('data', (d) => { err2 += String(d); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const by = Date.now() + 60_000;
  while (!/resumed .* at step \d+/.test(err2) && Date.now() < by) await sleep(20);
  assert.match(err2, new RegExp(`resumed .*sft-run at step (${at}|${at + 2}) \\(checkpoints/latest\\)`));
  child.kill('SIGINT');
  const ex = await exited;
  assert.equal(ex.signal, 'SIGINT', 'a direct Ctrl-C ends the trainer by SIGINT (exit 130 in a shell)');
  assert.match(err2, /interrupted \(SIGINT\).*continue with:\n {2}ivr sft .*--resume/s);
});
