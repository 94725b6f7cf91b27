// Localizers for remote rollouts (DESIGN §7.2): the first eroded step of a response, its
// kind, and the verified prefix before it. The scene-prior verifier is the one IVR-R1 uses
// locally (src/ivr/localize.ts); the judge localizer asks a judge model where the task has
// no scene. Both also say whether a response is acceptable as a demonstration.
import { verifierLocalizer, type Localization } from '../ivr/localize.js';
import { parseResponse, verifyResponse } from '../tasks/index.js';
import type { RemoteJudge } from './judge.js';
import { normalizeTaskAnswer, type RemoteTask } from './task.js';

export type { Localization };

export interface RemoteLocalizer {
  readonly name: 'verifier' | 'judge';
  /** null = nothing eroded: the response is fully grounded and correct. */
  localize(task: RemoteTask, response: string): Promise<Localization | null>;
}

/** Reward as in tasks/verify.ts: accuracy + 0.1 * format (answer-only for scene-less tasks). */
export function taskReward(task: RemoteTask, response: string): { reward: number; accuracy: number; format: number; complete: boolean } {
  if (task.inst) {
    const v = verifyResponse(task.inst, response);
    const accuracy = v.answerCorrect ? 1 : 0;
    const format = v.formatValid ? 1 : 0;
    return { reward: accuracy + 0.1 * format, accuracy, format, complete: v.complete };
  }
  const p = parseResponse(response);
  const ans = p.answer === null ? null : normalizeTaskAnswer(task, p.answer);
  const accuracy = ans !== null && ans === normalizeTaskAnswer(task, task.answer) ? 1 : 0;
  const format = p.formatError === null && ans !== null ? 1 : 0;
  return { reward: accuracy + 0.1 * format, accuracy, format, complete: accuracy === 1 && format === 1 };
}

export const sceneLocalizer: RemoteLocalizer = {
  name: 'verifier',
  async localize(task, response) {
    if (!task.inst) throw new Error(`task ${task.id} has no scene prior: use the judge localizer`);
    return verifierLocalizer.localize(task.inst, response);
  },
};

/**
 * The judge's first error, combined with what the parser knows for sure: a structural
 * format error before the judged step wins; when the judge finds nothing but the answer is
 * wrong, the error is at the answer slot (after the last step).
 */
export function judgeLocalizer(judge: RemoteJudge): RemoteLocalizer {
  return {
    name: 'judge',
    async localize(task, response) {
      const p = parseResponse(response);
      const verdict = await judge.firstError(task, p.steps, p.answer);
      let loc: Localization | null = verdict.first_error_step === null ? null : { step: verdict.first_error_step - 1, kind: verdict.kind ?? 'logical', verifiedPrefix: [] };
      if (p.formatError && (!loc || p.formatError.step < loc.step)) loc = { step: p.formatError.step, kind: 'format', verifiedPrefix: [] };
      if (!loc && taskReward(task, response).accuracy === 0) loc = { step: p.steps.length, kind: 'logical', verifiedPrefix: [] };
      if (!loc) return null;
      loc.step = Math.min(loc.step, p.steps.length);
      loc.verifiedPrefix = p.steps.slice(0, loc.step);
      return loc;
    },
  };
}
