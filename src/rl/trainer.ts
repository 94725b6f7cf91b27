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
import { Progress } from '../util/progress.js';
import { computeAdvantages, isZeroVariance, scaleNegatives } from './advantages.js';
import type { Augmenter } from './augment.js';
import type { RlConfig } from './config.js';
import { accuracyBy, groupOutcomes, summarize } from './diagnostics.js';
import { luffyAugmenter } from './luffy.js';
import { drawPrompts, horizonRange, unfilteredStreamState, type PromptStreamState } from './prompts.js';
import { klRewardPenalty } from './rewards.js';
import { rollout, type Group } from './rollout.js';
import { responseLogps, RlUpdater, rowsOf, type TrainRow } from './update.js';
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
  /** Supplies the IVR-R1 augmenter (kept out of rl/ so that rl never depends on ivr/). */
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

export function rlValidationSet(n: number, families: readonly FamilyId[] = FAMILY_IDS): Instance[] {
  const per = Math.max(1, Math.ceil(n / families.length));
  return families.flatMap((f) => getSplit(f, 'val', per));
}

function mean(xs: number[]): number { return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0; }

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
  } else {
    policy = loadPolicy(opts.init, threads).policy;
    state = AdamState.zeros(policy.params.specs);
  }
  // Rows logged after the checkpoint we start from (or before any checkpoint) are replayed.
  run.truncateMetrics((r) => typeof r.iter === 'number' && r.iter <= loop.iteration);
  const augmenter = cfg.method === 'luffy' ? luffyAugmenter : cfg.method === 'ivr' ? opts.augmenter : undefined;
  if (cfg.method === 'ivr' && !augmenter) throw new Error('method "ivr" needs the IVR-R1 augmenter');
  const updater = new RlUpdater(policy, cfg);
  const valSet = rlValidationSet(cfg.val_size);
  const progress = new Progress(`train ${cfg.method}`, cfg.iterations, opts.quiet);
  const save = () => savePolicy(run.latest, policy, { kind: 'rl', method: cfg.method, loop, config: cfg }, state);

  const stream: PromptStreamState = loop.familyCursors
    ? { next: loop.promptCursor, cursors: { ...loop.familyCursors } }
    : unfilteredStreamState(loop.promptCursor, cfg.prompts.families);

  while (loop.iteration < cfg.iterations) {
    if (opts.budgetTokens !== undefined && loop.genTokensTotal >= opts.budgetTokens) break;
    const it = loop.iteration;
    const seed = nameSeed(cfg.seed, `iter${it}`);
    const t0 = performance.now();

    // 1. Rollouts (DAPO's dynamic sampling refills the batch with informative groups).
    let groups: Group[] = [];
    let genTokens = 0;
    let zeroVar = 0;
    const drawnGroups: Group[] = [];
    for (let batch = 0; batch < (cfg.dynamic_sampling.enabled ? cfg.dynamic_sampling.max_gen_batches : 1); batch++) {
      const need = cfg.prompts_per_iter - groups.length;
      const insts = drawPrompts(stream, need, cfg.prompts.families, (f) => horizonRange(f, cfg.prompts, it));
      loop.promptCursor = stream.next;
      loop.familyCursors = { ...stream.cursors };
      const r = await rollout(policy, insts, cfg, nameSeed(seed, `rollout${batch}`));
      genTokens += r.genTokens;
      drawnGroups.push(...r.groups);
      for (const g of r.groups) {
        const zv = isZeroVariance(g.samples.map((s) => s.reward));
        if (zv) zeroVar++;
        if (!cfg.dynamic_sampling.enabled || !zv) groups.push(g);
      }
      if (groups.length >= cfg.prompts_per_iter) break;
    }
    const policySamples = groups.flatMap((g) => g.samples);
    const rewardMean = mean(policySamples.map((s) => s.reward)); // before any KL penalty
    const byFamily = accuracyBy(groups.flatMap((g) => g.samples.map((s) => ({ key: g.inst.family, accuracy: s.accuracy }))));
    const tRollout = (performance.now() - t0) / 1000;

    // 2. The method's own samples (LUFFY gold demos, IVR-R1 rectified trajectories).
    const t1 = performance.now();
    let augStats: Record<string, unknown> = {};
    if (augmenter && groups.length) {
      const a = await augmenter.augment(groups, { policy, cfg, iteration: it, seed: nameSeed(seed, 'augment') });
      augStats = a.stats;
      genTokens += a.extraGenTokens;
    }
    const tAugment = (performance.now() - t1) / 1000;

    // 3. Log-probs under the sampling policy (same graph family as the update) and reference.
    const t2 = performance.now();
    const base = rowsOf(groups);
    // With one epoch in one minibatch, the policy being updated is the one that sampled: its
    // log-probs come out of the update's own forward pass (stop-gradient) and the scoring pass
    // is skipped, as TRL does for num_iterations = 1. KL in the reward needs them before that.
    const oldFromUpdate = cfg.epochs === 1 && base.length <= cfg.minibatch_size && cfg.kl.placement !== 'reward';
    const old = base.length && !oldFromUpdate ? await responseLogps(policy, base) : null;
    const refLp = ref && base.length ? await responseLogps(ref, base) : null;
    const rows: TrainRow[] = base.map((r, i) => ({ ...r, oldLogp: old ? old[i]! : null, refLogp: refLp ? refLp[i]! : null }));
    const tScore = (performance.now() - t2) / 1000;

    // 4. KL in the reward (verl's use_kl_in_reward; rewards.ts), then advantages over each
    //    group including added members. rows[i].sample are the groups' samples, in order.
    const klPenalties: number[] = [];
    if (cfg.kl.placement === 'reward' && refLp) {
      for (const r of rows) {
        const p = klRewardPenalty(r.oldLogp!, r.refLogp!, r.sample.offPolicy, cfg.kl.estimator, cfg.beta);
        r.sample.reward -= p;
        klPenalties.push(p);
      }
    }
    const adv = computeAdvantages(
      groups.map((g) => g.samples.map((s) => s.reward)), groups.map((g) => g.samples.map((s) => s.responseIds.length)), cfg.advantage);
    const advantages = cfg.negative_scale < 1 ? scaleNegatives(adv.advantages, cfg.negative_scale) : adv.advantages;
    groups.forEach((g, i) => g.samples.forEach((s, j) => { s.advantage = advantages[i]![j]!; }));

    // 5. Update.
    const t3 = performance.now();
    const stepCredit = cfg.method === 'ivr' && cfg.ivr.step_credit;
    const upd = rows.length ? await updater.update(rows, state, cfg.lr, nameSeed(seed, 'minibatch'), stepCredit) : {};
    const tUpdate = (performance.now() - t3) / 1000;

    loop.genTokensTotal += genTokens;
    loop.iteration++;
    const wall = (performance.now() - t0) / 1000;
    const demoTokens = rows.filter((r) => r.sample.kind !== 'policy').reduce((a, r) => a + r.sample.responseIds.length, 0);
    const allTokens = rows.reduce((a, r) => a + r.sample.responseIds.length, 0);
    const drawn = drawnGroups.length;
    const outcomes = groupOutcomes(drawnGroups.filter((g) => isZeroVariance(g.samples.map((s) => s.reward))).map((g) => g.samples.map((s) => s.accuracy)));
    const advStats = summarize(groups.flatMap((g) => g.samples.map((s) => s.advantage)));
    const row: Record<string, unknown> = {
      iter: loop.iteration,
      // Reward (before any KL penalty) and its components over the policy's own rollouts.
      reward_mean: rewardMean,
      accuracy: mean(policySamples.map((s) => s.accuracy)),
      format_rate: mean(policySamples.map((s) => s.format)),
      accuracy_by_family: byFamily,
      prompt_horizon_mean: mean(drawnGroups.map((g) => g.inst.horizon)), // follows the curriculum
      kl_reward_penalty: mean(klPenalties),
      // Groups drawn this iteration (before dynamic sampling drops any): zero reward variance,
      // and of those, all right / all wrong.
      zero_variance_groups: drawn ? zeroVar / drawn : 0,
      zero_variance_all_correct: drawn ? outcomes.allCorrect / drawn : 0,
      zero_variance_all_wrong: drawn ? outcomes.allWrong / drawn : 0,
      adv_mean: advStats.mean,
      adv_std: advStats.std,
      adv_min: advStats.min,
      adv_max: advStats.max,
      kl: upd.kl ?? 0,
      entropy: upd.entropy ?? 0,
      clip_frac: upd.clip_frac ?? 0,
      clip_frac_high: upd.clip_frac_high ?? 0,
      clip_frac_low: upd.clip_frac_low ?? 0,
      ratio_mean: upd.ratio_mean ?? 0,
      ratio_min: upd.ratio_min ?? 0,
      ratio_max: upd.ratio_max ?? 0,
      loss: upd.loss ?? 0,
      grad_norm: upd.grad_norm ?? 0,
      response_len: mean(policySamples.map((s) => s.responseIds.length)),
      gen_tokens: genTokens,
      gen_tokens_total: loop.genTokensTotal,
      demo_token_frac: allTokens ? demoTokens / allTokens : 0,
      groups: groups.length,
      t_rollout_s: tRollout,
      t_augment_s: tAugment,
      t_score_s: tScore,
      t_update_s: tUpdate,
      tokens_per_s: genTokens / Math.max(1e-9, tRollout + tAugment),
      // Memory per iteration, so growth after the first iterations shows in the run's own log.
      rss_mib: rssMiB(),
      peak_rss_mib: peakRssMiB(),
      ...augStats,
    };
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
