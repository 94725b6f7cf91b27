// The parts of one RL iteration that the loop (trainer.ts) strings together, each a function
// from values to values: collecting groups (with DAPO's dynamic sampling), assembling and
// scoring the update rows (KL in the reward, advantages, step credit, demonstration weights),
// and the metrics row. Nothing here writes into a Sample: rewards after KL, advantages and
// per-token weights are values of the rows.
import type { Policy } from '../model/policy.js';
import { computeAdvantages, dynamicSamplingKeep, isZeroVariance, scaleNegatives } from './advantages.js';
import type { AugmentResult } from './augment.js';
import type { RlConfig } from './config.js';
import { accuracyBy, groupOutcomes, summarize } from './diagnostics.js';
import { drawPrompts, horizonRange, type PromptStreamState } from './prompts.js';
import { klRewardPenalty } from './rewards.js';
import { rollout, type Group, type Sample } from './rollout.js';
import { demoNllWeight, responseLogps, type TrainRow } from './update.js';
import { nameSeed } from '../util/rng.js';

function mean(xs: readonly number[]): number { return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0; }

export interface Collected {
  /** The groups trained on (with dynamic sampling: those with reward variance). */
  groups: Group[];
  /** Every group drawn this iteration, before dynamic sampling dropped any. */
  drawn: Group[];
  genTokens: number;
}

/**
 * P groups of G rollouts. With dynamic sampling (DAPO §3.2) zero-variance groups are dropped
 * and more prompts drawn, up to max_gen_batches generation rounds.
 */
export async function collectGroups(policy: Policy, cfg: RlConfig, stream: PromptStreamState, iteration: number, seed: number): Promise<Collected> {
  const groups: Group[] = [];
  const drawn: Group[] = [];
  let genTokens = 0;
  const rounds = cfg.dynamic_sampling.enabled ? cfg.dynamic_sampling.max_gen_batches : 1;
  for (let batch = 0; batch < rounds && groups.length < cfg.prompts_per_iter; batch++) {
    const insts = drawPrompts(stream, cfg.prompts_per_iter - groups.length, cfg.prompts.families, (f) => horizonRange(f, cfg.prompts, iteration));
    const r = await rollout(policy, insts, cfg, nameSeed(seed, `rollout${batch}`));
    genTokens += r.genTokens;
    drawn.push(...r.groups);
    const keep = cfg.dynamic_sampling.enabled ? dynamicSamplingKeep(r.groups.map((g) => g.samples.map((s) => s.reward))) : r.groups.map((_, i) => i);
    groups.push(...keep.map((i) => r.groups[i]!));
  }
  return { groups, drawn, genTokens };
}

export interface Scored {
  rows: TrainRow[];
  /** Per group, the samples whose advantages were computed together (rollouts, then members). */
  members: Sample[][];
  advantages: number[][];
  klPenalties: number[];
}

type RowBase = { patches: Float32Array; promptIds: number[]; sample: Sample };

/**
 * The update rows: each group's rollouts and added members (advantages over them together,
 * after KL in the reward when configured), then the demonstrations (advantage 0, NLL weight).
 * Old log-probs come from a scoring pass unless the update's own forward pass can give them
 * (one epoch in one minibatch, as TRL does for num_iterations = 1); reference log-probs when β > 0.
 */
