// The plain-text reasoning format shared by all families.
//
//   prompt   = question + "\n"                       e.g. "moves RRDL\n"
//   response = "<think>\n" + step_1 + "\n" + … + step_h + "\n</think><answer>" + A + "</answer>"
//
// Example (grid, horizon 4):
//   <think>
//   R 23 o 23
//   R 24 w 23
//   D 33 o 33
//   L 32 o 32
//   </think><answer>32</answer>
//
// Parsing rules (parseResponse never throws):
// - Leading whitespace is ignored; the response must then start with "<think>", otherwise
//   there are no steps and a format error at step 0.
// - Every non-blank line between "<think>" and "</think>" is one step (trimmed). Text on the
//   "<think>" line after the tag, and text before "</think>" on its line, are steps too.
// - After "</think>": optional whitespace, "<answer>A</answer>", optional whitespace. The
//   answer is the trimmed A; an empty A counts as missing.
// - A missing "</think>", a missing/empty answer or trailing text is a format error at index
//   `steps.length` (the slot after the last written step). The answer is still extracted
//   when an "<answer>…</answer>" pair follows the think block.
// - Whether each step is readable in the family's step grammar is decided by the verifier.

/** Result of parsing a response; family-agnostic. */
export interface ParsedResponse {
  /** Trimmed non-blank lines of the think block, in order. */
  steps: string[];
  /** Trimmed answer text, or null when missing/empty. */
  answer: string | null;
  /** The first structural problem: `step` is the index of the step it affects (steps.length = after the last step). */
  formatError: { step: number; reason: string } | null;
  /** Whether "</think>" was found. */
  thinkClosed: boolean;
}

export const THINK_OPEN = '<think>';
export const THINK_CLOSE = '</think>';
export const ANSWER_OPEN = '<answer>';
export const ANSWER_CLOSE = '</answer>';

/** Parse a response in the shared format. Never throws, whatever the input. */
export function parseResponse(text: string): ParsedResponse {
  if (typeof text !== 'string') return { steps: [], answer: null, formatError: { step: 0, reason: 'response is not a string' }, thinkClosed: false };
  const body = text.replace(/^\s+/, '');
  if (!body.startsWith(THINK_OPEN)) {
    return { steps: [], answer: extractAnswerAnywhere(text), formatError: { step: 0, reason: 'response must start with <think>' }, thinkClosed: false };
  }
  const afterOpen = body.slice(THINK_OPEN.length);
  const closeAt = afterOpen.indexOf(THINK_CLOSE);
  const thinkBody = closeAt >= 0 ? afterOpen.slice(0, closeAt) : afterOpen;
  const steps = thinkBody.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (closeAt < 0) {
    return { steps, answer: null, formatError: { step: steps.length, reason: 'missing </think>' }, thinkClosed: false };
  }
  const tail = afterOpen.slice(closeAt + THINK_CLOSE.length);
  const m = /^\s*<answer>([\s\S]*?)<\/answer>([\s\S]*)$/.exec(tail);
  if (!m) {
    return { steps, answer: null, formatError: { step: steps.length, reason: 'missing <answer>…</answer> after </think>' }, thinkClosed: true };
  }
  const answer = m[1]!.trim();
  if (answer.length === 0) return { steps, answer: null, formatError: { step: steps.length, reason: 'empty <answer>' }, thinkClosed: true };
  if (m[2]!.trim().length > 0) return { steps, answer, formatError: { step: steps.length, reason: 'text after </answer>' }, thinkClosed: true };
  return { steps, answer, formatError: null, thinkClosed: true };
}

function extractAnswerAnywhere(text: string): string | null {
  const open = text.lastIndexOf(ANSWER_OPEN);
  if (open < 0) return null;
  const close = text.indexOf(ANSWER_CLOSE, open);
  if (close < 0) return null;
  const a = text.slice(open + ANSWER_OPEN.length, close).trim();
  return a.length > 0 ? a : null;
}

/** A complete response in the shared format. Steps must not contain newlines. */
export function formatResponse(steps: readonly string[], answer: string): string {
  return responsePrefix(steps) + THINK_CLOSE + ANSWER_OPEN + answer + ANSWER_CLOSE;
}

/**
 * The beginning of a response whose think block holds `steps` and is still open, ready for the
 * model to continue with the next step (used to resume from a verified prefix):
 * "<think>\n" + steps.map((s) => s + "\n").join("").
 */
export function responsePrefix(steps: readonly string[]): string {
  for (const s of steps) if (/[\r\n]/.test(s)) throw new Error(`a step must be one line: ${JSON.stringify(s)}`);
  return THINK_OPEN + '\n' + steps.map((s) => s + '\n').join('');
}
