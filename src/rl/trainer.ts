// The RL loop, thin on purpose: rollouts -> rewards -> (method's augmentation) ->
// advantages -> old/ref log-probs -> μ epochs of clipped updates. Everything that differs
// between GRPO, Dr. GRPO, DAPO, LUFFY and IVR-R1 is config or an Augmenter.
import { AdamState } from '../engine/optim.js';
import { nameSeed } from '../util/rng.js';
import { evaluatePolicy } from '../eval/evaluate.js';
import { loadPolicy, savePolicy } from '../model/checkpoint-io.js';
import type { Policy } from '../model/policy.js';
import { FAMILY_IDS, getSplit, type FamilyId, type Instance } from '../tasks/index.js';
import { RunDir } from '../train/run-dir.js';
import { cosineLr } from '../train/schedule.js';
import { Progress } from '../util/progress.js';
import { nothingAdded, type Augmenter } from './augment.js';
import { METHOD_ADDS_SAMPLES, type RlConfig } from './config.js';
import { collectGroups, iterationMetrics, scoreRows } from './iteration.js';
import { unfilteredStreamState, type PromptStreamState } from './prompts.js';
import { probePolicy, probeSet } from './probe.js';
import { RlUpdater } from './update.js';
import { peakRssMiB, rssMiB } from '../util/memory.js';

export interface TrainOptions {
  init: string;
  out: string;
  resume: boolean;
  /** Start over in --out even if it holds something else (see RunDir.open). */
  force?: boolean;
  /** Stop once this many rollout tokens (incl. the method's own generation) were generated. */
  budgetTokens?: number;
  quiet?: boolean;
  /** The method's augmenter (ivr/methods.ts augmenterFor; kept out of rl/ so that rl never depends on ivr/). */
  augmenter?: Augmenter;
}

interface LoopState {
  iteration: number;
  /** Prompts drawn so far (the stream's round-robin counter). */
  promptCursor: number;
  genTokensTotal: number;
  /** Per family, the next train-split index of the prompt stream (absent in runs saved before filters existed: then derived from promptCursor). */
  familyCursors?: Record<string, number>;
}

/**
 * The learning rate of iteration `it`: a linear warm-up (a fresh optimizer's first steps are
 * sign-like), then constant or cosine decay to min_lr_frac · lr (train/schedule.ts, as SFT).
 * A constant lr of 5·10⁻⁴ left the known-answer run oscillating at its end (docs/rl-recipe.md).
 */
export function iterationLr(cfg: RlConfig, it: number): number {
  if (cfg.lr_schedule === 'cosine') return cosineLr(it, cfg.iterations, cfg.lr, cfg.warmup_iters, cfg.min_lr_frac);
  return cfg.warmup_iters > 0 ? cfg.lr * Math.min(1, (it + 1) / cfg.warmup_iters) : cfg.lr;
}

export function rlValidationSet(n: number, families: readonly FamilyId[] = FAMILY_IDS): Instance[] {
  const per = Math.max(1, Math.ceil(n / families.length));
  return families.flatMap((f) => getSplit(f, 'val', per));
}

export async function trainRl(cfg: RlConfig, opts: TrainOptions): Promise<{ policy: Policy; run: RunDir }> {
  const run = new RunDir(opts.out);
  run.open({ ...cfg, init: opts.init, budget_tokens: opts.budgetTokens ?? null }, { kind: 'rl', resume: opts.resume, force: opts.force, init: opts.init });
  try {
    return await rlLoop(cfg, opts, run);
  } finally {
    run.close();
  }
}