export async function scoreRows(policy: Policy, ref: Policy | null, cfg: RlConfig, groups: readonly Group[], added: AugmentResult): Promise<Scored> {
  const members = groups.map((g) => [...g.samples]);
  for (const m of added.members) members[m.group]!.push(m.sample);
  // A member conditioned on its own prompt (a hint it continued from) is trained in that context.
  const promptOf = new Map(added.members.flatMap((m) => (m.prompt ? [[m.sample, m.prompt] as const] : [])));
  const baseOf = (gi: number, sample: Sample): RowBase => {
    const p = promptOf.get(sample) ?? groups[gi]!;
    return { patches: p.patches, promptIds: p.promptIds, sample };
  };
  const base = members.flatMap((ss, gi) => ss.map((s) => baseOf(gi, s)));
  const demos: RowBase[] = added.demos.map((d) => ({ patches: d.prompt.patches, promptIds: d.prompt.promptIds, sample: d.sample }));
  const all = [...base, ...demos];

  const oldFromUpdate = cfg.epochs === 1 && all.length <= cfg.minibatch_size && cfg.kl.placement !== 'reward';
  const old = all.length && !oldFromUpdate ? await responseLogps(policy, all) : null;
  const refLp = ref && all.length ? await responseLogps(ref, all) : null;

  // KL in the reward (verl's use_kl_in_reward; rewards.ts), then advantages over each group.
  const rewards = members.map((ss) => ss.map((s) => s.reward));
  const klPenalties: number[] = [];
  if (cfg.kl.placement === 'reward' && refLp) {
    let k = 0;
    rewards.forEach((rs, gi) => rs.forEach((_, j) => {
      const p = klRewardPenalty(old![k]!, refLp[k]!, members[gi]![j]!.offPolicy, cfg.kl.estimator, cfg.beta);
      rs[j] -= p;
      klPenalties.push(p);
      k++;
    }));
  }
  const adv = computeAdvantages(rewards, members.map((ss) => ss.map((s) => s.responseIds.length)), cfg.advantage);
  const advantages = cfg.negative_scale < 1 ? scaleNegatives(adv.advantages, cfg.negative_scale) : adv.advantages;

  const flatAdv = advantages.flat();
  const nllWeight = demoNllWeight(demos.reduce((a, d) => a + d.sample.responseIds.length, 0), added.demoNll);
  const rows: TrainRow[] = all.map((r, i) => ({
    ...r,
    advantage: i < base.length ? flatAdv[i]! : 0,
    creditFrom: added.creditFrom.get(r.sample),
    nllWeight: i < base.length ? 0 : nllWeight,
    oldLogp: old ? old[i]! : null,
    refLogp: refLp ? refLp[i]! : null,
  }));
  return { rows, members, advantages, klPenalties };
}

/** The logged figures of one iteration (rollouts, groups, advantages, update). */
export function iterationMetrics(c: Collected, s: Scored, upd: Record<string, number>): Record<string, unknown> {
  const policySamples = c.groups.flatMap((g) => g.samples);
  const zeroVar = c.drawn.filter((g) => isZeroVariance(g.samples.map((x) => x.reward)));
  const outcomes = groupOutcomes(zeroVar.map((g) => g.samples.map((x) => x.accuracy)));
  const advStats = summarize(s.advantages.flat());
  const demoTokens = s.rows.filter((r) => r.sample.kind !== 'policy').reduce((a, r) => a + r.sample.responseIds.length, 0);
  const allTokens = s.rows.reduce((a, r) => a + r.sample.responseIds.length, 0);
  const drawn = c.drawn.length;
  return {
    // Reward (before any KL penalty) and its components over the policy's own rollouts.
    reward_mean: mean(policySamples.map((x) => x.reward)),
    accuracy: mean(policySamples.map((x) => x.accuracy)),
    format_rate: mean(policySamples.map((x) => x.format)),
    accuracy_by_family: accuracyBy(c.groups.flatMap((g) => g.samples.map((x) => ({ key: g.inst.family, accuracy: x.accuracy })))),
    prompt_horizon_mean: mean(c.drawn.map((g) => g.inst.horizon)), // follows the curriculum
    kl_reward_penalty: mean(s.klPenalties),
    // Groups drawn this iteration (before dynamic sampling drops any): zero reward variance,
    // and of those, all right / all wrong. The share with variance is the informative share.
    zero_variance_groups: drawn ? zeroVar.length / drawn : 0,
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
    // Demonstrations in the update: their NLL term, and the mean log-prob of their tokens the
    // prior rewrote and of the rest (before this iteration's step).
    demo_nll: upd.demo_nll ?? 0,
    demo_rewritten_logp: upd.demo_rewritten_logp ?? 0,
    demo_kept_logp: upd.demo_kept_logp ?? 0,
    response_len: mean(policySamples.map((x) => x.responseIds.length)),
    demo_token_frac: allTokens ? demoTokens / allTokens : 0,
    groups: c.groups.length,
  };
}
