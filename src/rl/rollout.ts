// Rollouts: G samples per prompt from the current policy, decoded, verified and rewarded.
// A Group is the unit every advantage estimator and every IVR-R1 strategy works on.
import { instancePatches, promptIds } from '../model/episode.js';
import type { Policy } from '../model/policy.js';
import { verifyResponse, type Instance, type Verification } from '../tasks/index.js';
import { overlongPenalty } from './advantages.js';
import { overlongMaxLen, type RlConfig } from './config.js';
import { composeReward } from './rewards.js';

export { RL_PROMPT_OFFSET, rlPrompt } from './prompts.js';

export type SampleKind = 'policy' | 'gold' | 'rectified';

export interface Sample {
  kind: SampleKind;
  responseIds: number[];
  responseText: string;
  /** Stopped on </answer> or <eos>, not on the length limit. */
  finished: boolean;
  /** The composed reward (config `reward`), plus DAPO's overlong penalty when enabled. */
  reward: number;
  /** Reward components, each 0 or 1: the answer is right / the response is well-formed. */
  accuracy: number;
  format: number;
  verification: Verification;
  /** Per response token: 1 = off-policy (scored with policy shaping), 0 = sampled by the policy. */
  offPolicy: Uint8Array;
  /** Per response token: 1 = written by the prior, not the policy (a rectified step); null = none. */
  rewritten: Uint8Array | null;
}

export interface Group {
  inst: Instance;
  patches: Float32Array;
  promptIds: number[];
  samples: Sample[];
}

/** The configured reward composition (rewards.ts), plus DAPO's soft overlong punishment when enabled. */
export function shapedReward(cfg: RlConfig, inst: Instance, text: string, length: number, verification: Verification = verifyResponse(inst, text)): { reward: number; accuracy: number; format: number } {
  // Only the verifier's components; the composition is ours (one verification per response).
  const accuracy = Number(verification.answerCorrect);
  const format = Number(verification.formatValid);
  let total = composeReward(cfg.reward.mode, cfg.reward.format_bonus, accuracy, format, Number(verification.complete));
  if (cfg.overlong.enabled) total += cfg.overlong.penalty_factor * overlongPenalty(length, overlongMaxLen(cfg), cfg.overlong.cache_len);
  return { reward: total, accuracy, format };
}

export function makeSample(cfg: RlConfig, policy: Policy, inst: Instance, kind: SampleKind, responseIds: number[], finished: boolean, offPolicy?: Uint8Array, rewritten?: Uint8Array): Sample {
  const text = policy.tokenizer.decode(responseIds);
  const verification = verifyResponse(inst, text);
  const r = shapedReward(cfg, inst, text, responseIds.length, verification);
  return {
    kind, responseIds, responseText: text, finished,
    reward: r.reward, accuracy: r.accuracy, format: r.format,
    verification,
    offPolicy: offPolicy ?? new Uint8Array(responseIds.length),
    rewritten: rewritten ?? null,
  };
}

/** Samples G responses for each instance. Returns the groups and the tokens generated. */
export async function rollout(policy: Policy, insts: Instance[], cfg: RlConfig, seed: number): Promise<{ groups: Group[]; genTokens: number }> {
  const tok = policy.tokenizer;
  const groups: Group[] = insts.map((inst) => ({ inst, patches: instancePatches(inst, policy.cfg), promptIds: promptIds(inst, tok), samples: [] }));
  const reqs = groups.flatMap((g) => Array.from({ length: cfg.group_size }, () => ({ patches: g.patches, segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: g.promptIds }] })));
  const maxNew = Math.min(cfg.max_new_tokens, policy.cfg.maxText - Math.max(...groups.map((g) => g.promptIds.length)));
  const gens = await policy.generate(reqs, { maxNew, temperature: cfg.temperature, topP: cfg.top_p, seed });
  let genTokens = 0;
  gens.forEach((g, i) => {
    const group = groups[Math.floor(i / cfg.group_size)]!;
    genTokens += g.tokens.length;
    group.samples.push(makeSample(cfg, policy, group.inst, 'policy', g.tokens, g.finished));
  });
  return { groups, genTokens };
}
