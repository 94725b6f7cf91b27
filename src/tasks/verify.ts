// Prompting, verification, reward and oracle steps, shared by all families.
//
// Verification semantics (see types.ts for the step kinds):
// - Each parsed step gets a verdict from its family's checker, judged against the scene and the
//   model's OWN earlier steps, so later steps are judged even after an error.
// - `firstError` is the index of the first problem. An index < steps.length is a step; the
//   index steps.length is the slot after the last written step, used when every written step
//   is ok but the response goes wrong after them:
//     fewer steps than the horizon, think block closed  → 'logical' (missing step)
//     missing </think>, missing/empty answer, trailing text, unreadable answer → 'format'
//     a readable answer that is not the gold answer    → 'logical' (it does not follow from the steps)
//   Extra steps beyond the horizon are 'logical' errors at their own index.
// - A verified prefix (the steps before firstError) need not be the gold prefix: the chain
//   families (shapes, chart) accept every valid order of reads (chain.ts). Grid steps follow
//   the question's moves one by one, so there a verified prefix is the gold prefix.
// Reward: accuracy (1 if the normalized answer equals the gold answer, else 0)
//         + FORMAT_BONUS (0.1) if the response is well-formed (formatValid).
import type { Instance, StepKind, StepVerdict, TaskFamily } from './types.js';
import { formatResponse, parseResponse } from './format.js';
import { getFamily } from './registry.js';

/** Weight of the format term in `reward`. */
export const FORMAT_BONUS = 0.1;

export interface Verification {
  /** One verdict per parsed step. */
  steps: StepVerdict[];
  /** Index of the first problem (see the header of verify.ts), or null when the response is complete. */
  firstError: number | null;
  firstErrorKind: StepKind | null;
  firstErrorReason: string | null;
  /** The steps before firstError (all steps when firstError is null or >= steps.length). */
  verifiedPrefix: string[];
  /** The answer text as written (trimmed), or null when missing. */
  answer: string | null;
  /** Whether the normalized answer equals the gold answer (regardless of the steps). */
  answerCorrect: boolean;
  /** Structure parses, every step is readable in the family grammar, and the answer is readable. */
  formatValid: boolean;
  /** Every step ok, exactly `horizon` steps, well-formed, and the answer correct. */
  complete: boolean;
  /** Visual claims made by all steps, and how many hold (grounding fidelity = held / claims). */
  visualClaims: number;
  visualClaimsHeld: number;
}

/** The text the model is asked: the question followed by a newline. The response follows it. */
export function promptText(inst: Instance): string {
  return inst.question + '\n';
}

/** The full gold response in the shared format. */
export function goldResponse(inst: Instance): string {
  return formatResponse(inst.steps, inst.answer);
}

/** A self-contained prompt for external VLMs: family grammar, response format and the question. */
export function instructionPrompt(inst: Instance): string {
  const fam = getFamily(inst.family);
  return [
    fam.grammar,
    'Respond exactly in this format, one step per line and nothing else:',
    '<think>',
    'step 1',
    'step 2',
    '...',
    '</think><answer>ANSWER</answer>',
    '',
    `Question: ${inst.question}`,
  ].join('\n');
}

function normalized(fam: TaskFamily, answer: string): string | null {
  return fam.normalizeAnswer(answer);
}

/** Verify a response against an instance. Never throws on any response text. */
export function verifyResponse(inst: Instance, text: string): Verification {
  const fam = getFamily(inst.family);
  const parsed = parseResponse(text);
  const checks = fam.checkSteps(inst, parsed.steps);
  const steps: StepVerdict[] = checks.map((c, index) => ({ index, text: parsed.steps[index]!, ...c }));
  const answerNorm = parsed.answer === null ? null : normalized(fam, parsed.answer);
  const gold = normalized(fam, inst.answer) ?? inst.answer;
  const answerCorrect = answerNorm !== null && answerNorm === gold;

  let firstError: number | null = null;
  let kind: StepKind | null = null;
  let reason: string | null = null;
  const bad = steps.find((s) => s.kind !== 'ok');
  if (bad) {
    firstError = bad.index;
    kind = bad.kind;
    reason = bad.reason ?? null;
  } else {
    const n = steps.length;
    if (parsed.formatError) { firstError = n; kind = 'format'; reason = parsed.formatError.reason; }
    else if (n < inst.horizon) { firstError = n; kind = 'logical'; reason = `missing step ${n + 1}: the question needs ${inst.horizon} steps`; }
    else if (answerNorm === null) { firstError = n; kind = 'format'; reason = `cannot read the answer ${JSON.stringify(parsed.answer)}`; }
    else if (!answerCorrect) { firstError = n; kind = 'logical'; reason = `answer ${parsed.answer} does not follow from the steps (${gold})`; }
  }
  const formatValid = parsed.formatError === null && answerNorm !== null && steps.every((s) => s.kind !== 'format');
  let visualClaims = 0, visualClaimsHeld = 0;
  for (const s of steps) { visualClaims += s.visualClaims; visualClaimsHeld += s.visualClaimsHeld; }
  return {
    steps,
    firstError,
    firstErrorKind: kind,
    firstErrorReason: reason,
    verifiedPrefix: parsed.steps.slice(0, firstError === null ? parsed.steps.length : Math.min(firstError, parsed.steps.length)),
    answer: parsed.answer,
    answerCorrect,
    formatValid,
    complete: firstError === null,
    visualClaims,
    visualClaimsHeld,
  };
}

/** Outcome reward: `reward = accuracy + FORMAT_BONUS * format`, accuracy and format each 0 or 1. */
export function reward(inst: Instance, text: string): { reward: number; accuracy: number; format: number } {
  const v = verifyResponse(inst, text);
  const accuracy = v.answerCorrect ? 1 : 0;
  const format = v.formatValid ? 1 : 0;
  return { reward: accuracy + FORMAT_BONUS * format, accuracy, format };
}

/**
 * The correct next step after `prefixSteps` (IVR-R1's oracle rewrite), continuing the
 * prefix in its own order (TaskFamily.nextStep; for a gold prefix, the next gold step); null
 * when some prefix step is not ok or the prefix already has `horizon` steps. Steps are
 * compared after trimming.
 */
export function oracleStep(inst: Instance, prefixSteps: readonly string[]): string | null {
  if (prefixSteps.length >= inst.horizon) return null;
  const fam = getFamily(inst.family);
  const trimmed = prefixSteps.map((s) => String(s).trim());
  if (trimmed.some((s) => s.length === 0 || /[\r\n]/.test(s))) return null;
  if (!fam.checkSteps(inst, trimmed).every((c) => c.kind === 'ok')) return null;
  return fam.nextStep(inst, trimmed);
}
