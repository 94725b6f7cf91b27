// A small trained policy for tests that need a model that is "somewhat good": trained by
// SFT (src/sft/trainer.ts) on short horizons, once per machine, and cached under
// os.tmpdir()/ivr-r1-test-cache/<hash of the spec and the model code>, so every test file
// (each runs in its own process) reuses it. Concurrent test processes serialise on a lock
// directory; the cache entry is published by an atomic rename.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import { DEFAULT_VLM, type VlmConfig } from '../../src/model/config.js';
import { Policy } from '../../src/model/policy.js';
import { DEFAULT_SFT, type SftConfig } from '../../src/sft/config.js';
import { runSft } from '../../src/sft/trainer.js';
import type { FamilyId } from '../../src/tasks/index.js';

export interface TinyPolicySpec {
  families: FamilyId[];
  /** SFT horizons run from each family's training minimum (2) up to this. */
  maxHorizon: Partial<Record<FamilyId, number>>;
  steps: number;
  batchSize: number;
  lr: number;
  model: Partial<VlmConfig>;
  seed: number;
  /**
   * A second SFT stage (as in scripts/make-base.sh) in which this share of the examples show
   * the image re-inserted at a step boundary, so that the policy can use the Re-Reasoning
   * Loop's re-grounding; null = none.
   */
  reground: { steps: number; lr: number; prob: number } | null;
}

/**
 * The default tiny policy: dim 64, 2 layers, maxText 160, SFT'd for 900 steps on the grid
 * family (the easiest for a small model) at horizons 2–3, then 150 steps with half of the
 * examples re-grounded (image re-inserted at a step boundary). Fits in 2–3 minutes on 2
 * loaded cores, once per machine. Good enough to continue a verified prefix, flawed enough to
 * give the Re-Reasoning Loop and RL real work; near 0 on shapes and chart and on long grid
 * horizons (the prompt stream of the trainer mixes those in).
 */
export const TINY_SPEC: TinyPolicySpec = {
  families: ['grid'],
  maxHorizon: { grid: 3 },
  // 450 steps sufficed with learned absolute positions; with ALiBi (no position
  // embeddings) the tiny model needs longer to learn where it is in the chain.
  steps: 900,
  batchSize: 24,
  lr: 4e-3,
  model: { dim: 64, layers: 2, heads: 4, mlpRatio: 4, maxText: 160 },
  seed: 1234,
  reground: { steps: 150, lr: 1e-3, prob: 0.5 },
};

export const TEST_CACHE_ROOT = path.join(os.tmpdir(), 'ivr-r1-test-cache');

function sftConfig(spec: TinyPolicySpec, threads: number): SftConfig {
  const model: VlmConfig = { ...DEFAULT_VLM, ...spec.model };
  return {
    ...DEFAULT_SFT,
    seed: spec.seed,
    model,
    steps: spec.steps,
    batch_size: spec.batchSize,
    lr: spec.lr,
    warmup: Math.min(20, Math.floor(spec.steps / 10)),
    min_lr_frac: 0.1,
    families: spec.families,
    max_horizon: { grid: 2, shapes: 2, chart: 2, ...spec.maxHorizon },
    val_every: spec.steps, // one validation at the end (cheap: val_n is small)
    val_n: 6,
    checkpoint_every: spec.steps,
    threads,
    reground_prob: 0,
  };
}

/**
 * Invalidate the cache when what a checkpoint means changes: the parameter set, the forward
 * pass (vlm.js) or the tokenizer. (SFT code changes do not invalidate it: any reasonably
 * trained tiny policy serves the tests, and retraining costs a minute or two.)
 */
function cacheKey(spec: TinyPolicySpec): string {
  const h = createHash('sha256').update('tiny-policy-v1').update(JSON.stringify(spec));
  const cfg: VlmConfig = { ...DEFAULT_VLM, ...spec.model };
  h.update(JSON.stringify(Policy.specs(cfg).map((s) => [s.name, s.shape])));
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const rel of ['../../src/model/vlm.js', '../../src/model/tokenizer.js']) {
    const f = path.join(here, rel);
    if (fs.existsSync(f)) h.update(fs.readFileSync(f));
  }
  return h.digest('hex').slice(0, 16);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether the process that holds `lock` still runs (a lock without a pid file gets 30 s). */
function lockHolderAlive(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8'));
  } catch {
    const st = fs.statSync(lock, { throwIfNoEntry: false });
    return !st || Date.now() - st.mtimeMs < 30_000;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function buildInto(dir: string, spec: TinyPolicySpec): Promise<void> {
  const work = `${dir}.work-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  const threads = Math.max(1, Math.min(2, os.availableParallelism()));
  try {
    const base = sftConfig(spec, threads);
    await runSft(base, { out: path.join(work, 'base'), resume: false, quiet: true });
    let final = path.join(work, 'base', 'checkpoints', 'final');
    if (spec.reground) {
      const r = spec.reground;
      const cfg: SftConfig = { ...base, steps: r.steps, lr: r.lr, warmup: Math.min(10, r.steps), val_every: r.steps, checkpoint_every: r.steps, reground_prob: r.prob };
      await runSft(cfg, { out: path.join(work, 'reground'), resume: false, quiet: true, init: final, streamOffset: 100_000 });
      final = path.join(work, 'reground', 'checkpoints', 'final');
    }
    try {
      fs.renameSync(final, dir);
    } catch (e) {
      if (!fs.existsSync(path.join(dir, 'config.json'))) throw e; // someone else published first: fine
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** Directory of the cached checkpoint for `spec`, training it first when absent. */
export async function tinyPolicyDir(spec: TinyPolicySpec = TINY_SPEC): Promise<string> {
  fs.mkdirSync(TEST_CACHE_ROOT, { recursive: true });
  const dir = path.join(TEST_CACHE_ROOT, `policy-${cacheKey(spec)}`);
  const ready = () => fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'model.safetensors'));
  const lock = `${dir}.lock`;
  const deadline = Date.now() + 20 * 60_000;
  while (!ready()) {
    try {
      fs.mkdirSync(lock);
      fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
    } catch {
      // Another process is training it; take over a lock left by a dead (killed) process.
      if (!lockHolderAlive(lock)) fs.rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`tiny policy: timed out waiting for ${lock}`);
      await sleep(500);
      continue;
    }
    try {
      // Holding the lock: work directories left here by killed builders are garbage.
      for (const f of fs.readdirSync(TEST_CACHE_ROOT)) {
        if (f.startsWith(`${path.basename(dir)}.work-`)) fs.rmSync(path.join(TEST_CACHE_ROOT, f), { recursive: true, force: true });
      }
      if (!ready()) await buildInto(dir, spec);
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
  return dir;
}

const memo = new Map<string, Promise<string>>();

/** A fresh Policy object loaded from the cached tiny checkpoint (trained once per machine). */
export async function tinyPolicy(spec: TinyPolicySpec = TINY_SPEC, threads = Math.min(2, os.availableParallelism())): Promise<{ dir: string; policy: Policy }> {
  const key = JSON.stringify(spec);
  let p = memo.get(key);
  if (!p) { p = tinyPolicyDir(spec); memo.set(key, p); }
  const dir = await p;
  return { dir, policy: loadPolicy(dir, threads).policy };
}
