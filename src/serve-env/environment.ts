// IVR-R1 as an environment, apart from HTTP: step verification against the prior (or the
// judge), the first eroded step and its kind, the verified prefix and the feedback turn a
// multi-turn engine shows the policy, and rectification through the one Re-Reasoning Loop
// (ivr/rereason.ts) on the policy's own OpenAI-compatible server. The reward is the verified
// reward: 1 when the answer is right and every step holds (`ivr tasks verify` exits 0), else 0.
import { joinContinuation, regroundText } from '../client/remote-reasoner.js';
import { judgeLocalizer, verifierLocalizer, type Localization, type Localizer, type StepJudge } from '../ivr/localize.js';
import { rectifierFor, RECTIFIERS, type RectifierName } from '../ivr/rectifiers.js';
import { rereason, type Piece } from '../ivr/rereason.js';
import type { Reasoner } from '../reasoner/reasoner.js';
import { taskOutcome, type ReasonTask, type TaskImage } from '../reasoner/task.js';
import { encodePng, parseResponse, renderLarge, renderSmall, verifyResponse } from '../tasks/index.js';
import { decodeJpeg } from '../tasks/render/jpeg.js';
import type { ImageStore } from './images.js';
import { reasonTask, type TaskRef } from './task-spec.js';

export type Verdict = 'ok' | 'visual' | 'logical' | 'format' | 'unchecked';

export interface StepReport { step: number; text: string; verdict: Verdict; reason: string | null }

export interface VerifyReport {
  task_id: string;
  /** verifier: the scene prior checked every step; judge: a VLM found the first wrong step. */
  localizer: 'verifier' | 'judge';
  /** The verified reward: 1 when complete, else 0. */
  reward: number;
  complete: boolean;
  answer: string | null;
  answer_correct: boolean;
  format_valid: boolean;
  /** Per step (1-based). With the judge, steps after the first wrong one are "unchecked". */
  steps: StepReport[];
  /** 1-based; steps.length + 1 is the slot after the last step (answer wrong or missing, step missing). */
  first_error: { step: number; kind: 'visual' | 'logical' | 'format'; reason: string | null } | null;
  verified_prefix: string[];
  /** The environment's next turn for a multi-turn policy: the verified steps and "re-examine the image at step k"; null when complete. */
  feedback: string | null;
  /** The response that was verified (the prefix joined with the continuation, when a prefix was sent). */
  response: string;
}

export interface RectifyReport {
  task_id: string;
  localizer: 'verifier' | 'judge';
  /** verified: nothing to rectify; rectified: the loop produced a verified trajectory; failed: the rounds ran out. */
  status: 'verified' | 'rectified' | 'failed';
  first_error: VerifyReport['first_error'];
  verified_prefix: string[];
  rounds: number;
  /** The rectified response (the original one when status is verified), or null. */
  text: string | null;
  /** Its spans in order; rewritten spans came from the prior, not the policy. */
  pieces: Piece[] | null;
  rewritten_steps: number;
  loop_tokens: number;
  policy: string;
}

export interface RectifyParams { rounds: number; rectifier: RectifierName; oracleFallback: boolean; seed: number }

export interface EnvironmentOptions {
  images: ImageStore;
  /** The policy behind the Re-Reasoning Loop (any OpenAI-compatible server); none = no /v1/rectify. */
  reasoner?: Reasoner;
  /** The judge localizer's model, for tasks without a prior. */
  judge?: StepJudge;
}

const KIND_WORDS = { visual: 'states something the image does not show', logical: 'does not follow from the question and the steps before it', format: 'cannot be read' } as const;

/** The feedback turn after a flawed response: what holds, where it broke, and what to do. */
export function feedbackText(loc: { step: number; kind: 'visual' | 'logical' | 'format'; reason: string | null }, prefix: readonly string[], nSteps: number): string {
  const why = loc.reason ? ` (${loc.reason})` : '';
  const problem = loc.step <= nSteps
    ? `Step ${loc.step} ${KIND_WORDS[loc.kind]}${why}. Re-examine the image at step ${loc.step}.`
    : `The steps hold, but the response goes wrong after them${why}. Re-examine the image before concluding.`;
  return `${problem}\n${regroundText(prefix)}`;
}

export class Environment {
  readonly counters = { verified: 0, rectified: 0, rectifyFailed: 0, judged: 0, loopTokens: 0 };

  constructor(readonly opts: EnvironmentOptions) {}

  get hasJudge(): boolean { return this.opts.judge !== undefined; }
  get hasPolicy(): boolean { return this.opts.reasoner !== undefined; }
  get policyName(): string | null { return this.opts.reasoner?.name ?? null; }

  /** The localizer for a task: the scene verifier where there is a prior, else the judge. */
  private localizer(task: ReasonTask): Localizer {
    if (task.inst) return verifierLocalizer;
    if (!this.opts.judge) throw new Error(`task ${task.id} has no prior and this service has no judge`);
    this.counters.judged++;
    return judgeLocalizer(this.opts.judge);
  }

