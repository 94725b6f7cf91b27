// The hook where methods add samples to groups after rollouts and rewards and before
// advantages: LUFFY adds gold demonstrations, IVR-R1 adds rectified trajectories.
import type { Policy } from '../model/policy.js';
import type { RlConfig } from './config.js';
import type { Group } from './rollout.js';

export interface AugmentContext {
  policy: Policy;
  cfg: RlConfig;
  iteration: number;
  seed: number;
}

export interface AugmentResult {
  /** Logged as-is into metrics.jsonl. */
  stats: Record<string, unknown>;
  /** Tokens the method generated itself (they count toward the rollout-token budget). */
  extraGenTokens: number;
}

export interface Augmenter {
  name: string;
  augment(groups: Group[], ctx: AugmentContext): Promise<AugmentResult>;
}
