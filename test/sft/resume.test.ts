// Resume after an interrupted SFT run reproduces the uninterrupted run bit for bit (every
// parameter and optimizer moment), and metrics.jsonl ends with exactly one row per step.
// Interruptions: (a) in-process, a throw injected right after a step's metrics row is written
// (the process "dies" with rows logged past the last checkpoint); (b) the real thing, the CLI
// killed with SIGKILL mid-run and restarted with --resume.
// Runs use threads = 1 so onnxruntime's reductions are deterministic.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSafetensors } from '../../src/engine/checkpoint.js';
import { parseSftConfig, type SftConfig } from '../../src/sft/config.js';
import { runSft } from '../../src/sft/trainer.js';
import { RunDir } from '../../src/train/run-dir.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-sft-resume-'));
process.on('exit', () => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function config(steps: number, over: Partial<Record<keyof SftConfig, unknown>> = {}): { json: Record<string, unknown>; cfg: SftConfig } {
  const json = {
    seed: 3,
    model: { vocab: 112, dim: 32, layers: 2, heads: 2, mlpRatio: 2, maxText: 128, imageSize: 48, patch: 8 },
    steps, batch_size: 4, lr: 3e-3, warmup: 2, min_lr_frac: 0.1, weight_decay: 0.1, grad_clip: 1,
    families: ['grid', 'shapes', 'chart'], max_horizon: { grid: 3, shapes: 3, chart: 3 },
    val_every: 1000, val_n: 3, checkpoint_every: 2, threads: 1, ...over,
  };
  return { json, cfg: parseSftConfig(json, 'test config') };
}

/** Every tensor (weights and, in `latest`, optimizer moments) of two checkpoints is bit-identical. */
function assertSameCheckpoint(a: string, b: string): void {
  const ta = loadSafetensors(path.join(a, 'model.safetensors')).tensors;
  const tb = loadSafetensors(path.join(b, 'model.safetensors')).tensors;
  assert.deepEqual(ta.map((t) => t.name), tb.map((t) => t.name), `${a} vs ${b}: tensor names`);
  ta.forEach((t, i) => {
    const u = tb[i]!;
    assert.deepEqual(t.shape, u.shape, t.name);
    const bytes = (x: typeof t) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength);
    assert.ok(bytes(t).equals(bytes(u)), `tensor "${t.name}" differs between ${a} and ${b}`);
  });
  const ca = JSON.parse(fs.readFileSync(path.join(a, 'config.json'), 'utf8'));
  const cb = JSON.parse(fs.readFileSync(path.join(b, 'config.json'), 'utf8'));
  assert.deepEqual(ca, cb, `${a} vs ${b}: config.json`);
}

