// Rectifiers (DESIGN §7.3): how the Re-Reasoning Loop continues from a verified prefix.
// Each is a strategy the loop asks two things: re-ground before continuing, and whether the
// scene prior rewrites the eroded step before a round's continuation. The table is what the
// config key `ivr.rectifier` (and `ivr synth --continuation`) chooses from, so ablations stay
// configuration.
import type { RECTIFIER_NAMES } from './config.js';

export type RectifierName = (typeof RECTIFIER_NAMES)[number];

export interface Rectifier {
  readonly name: RectifierName;
  /** Continue with the image re-inserted after the prefix (a remote VLM: attached again with the verified facts). */
  readonly reground: boolean;
  /** The prior rewrites the eroded step before round `round`'s continuation, given `kept` verified steps. */
  rewriteFirst(round: number, kept: number): boolean;
}

export const RECTIFIERS: Record<RectifierName, Rectifier> = {
  /** IVR-R1's default: the policy re-reasons from its verified prefix, re-grounded. */
  're-ground': { name: 're-ground', reground: true, rewriteFirst: () => false },
  /** Ablation: the same continuation without re-grounding (plain resampling from the prefix). */
  resample: { name: 'resample', reground: false, rewriteFirst: () => false },
  /** Ablation: the prior writes the eroded step before every continuation (no re-grounding:
   * the rewrite is the grounding). */
  oracle: { name: 'oracle', reground: false, rewriteFirst: () => true },
  /**
   * Re-ground, but when nothing before the erosion verified (k* = 0) the prior writes the
   * first step before round 1: there the policy never produced a grounded step, so
   * continuing from an empty prefix is just resampling the rollout that failed.
   */
  adaptive: { name: 'adaptive', reground: true, rewriteFirst: (round, kept) => round === 1 && kept === 0 },
};

export function rectifierFor(name: RectifierName): Rectifier {
  const r = RECTIFIERS[name];
  if (!r) throw new Error(`unknown rectifier "${name}" (known: ${Object.keys(RECTIFIERS).join(', ')})`);
  return r;
}