async function rlLoop(cfg: RlConfig, opts: TrainOptions, run: RunDir): Promise<{ policy: Policy; run: RunDir }> {
  const threads = cfg.threads > 0 ? cfg.threads : undefined;
  const ref = cfg.beta > 0 ? loadPolicy(opts.init, threads).policy : null;
  let policy: Policy;
  let state: AdamState;
  let loop: LoopState = { iteration: 0, promptCursor: 0, genTokensTotal: 0 };
  if (opts.resume && run.hasCheckpoint()) {
    const saved = loadPolicy(run.latest, threads);
    if (!saved.optimizer) throw new Error(`${run.latest}: no optimizer state to resume from`);
    policy = saved.policy;
    state = saved.optimizer;
    loop = saved.extra.loop as LoopState;
    if (saved.extra.augmenter_state !== undefined) opts.augmenter?.restoreState?.(saved.extra.augmenter_state);
  } else {
    policy = loadPolicy(opts.init, threads).policy;
    state = AdamState.zeros(policy.params.specs);
  }
  // Rows logged after the checkpoint we start from (or before any checkpoint) are replayed.
  run.truncateMetrics((r) => typeof r.iter === 'number' && r.iter <= loop.iteration);
  // The caller builds the method's augmenter (ivr/methods.ts augmenterFor); the trainer only
  // checks that it belongs to the configured method and that methods which add samples got one.
  const augmenter = opts.augmenter;
  if (augmenter && augmenter.name !== cfg.method) throw new Error(`the augmenter "${augmenter.name}" does not belong to method "${cfg.method}"`);
  if (!augmenter && METHOD_ADDS_SAMPLES[cfg.method]) throw new Error(`method "${cfg.method}" needs its augmenter (augmenterFor(cfg) in ivr/methods.ts)`);
  const updater = new RlUpdater(policy, cfg);
  const valSet = rlValidationSet(cfg.val_size);
  const probe = cfg.probe ? probeSet(cfg.probe) : null;
  // The probe before the first update, as row iter 0 (a resumed run has it already).
  if (probe && loop.iteration === 0 && !run.readMetrics().some((r) => r.iter === 0)) run.logMetrics({ iter: 0, ...(await probePolicy(policy, probe)) });
  const progress = new Progress(`train ${cfg.method}`, cfg.iterations, opts.quiet);
  const augmenterState = () => { const s = augmenter?.saveState?.(); return s === undefined ? {} : { augmenter_state: s }; };
  const save = () => savePolicy(run.latest, policy, { kind: 'rl', method: cfg.method, loop, config: cfg, ...augmenterState() }, state);

  const stream: PromptStreamState = loop.familyCursors
    ? { next: loop.promptCursor, cursors: { ...loop.familyCursors } }
    : unfilteredStreamState(loop.promptCursor, cfg.prompts.families);

  while (loop.iteration < cfg.iterations) {
    if (opts.budgetTokens !== undefined && loop.genTokensTotal >= opts.budgetTokens) break;
    const it = loop.iteration;
    const seed = nameSeed(cfg.seed, `iter${it}`);
    const t0 = performance.now();

    // 1. Rollouts (DAPO's dynamic sampling refills the batch with informative groups).
    const collected = await collectGroups(policy, cfg, stream, it, seed);
    loop.promptCursor = stream.next;
    loop.familyCursors = { ...stream.cursors };
    const { groups } = collected;
    let genTokens = collected.genTokens;
    const tRollout = (performance.now() - t0) / 1000;

    // 2. What the method adds (LUFFY gold demos, IVR-R1 rectified trajectories).
    const t1 = performance.now();
    const added = augmenter && groups.length
      ? await augmenter.augment(groups, { policy, cfg, iteration: it, seed: nameSeed(seed, 'augment') })
      : nothingAdded();
    genTokens += added.extraGenTokens;
    const tAugment = (performance.now() - t1) / 1000;

    // 3. The update rows, with log-probs under the sampling policy and the reference.
    const t2 = performance.now();
    const scored = await scoreRows(policy, ref, cfg, groups, added);
    const tScore = (performance.now() - t2) / 1000;

    // 4. Update.
    const t3 = performance.now();
    const lr = iterationLr(cfg, it);
    const upd = scored.rows.length ? await updater.update(scored.rows, state, lr, nameSeed(seed, 'minibatch')) : {};
    const tUpdate = (performance.now() - t3) / 1000;

    loop.genTokensTotal += genTokens;
    loop.iteration++;
    const wall = (performance.now() - t0) / 1000;
    const row: Record<string, unknown> = {
      iter: loop.iteration,
      ...iterationMetrics(collected, scored, upd),
      gen_tokens: genTokens,
      gen_tokens_total: loop.genTokensTotal,
      t_rollout_s: tRollout,
      t_augment_s: tAugment,
      t_score_s: tScore,
      t_update_s: tUpdate,
      tokens_per_s: genTokens / Math.max(1e-9, tRollout + tAugment),
      // Memory per iteration, so growth after the first iterations shows in the run's own log.
      rss_mib: rssMiB(),
      peak_rss_mib: peakRssMiB(),
      lr,
      ...added.stats,
    };
    if (probe && loop.iteration % cfg.probe!.every === 0) Object.assign(row, await probePolicy(policy, probe));
    if (cfg.val_every > 0 && (loop.iteration % cfg.val_every === 0 || loop.iteration === cfg.iterations)) {
      const rep = await evaluatePolicy(policy, valSet, { temperature: 0, topP: 1, samples: 1, seed: cfg.seed });
      row.val_accuracy = rep.accuracy;
      row.val_grounding = rep.grounding_fidelity;
      row.val_by_family = Object.fromEntries(rep.by_family.map((f) => [f.family, f.accuracy]));
    }
    run.logMetrics(row);
    if (cfg.checkpoint_every > 0 && loop.iteration % cfg.checkpoint_every === 0) save();
    progress.update(loop.iteration, `reward ${(row.reward_mean as number).toFixed(3)} acc ${(row.accuracy as number).toFixed(3)} zv ${(row.zero_variance_groups as number).toFixed(2)} ${wall.toFixed(1)}s/it${row.val_accuracy !== undefined ? ` val ${(row.val_accuracy as number).toFixed(3)}` : ''}`);
  }
  progress.done();
  save();
  savePolicy(run.final, policy, { kind: 'rl', method: cfg.method, loop, config: cfg });
  return { policy, run };
}