  /** Runs `fn` with the task's image files written (and held until it ends). */
  private async withImages<T>(ref: TaskRef, fn: (task: ReasonTask) => Promise<T>): Promise<T> {
    const task = reasonTask(ref);
    const store = this.opts.images;
    const held: string[] = [];
    const hold = (key: string, bytes: () => Uint8Array, width: number, height: number): TaskImage => {
      const path = store.acquire(key, bytes);
      held.push(key);
      return { path, width, height };
    };
    try {
      if (ref.kind === 'instance') {
        const small = renderSmall(ref.inst);
        const large = renderLarge(ref.inst);
        task.images = [hold(`${ref.inst.id}.small`, () => encodePng(small), small.width, small.height), hold(`${ref.inst.id}.large`, () => encodePng(large), large.width, large.height)];
      } else {
        const img = ref.image;
        task.images = [hold(`ext-${img.key}`, () => (img.media === 'png' ? img.bytes : encodePng(decodeJpeg(img.bytes))), img.width, img.height)];
      }
      return await fn(task);
    } finally {
      for (const k of held) store.release(k);
    }
  }

  /** Whether this request needs image files (a judge reads the image; the scene verifier does not). */
  private needsImages(ref: TaskRef): boolean { return reasonTask(ref).inst === null; }

  /** Verifies a response (joined to `prefix` when given: a continuation of those verified steps). */
  async verify(ref: TaskRef, response: string, prefix?: readonly string[]): Promise<VerifyReport> {
    const text = prefix && prefix.length ? joinContinuation(prefix, response) : response;
    this.counters.verified++;
    if (!this.needsImages(ref)) return this.verifyWithPrior(reasonTask(ref), text);
    return this.withImages(ref, async (task) => this.verifyWithJudge(task, text));
  }

  private verifyWithPrior(task: ReasonTask, text: string): VerifyReport {
    const v = verifyResponse(task.inst!, text);
    const steps: StepReport[] = v.steps.map((s) => ({ step: s.index + 1, text: s.text, verdict: s.kind, reason: s.reason ?? null }));
    const first = v.firstError === null ? null : { step: v.firstError + 1, kind: (v.firstErrorKind ?? 'format') as 'visual' | 'logical' | 'format', reason: v.firstErrorReason };
    return {
      task_id: task.id, localizer: 'verifier', reward: v.complete ? 1 : 0, complete: v.complete,
      answer: v.answer, answer_correct: v.answerCorrect, format_valid: v.formatValid, steps, first_error: first,
      verified_prefix: v.verifiedPrefix, feedback: first ? feedbackText(first, v.verifiedPrefix, steps.length) : null, response: text,
    };
  }

  private async verifyWithJudge(task: ReasonTask, text: string): Promise<VerifyReport> {
    const loc = await this.localizer(task).localize(task, text);
    const p = parseResponse(text);
    const outcome = taskOutcome(task, text);
    const first = loc ? { step: loc.step + 1, kind: loc.kind === 'ok' ? 'logical' as const : loc.kind, reason: null } : null;
    const steps: StepReport[] = p.steps.map((s, i) => ({
      step: i + 1, text: s, reason: null,
      verdict: !loc || i < loc.step ? 'ok' : i === loc.step ? first!.kind : 'unchecked',
    }));
    const prefix = loc ? loc.verifiedPrefix : p.steps;
    return {
      task_id: task.id, localizer: 'judge', reward: loc ? 0 : 1, complete: !loc,
      answer: p.answer, answer_correct: outcome.accuracy === 1, format_valid: outcome.format === 1, steps, first_error: first,
      verified_prefix: prefix, feedback: first ? feedbackText(first, prefix, steps.length) : null, response: text,
    };
  }

  /** The Re-Reasoning Loop from a flawed response, through the policy endpoint. */
  async rectify(ref: TaskRef, response: string, params: RectifyParams): Promise<RectifyReport> {
    const reasoner = this.opts.reasoner;
    if (!reasoner) throw new Error('no policy endpoint');
    return this.withImages(ref, async (task) => {
      const localizer = this.localizer(task);
      const name = task.inst ? 'verifier' as const : 'judge' as const;
      const loc: Localization | null = await localizer.localize(task, response);
      const base = { task_id: task.id, localizer: name, policy: reasoner.name };
      if (!loc) {
        return { ...base, status: 'verified', first_error: null, verified_prefix: parseResponse(response).steps, rounds: 0, text: response, pieces: [{ text: response, rewritten: false }], rewritten_steps: 0, loop_tokens: 0 };
      }
      const first = { step: loc.step + 1, kind: loc.kind === 'ok' ? 'logical' as const : loc.kind, reason: task.inst ? verifyResponse(task.inst, response).firstErrorReason : null };
      const { outcomes, loopTokens } = await rereason(reasoner, [{ task, loc, seed: params.seed }], {
        rounds: params.rounds, rectifier: rectifierFor(params.rectifier), oracleFallback: params.oracleFallback && task.inst !== null, check: localizer,
      }, params.seed);
      const out = outcomes[0]!;
      this.counters.loopTokens += loopTokens;
      if (out.pieces) this.counters.rectified++; else this.counters.rectifyFailed++;
      return {
        ...base, status: out.pieces ? 'rectified' : 'failed', first_error: first, verified_prefix: loc.verifiedPrefix, rounds: out.rounds,
        text: out.pieces ? out.pieces.map((p) => p.text).join('') : null, pieces: out.pieces,
        rewritten_steps: out.pieces ? out.pieces.filter((p) => p.rewritten).length : 0, loop_tokens: loopTokens,
      };
    });
  }
}

export const RECTIFIER_NAMES = Object.keys(RECTIFIERS) as RectifierName[];
