// Issue #17 rows 1 and 2. Row 1: `--out` at a directory that is not a run of the same kind (a
// checkpoint, `--init X --out X`) overwrote its config.json / metrics.jsonl. Row 2: two trainers
// on one run directory both exited 0 and interleaved metrics.jsonl. Now a run directory is
// owned through <dir>/.lock, and foreign directories are refused unless --force.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadTrainConfig as loadRlConfig } from '../../src/ivr/config.js';
import { trainRl } from '../../src/rl/trainer.js';
import { parseSftConfig } from '../../src/sft/config.js';
import { runSft } from '../../src/sft/trainer.js';
import { RunDir } from '../../src/train/run-dir.js';
import { RunLock } from '../../src/train/run-lock.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLI = path.join(REPO, 'dist/src/cli/main.js');
const RUN_DIR_JS = path.join(REPO, 'dist/src/train/run-dir.js');
const GRPO_SMOKE = path.join(REPO, 'configs/grpo-smoke.json');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-run-dir-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = () => path.join(root, `d${counter++}`);

const sftJson = {
  seed: 3,
  model: { vocab: 112, dim: 32, layers: 1, heads: 2, mlpRatio: 2, maxText: 128, imageSize: 48, patch: 8 },
  steps: 2, batch_size: 2, lr: 3e-3, warmup: 1, min_lr_frac: 0.1, weight_decay: 0.1, grad_clip: 1,
  families: ['grid'], max_horizon: { grid: 2, shapes: 2, chart: 2 },
  val_every: 1000, val_n: 1, checkpoint_every: 2, threads: 1,
};
const sftConfig = parseSftConfig(sftJson, 'test config');
const sftConfigFile = path.join(root, 'sft.json');
fs.writeFileSync(sftConfigFile, JSON.stringify(sftJson));

function cli(args: string[]): { status: number | null; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, cwd: REPO });
  return { status: r.status, stderr: r.stderr, ms: Date.now() - t0 };
}

/** A checkpoint that is not a run: a saved tiny policy (the final checkpoint of a tiny run). */
async function checkpointDir(): Promise<string> {
  const out = fresh();
  await runSft(sftConfig, { out, resume: false, quiet: true });
  return path.join(out, 'checkpoints', 'final');
}

const snapshot = (dir: string) => Object.fromEntries(fs.readdirSync(dir).sort().map((f) => [f, fs.readFileSync(path.join(dir, f)).toString('base64')]));

test('row 1: `ivr train --out` at a checkpoint is refused (exit 1) and the checkpoint is untouched; --force overrides', async () => {
  const ck = await checkpointDir();
  const before = snapshot(ck);
  const r = cli(['train', '--method', 'grpo', '--config', GRPO_SMOKE, '--out', ck, '--quiet']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /--out .* is a checkpoint \(it holds config\.json\), which a new rl run would overwrite; choose another --out, or pass --force/);
  assert.deepEqual(snapshot(ck), before);
  // --force: the directory is taken (config.json overwritten); refused no longer.
  const run = new RunDir(ck);
  run.open({ x: 1 }, { kind: 'rl', resume: false, force: true });
  run.close();
  assert.equal((JSON.parse(fs.readFileSync(path.join(ck, 'config.json'), 'utf8')) as { run_kind: string }).run_kind, 'rl');
});

test('row 1: --init and --out the same directory (also through a symlink, or nested) are refused before anything is written', async () => {
  const ck = await checkpointDir();
  const before = snapshot(ck);
  const link = path.join(root, `link${counter++}`);
  fs.symlinkSync(ck, link);
  const cfg = loadRlConfig(GRPO_SMOKE);
  for (const out of [ck, link]) {
    await assert.rejects(trainRl(cfg, { init: ck, out, resume: false, quiet: true, force: true }), /--init .* and --out .* are the same directory/);
  }
  await assert.rejects(trainRl(cfg, { init: ck, out: path.dirname(ck), resume: true, quiet: true }), /overlap: --init lies inside --out/);
  await assert.rejects(runSft(sftConfig, { init: ck, out: path.join(ck, 'sub'), resume: false, quiet: true }), /overlap: --out lies inside --init/);
  assert.deepEqual(snapshot(ck), before);
  const r = cli(['train', '--method', 'grpo', '--config', GRPO_SMOKE, '--init', link, '--out', ck, '--quiet']);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /are the same directory/);
});

