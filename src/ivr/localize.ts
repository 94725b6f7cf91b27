// Visual erosion localisation (DESIGN §7.2): the first eroded step k* of a response, its
// kind, and the verified prefix s_1..s_{k*-1} the Re-Reasoning Loop keeps. One interface for
// every localizer: the scene-prior verifier, "none" (the ablation), and a judge model where a
// task has no scene (or everywhere, on request). Asynchronous because a judge is a remote call.
// The same localizer that finds k* in a rollout also checks each round of the loop.
import type { ReasonTask } from '../reasoner/task.js';
import { taskOutcome } from '../reasoner/task.js';
import { parseResponse, verifyResponse, type StepKind } from '../tasks/index.js';

export interface Localization {
  /** 0-based index of the first eroded step (steps.length when only the answer is wrong). */
  step: number;
  kind: StepKind;
  verifiedPrefix: string[];
}

export interface Localizer {
  readonly name: string;
  /** null = nothing eroded: the response is fully grounded and correct. */
  localize(task: ReasonTask, response: string): Promise<Localization | null>;
}

function sceneOf(task: ReasonTask) {
  if (!task.inst) throw new Error(`task ${task.id} has no scene prior: use the judge localizer`);
  return task.inst;
}

/** The scene-prior verifier: null when the response is fully verified and correct. */
export const verifierLocalizer: Localizer = {
  name: 'verifier',
  async localize(task, response) {
    const v = verifyResponse(sceneOf(task), response);
    if (v.firstError === null) return null;
    return { step: v.firstError, kind: v.firstErrorKind ?? 'format', verifiedPrefix: v.verifiedPrefix };
  },
};

/** Ablation "no localisation": treat the whole rollout as eroded, rectify from the start. */
export const noLocalizer: Localizer = {
  name: 'none',
  async localize(task, response) {
    const v = verifyResponse(sceneOf(task), response);
    if (v.complete) return null;
    return { step: 0, kind: v.firstErrorKind ?? 'format', verifiedPrefix: [] };
  },
};

/** The localizers an RL config names (`ivr.localizer`); the judge needs a model, so it is built by judgeLocalizer. */
export const LOCALIZERS = { verifier: verifierLocalizer, none: noLocalizer } as const satisfies Record<string, Localizer>;

/** What a judge model says about a response's steps (client/judge.ts RemoteJudge is one). */
export interface StepJudge {
  firstError(task: ReasonTask, steps: readonly string[], answer: string | null): Promise<{ first_error_step: number | null; kind: StepKind | null }>;
}

/** The judge's cut and the scene verifier's on a scene task (how often they agree is reported). */
export interface JudgeCheck { judge: number | null; verifier: number | null }

/**
 * The judge's first error, combined with what the parser knows for sure: a structural format
 * error before the judged step wins; when the judge finds nothing but the answer is wrong,
 * the error is at the answer slot (after the last step). On a scene task the verifier stays
 * the ground truth: a complete response is accepted without asking, and when the judge misses
 * an erosion the verifier's cut is used; `onCheck` hears both cuts.
 */
export function judgeLocalizer(judge: StepJudge, onCheck?: (c: JudgeCheck) => void): Localizer {
  const judged = async (task: ReasonTask, response: string): Promise<Localization | null> => {
    const p = parseResponse(response);
    const verdict = await judge.firstError(task, p.steps, p.answer);
    let loc: Localization | null = verdict.first_error_step === null ? null : { step: verdict.first_error_step - 1, kind: verdict.kind ?? 'logical', verifiedPrefix: [] };
    if (p.formatError && (!loc || p.formatError.step < loc.step)) loc = { step: p.formatError.step, kind: 'format', verifiedPrefix: [] };
    if (!loc && taskOutcome(task, response).accuracy === 0) loc = { step: p.steps.length, kind: 'logical', verifiedPrefix: [] };
    if (!loc) return null;
    const step = Math.min(loc.step, p.steps.length);
    return { step, kind: loc.kind, verifiedPrefix: p.steps.slice(0, step) };
  };
  return {
    name: 'judge',
    async localize(task, response) {
      if (!task.inst) return judged(task, response);
      const truth = await verifierLocalizer.localize(task, response);
      if (!truth) return null;
      const loc = await judged(task, response);
      onCheck?.({ judge: loc ? loc.step : null, verifier: truth.step });
      return loc ?? truth;
    },
  };
}

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
