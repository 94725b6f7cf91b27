// The hook where methods add to the update after rollouts and rewards and before
// advantages: LUFFY adds gold demonstrations, IVR-R1 rectified trajectories. An augmenter
// reads the groups and RETURNS what it adds (data flows one way); the trainer assembles the
// update rows from the groups and these additions.
import type { Policy } from '../model/policy.js';
import type { RlConfig } from './config.js';
import type { Group, Sample } from './rollout.js';

/** What a sample is conditioned on: the image's patches and the prompt's token ids. */
export type PromptInput = Pick<Group, 'patches' | 'promptIds'>;

export interface AugmentContext {
  policy: Policy;
  cfg: RlConfig;
  iteration: number;
  seed: number;
}

/**
 * A sample that joins groups[group]'s advantages. `prompt` (default: the group's) conditions it
 * on more than the question, e.g. a hint the policy continued from: only its own tokens are trained.
 */
export interface Addition { group: number; sample: Sample; prompt?: PromptInput }

/** A demonstration with its own prompt: this iteration's group's, or (replay) an earlier one's. */
export interface Demonstration { prompt: PromptInput; sample: Sample }

export interface AugmentResult {
  /** Logged as-is into metrics.jsonl. */
  stats: Record<string, unknown>;
  /** Tokens the method generated itself (they count toward the rollout-token budget). */
  extraGenTokens: number;
  /** Samples that join their group: its advantages are computed with them included. */
  members: Addition[];
  /** Demonstrations trained by an auxiliary NLL (weight `demoNll`), apart from the advantages. */
  demos: Demonstration[];
  /** λ of the demonstrations' NLL: the loss gets λ · (mean NLL over demonstration tokens). */
  demoNll: number;
  /** Step-level credit: the response token from which a rollout's negative advantage applies. */
  creditFrom: Map<Sample, number>;
}

/** An AugmentResult that adds nothing. */
export function nothingAdded(stats: Record<string, unknown> = {}): AugmentResult {
  return { stats, extraGenTokens: 0, members: [], demos: [], demoNll: 0, creditFrom: new Map() };
}

export interface Augmenter {
  name: string;
  augment(groups: readonly Group[], ctx: AugmentContext): Promise<AugmentResult>;
  /** State carried across iterations (e.g. a replay buffer), JSON, saved with each resumable checkpoint. */
  saveState?(): unknown;
  /** Restores what saveState returned (on --resume). */
  restoreState?(state: unknown): void;
}
