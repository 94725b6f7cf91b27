// Visual erosion localisation (DESIGN §7.2): split a flawed rollout into steps, check each
// against the pristine visual prior (the scene), and return the first eroded step k*, its
// kind, and the verified prefix s_1..s_{k*-1} the Re-Reasoning Loop keeps.
import { verifyResponse, type Instance, type StepKind } from '../tasks/index.js';

export interface Localization {
  /** 0-based index of the first eroded step (steps.length when only the answer is wrong). */
  step: number;
  kind: StepKind;
  verifiedPrefix: string[];
}

export interface Localizer {
  name: string;
  localize(inst: Instance, response: string): Localization | null;
}

/** The scene-prior verifier: null when the rollout is fully verified and correct. */
export const verifierLocalizer: Localizer = {
  name: 'verifier',
  localize(inst, response) {
    const v = verifyResponse(inst, response);
    if (v.firstError === null) return null;
    return { step: v.firstError, kind: v.firstErrorKind ?? 'format', verifiedPrefix: v.verifiedPrefix };
  },
};

/** Ablation "no localisation": treat the whole rollout as eroded, rectify from the start. */
export const noLocalizer: Localizer = {
  name: 'none',
  localize(inst, response) {
    const v = verifyResponse(inst, response);
    if (v.complete) return null;
    return { step: 0, kind: v.firstErrorKind ?? 'format', verifiedPrefix: [] };
  },
};

/**
 * Character offset in `response` where step k begins, following parseResponse's rules
 * (steps are the non-blank lines of the think block, text on the <think> line included);
 * 0 when there is no think block, the end of the think block when k is past the last step.
 * Step-level credit needs the rollout's own layout, not the canonical one.
 */
export function stepOffset(response: string, k: number): number {
  const lead = response.length - response.trimStart().length;
  if (!response.startsWith('<think>', lead)) return 0;
  const start = lead + '<think>'.length;
  const closeAt = response.indexOf('</think>', start);
  const end = closeAt < 0 ? response.length : closeAt;
  let seen = 0;
  let lineStart = start;
  while (lineStart <= end) {
    const nl = response.indexOf('\n', lineStart);
    const lineEnd = nl < 0 || nl > end ? end : nl;
    const line = response.slice(lineStart, lineEnd);
    if (line.trim().length > 0) {
      if (seen === k) return lineStart + (line.length - line.trimStart().length);
      seen++;
    }
    if (lineEnd >= end) break;
    lineStart = lineEnd + 1;
  }
  return end;
}
