// Small helpers shared by the family implementations.
import type { HorizonRange, StepCheck } from '../types.js';
import type { Rng } from '../../util/rng.js';

/** Throw a RangeError unless seed is a non-negative safe integer and horizon is within limits. */
export function checkGenerateArgs(family: string, seed: number, horizon: number, limits: HorizonRange): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`${family}: seed must be a non-negative integer, got ${seed}`);
  if (!Number.isInteger(horizon) || horizon < limits[0] || horizon > limits[1]) {
    throw new RangeError(`${family}: horizon must be an integer in ${limits[0]}..${limits[1]}, got ${horizon}`);
  }
}

/** Verdict from the visual and logical problems found in a step (visual wins). */
export function verdict(claims: number, held: number, visual: readonly string[], logical: readonly string[]): StepCheck {
  if (visual.length > 0) return { kind: 'visual', visualClaims: claims, visualClaimsHeld: held, reason: visual.concat(logical).join('; ') };
  if (logical.length > 0) return { kind: 'logical', visualClaims: claims, visualClaimsHeld: held, reason: logical.join('; ') };
  return { kind: 'ok', visualClaims: claims, visualClaimsHeld: held };
}

/** Canonical integer answer ("+7", " 7 ", "07" → "7"); null if not an integer. */
export function normalizeInteger(text: string): string | null {
  const m = /^([+-]?)0*([0-9]+)\.?$/.exec(text.trim());
  if (!m) return null;
  const v = Number(m[1] === '-' ? '-' + m[2] : m[2]);
  return Number.isSafeInteger(v) ? String(v) : null;
}

/**
 * An unreadable version of a step, by construction: insert a character outside every step
 * alphabet, drop the first "=" or " ", or replace the step by prose without "=".
 */
export function garbleStep(step: string, rng: Rng): string {
  const r = rng.int(0, 2);
  if (r === 0) {
    const at = rng.int(0, step.length);
    return step.slice(0, at) + rng.pick(['?', '!', '#', '@', '&', '%']) + step.slice(at);
  }
  if (r === 1) {
    const at = step.search(/[= ]/);
    if (at >= 0) return step.slice(0, at) + step.slice(at + 1);
  }
  return rng.pick(['then I look again', 'not sure', 'so', 'step', '...', 'hmm ok']);
}