test('row 1: a run of the other kind is refused without --force; a same-kind run without checkpoints, or unrelated files, are not', () => {
  const dir = fresh();
  const sft = new RunDir(dir);
  sft.open({ a: 1 }, { kind: 'sft', resume: false });
  sft.logMetrics({ step: 1 });
  sft.close();
  assert.throws(() => new RunDir(dir).open({ a: 1 }, { kind: 'rl', resume: false }), /is an sft run \(it holds config\.json, metrics\.jsonl, checkpoints\), which a new rl run would overwrite/);
  assert.throws(() => new RunDir(dir).open({ a: 1 }, { kind: 'rl', resume: true }), /--resume: .* holds an sft run .* which rl training cannot continue/);
  const again = new RunDir(dir);
  again.open({ a: 2 }, { kind: 'sft', resume: false });
  again.close();
  const bench = fresh(); // `ivr bench` keeps its own files in the run directory
  fs.mkdirSync(bench);
  fs.writeFileSync(path.join(bench, 'log.txt'), 'x');
  const b = new RunDir(bench);
  b.open({ a: 1 }, { kind: 'rl', resume: false });
  b.close();
  assert.equal(fs.readFileSync(path.join(bench, 'log.txt'), 'utf8'), 'x');
});

/** A process that owns `dir` (through RunDir.open, as a trainer) until killed. */
async function holder(dir: string): Promise<ChildProcess> {
  const code = `import { RunDir } from ${JSON.stringify(RUN_DIR_JS)};
    new RunDir(${JSON.stringify(dir)}).open({ a: 1 }, { kind: 'sft', resume: false });
    console.log('ready'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`holder exited with ${c}`)));
  });
  return child;
}

const exited = (c: ChildProcess) => new Promise<NodeJS.Signals | null>((r) => c.once('exit', (_code, signal) => r(signal)));

test('row 2: a second trainer on an owned directory fails at once naming the holder; SIGTERM and SIGINT release the lock', async () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const dir = fresh();
    const child = await holder(dir);
    const lockFile = path.join(dir, '.lock');
    assert.ok(fs.existsSync(lockFile));
    assert.throws(() => new RunDir(dir).open({ a: 1 }, { kind: 'sft', resume: true }), new RegExp(`is in use by another trainer: pid ${child.pid} since `));
    await assert.rejects(runSft(sftConfig, { out: dir, resume: false, quiet: true, force: true }), new RegExp(`pid ${child.pid}`));
    if (signal === 'SIGTERM') {
      const r = cli(['sft', '--config', sftConfigFile, '--out', dir, '--resume', '--quiet']);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`ivr: ${dir.replace(/[.]/g, '\\.')} is in use by another trainer: pid ${child.pid}`));
    }
    const gone = exited(child);
    child.kill(signal);
    assert.equal(await gone, signal, 'the holder dies of the signal');
    assert.ok(!fs.existsSync(lockFile), `${signal}: lock released`);
  }
});

test('row 2: a lock left by a killed process is taken over with a warning; one held on another host is refused', async () => {
  const dir = fresh();
  const child = await holder(dir);
  const gone = exited(child);
  child.kill('SIGKILL');
  await gone;
  const warnings: string[] = [];
  const lock = RunLock.acquire(dir, (m) => warnings.push(m));
  assert.match(warnings.join('\n'), new RegExp(`taking over stale lock .*\\.lock of pid ${child.pid} .*no longer running`));
  lock.release();
  assert.ok(!fs.existsSync(path.join(dir, '.lock')));
  fs.writeFileSync(path.join(dir, '.lock'), JSON.stringify({ pid: 1, host: 'elsewhere.example', started: 'then', command: 'ivr sft', token: 't' }));
  assert.throws(() => RunLock.acquire(dir), /is in use by pid 1 on host elsewhere\.example .* if no trainer runs there, delete .*\.lock/);
});

test('row 2: the lock is released after a run ends, normally or with an error', async () => {
  const dir = fresh();
  await runSft(sftConfig, { out: dir, resume: false, quiet: true });
  assert.ok(!fs.existsSync(path.join(dir, '.lock')));
  await assert.rejects(runSft({ ...sftConfig, lr: 1 }, { out: dir, resume: true, quiet: true }), /config differs/);
  assert.ok(!fs.existsSync(path.join(dir, '.lock')));
  await runSft(sftConfig, { out: dir, resume: true, quiet: true });
  assert.ok(!fs.existsSync(path.join(dir, '.lock')));
});
