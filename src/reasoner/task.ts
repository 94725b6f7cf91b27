// What a reasoner is asked about (the port's task, DESIGN §2): a question about an image
// with a gold answer and, for the embedded benchmark, the scene prior that lets the verifier
// check every step. The prompt a model reads and the outcome a response earns are defined
// here once, for every reasoner and every caller (ivr, synth, eval).
import {
  getFamily, instructionPrompt, parseResponse, promptText, verifyResponse,
  type FamilyId, type Instance,
} from '../tasks/index.js';

export interface TaskImage { path: string; width: number; height: number }

export interface ReasonTask {
  id: string;
  family: FamilyId | null;
  horizon: number | null;
  question: string;
  answer: string;
  /** The instance with its scene prior, when there is one. */
  inst: Instance | null;
  /** PNG files of the image at the sizes available (none for an in-memory instance). */
  images: TaskImage[];
}

export type PromptFormat = 'instruction' | 'question';

/** An instance as a task, without touching the disk (its image files, if it was loaded from some). */
export function instanceTask(inst: Instance): ReasonTask {
  return { id: inst.id, family: inst.family, horizon: inst.horizon, question: inst.question, answer: inst.answer, inst, images: [] };
}

/** The text of the user turn: the self-contained instruction (external VLMs) or the bare question (the compact model). */
export function taskPrompt(task: ReasonTask, format: PromptFormat): string {
  if (format === 'question') return task.inst ? promptText(task.inst) : task.question + '\n';
  if (task.inst) return instructionPrompt(task.inst);
  return [
    'Answer the question about the image. Reason step by step; every step states one fact you read from the image or one deduction.',
    'Respond exactly in this format, one step per line and nothing else:',
    '<think>', 'step 1', 'step 2', '...', '</think><answer>ANSWER</answer>', '',
    `Question: ${task.question}`,
  ].join('\n');
}

/** Canonical answer for comparison: the family's normaliser, else trimmed, lower-case, single spaces. */
export function normalizeTaskAnswer(task: ReasonTask, answer: string): string | null {
  if (task.family) return getFamily(task.family).normalizeAnswer(answer);
  const a = answer.trim().toLowerCase().replace(/\s+/g, ' ');
  return a.length ? a : null;
}

/** The image whose width is `size` when there is one, else the largest. */
export function pickImage(task: ReasonTask, size?: number): TaskImage {
  const exact = size !== undefined ? task.images.find((i) => i.width === size) : undefined;
  if (exact) return exact;
  const largest = [...task.images].sort((a, b) => b.width - a.width)[0];
  if (!largest) throw new Error(`task ${task.id} has no image file`);
  return largest;
}

/**
 * The reward components of a response (each 0 or 1; composed by rl/rewards.ts composeReward)
 * and whether it is complete (fully verified and correct). Scene tasks: the scene verifier.
 * Scene-less tasks: only the answer and the format can be checked here; their steps need a judge.
 */
export function taskOutcome(task: ReasonTask, response: string): { accuracy: number; format: number; complete: boolean } {
  if (task.inst) {
    const v = verifyResponse(task.inst, response);
    return { accuracy: v.answerCorrect ? 1 : 0, format: v.formatValid ? 1 : 0, complete: v.complete };
  }
  const p = parseResponse(response);
  const ans = p.answer === null ? null : normalizeTaskAnswer(task, p.answer);
  const accuracy = ans !== null && ans === normalizeTaskAnswer(task, task.answer) ? 1 : 0;
  const format = p.formatError === null && ans !== null ? 1 : 0;
  return { accuracy, format, complete: accuracy === 1 && format === 1 };
}