function metricSteps(dir: string): number[] {
  return new RunDir(dir).readMetrics().map((r) => r.step as number);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** Runs runSft but throws right after the metrics row of step `crashAfter` is appended. */
async function runSftCrashingAfter(cfg: SftConfig, out: string, crashAfter: number): Promise<void> {
  const original = RunDir.prototype.logMetrics;
  RunDir.prototype.logMetrics = function (row: Record<string, unknown>) {
    original.call(this, row);
    if (row.step === crashAfter) throw new Error(`simulated crash after step ${crashAfter}`);
  };
  try {
    await assert.rejects(runSft(cfg, { out, resume: false, quiet: true }), /simulated crash/);
  } finally {
    RunDir.prototype.logMetrics = original;
  }
}

const N = 8;
const reference = path.join(tmpRoot, 'reference');
before(async () => {
  await runSft(config(N).cfg, { out: reference, resume: false, quiet: true });
  assert.deepEqual(metricSteps(reference), range(N));
});

test('in-process: crash after step 5 (checkpoint at 4), --resume to 8 == uninterrupted run, bit for bit', async () => {
  const { cfg } = config(N);
  const out = path.join(tmpRoot, 'crash5');
  await runSftCrashingAfter(cfg, out, 5);
  assert.deepEqual(metricSteps(out), [1, 2, 3, 4, 5]);
  const latest = JSON.parse(fs.readFileSync(path.join(out, 'checkpoints/latest/config.json'), 'utf8'));
  assert.equal(latest.optimizer_step, 4);
  assert.ok(!fs.existsSync(path.join(out, 'checkpoints/final')));

  await runSft(cfg, { out, resume: true, quiet: true });
  assert.deepEqual(metricSteps(out), range(N), 'metrics.jsonl: one row per step, none duplicated');
  assertSameCheckpoint(path.join(reference, 'checkpoints/final'), path.join(out, 'checkpoints/final'));
  assertSameCheckpoint(path.join(reference, 'checkpoints/latest'), path.join(out, 'checkpoints/latest'));
  // The logged losses of the replayed steps are those of the uninterrupted run too.
  const losses = (d: string) => new RunDir(d).readMetrics().map((r) => r.loss);
  assert.deepEqual(losses(out), losses(reference));
});

test('in-process: crash after step 1, before any checkpoint: --resume starts over without duplicating metric rows', async () => {
  const { cfg } = config(N);
  const out = path.join(tmpRoot, 'crash1');
  await runSftCrashingAfter(cfg, out, 1);
  assert.ok(!fs.existsSync(path.join(out, 'checkpoints/latest')));
  assert.deepEqual(metricSteps(out), [1]);
  await runSft(cfg, { out, resume: true, quiet: true });
  assertSameCheckpoint(path.join(reference, 'checkpoints/final'), path.join(out, 'checkpoints/final'));
  assert.deepEqual(metricSteps(out), range(N), 'metrics.jsonl: one row per step, none duplicated');
});

test('a fresh run into a directory with checkpoints is refused; --resume with a different config is refused; resuming a finished run is a no-op', async () => {
  const { cfg } = config(N);
  const before = fs.readFileSync(path.join(reference, 'checkpoints/final/model.safetensors'));
  await assert.rejects(runSft(cfg, { out: reference, resume: false, quiet: true }), /already holds a run with checkpoints; pass --resume/);
  await assert.rejects(runSft(config(N, { lr: 1e-3 }).cfg, { out: reference, resume: true, quiet: true }), /config differs/);
  await assert.rejects(runSft(cfg, { out: path.join(tmpRoot, 'never-started'), resume: true, quiet: true }), /has no config\.json/);
  // Nothing of the existing run was touched.
  assert.ok(before.equals(fs.readFileSync(path.join(reference, 'checkpoints/final/model.safetensors'))));
  assert.deepEqual(metricSteps(reference), range(N));
  // Resuming a finished run trains no further step and changes nothing.
  await runSft(cfg, { out: reference, resume: true, quiet: true });
  assert.deepEqual(metricSteps(reference), range(N));
  assert.ok(before.equals(fs.readFileSync(path.join(reference, 'checkpoints/final/model.safetensors'))));
});

function cli(args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('CLI: SIGKILL mid-run, then `ivr sft --resume` == uninterrupted run, bit for bit; one metrics row per step', async (t) => {
  const steps = 60;
  const { json, cfg } = config(steps, { checkpoint_every: 5 });
  const file = path.join(tmpRoot, 'cli-config.json');
  fs.writeFileSync(file, JSON.stringify(json, null, 2));
  const uninterrupted = path.join(tmpRoot, 'cli-reference');
  await runSft(cfg, { out: uninterrupted, resume: false, quiet: true });

  const out = path.join(tmpRoot, 'cli-run');
  const child = spawn(process.execPath, [CLI, 'sft', '--config', file, '--out', out, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += String(d); });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => { done = true; });
  // Kill once the first checkpoint exists and a couple of steps past it are logged.
  const latestCfg = path.join(out, 'checkpoints/latest/config.json');
  const deadline = Date.now() + 90_000;
  while (!done && Date.now() < deadline) {
    if (fs.existsSync(latestCfg) && metricSteps(out).length >= 7) { child.kill('SIGKILL'); break; }
    await new Promise((r) => setTimeout(r, 5));
  }
  const ex = await exited;
  assert.equal(ex.signal, 'SIGKILL', `the run was not killed mid-run (exit ${ex.code}); stderr: ${stderr}`);
  const killedAt = metricSteps(out);
  assert.ok(killedAt.length < steps && !fs.existsSync(path.join(out, 'checkpoints/final')), `run finished before the kill (${killedAt.length} rows)`);
  const ckStep = fs.existsSync(latestCfg) ? (JSON.parse(fs.readFileSync(latestCfg, 'utf8')) as { optimizer_step: number }).optimizer_step : null;
  t.diagnostic(`killed with ${killedAt.length} metric rows logged, latest checkpoint at step ${ckStep}`);

  const r = cli(['sft', '--config', file, '--out', out, '--resume', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /sft done/);
  assert.deepEqual(metricSteps(out), range(steps), `metrics.jsonl after resume (killed with ${killedAt.length} rows)`);
  assertSameCheckpoint(path.join(uninterrupted, 'checkpoints/final'), path.join(out, 'checkpoints/final'));
  assertSameCheckpoint(path.join(uninterrupted, 'checkpoints/latest'), path.join(out, 'checkpoints/latest'));

  // Without --resume into a directory with checkpoints: refused, clear message, exit 1.
  const again = cli(['sft', '--config', file, '--out', out, '--quiet']);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already holds a run with checkpoints; pass --resume to continue it or choose another output directory \(--force discards it\)/);
  // --resume with a different config: refused.
  const other = path.join(tmpRoot, 'cli-config-other.json');
  fs.writeFileSync(other, JSON.stringify({ ...json, lr: 1e-3 }));
  const diff = cli(['sft', '--config', other, '--out', out, '--resume', '--quiet']);
  assert.equal(diff.status, 1);
  assert.match(diff.stderr, /--resume: the config differs from the one .* was started with/);
  assert.deepEqual(metricSteps(out), range(steps), 'refused runs must not touch metrics.jsonl');
  assertSameCheckpoint(path.join(uninterrupted, 'checkpoints/final'), path.join(out, 'checkpoints/final'));
});
