// A judge model on an OpenAI-compatible endpoint: given the image, the question and the
// steps of a response, it names the first step inconsistent with the image (visual), with
// the question or earlier steps (logical), or unreadable (format) — the localizer for tasks
// without a scene prior (DESIGN §7.2 "the image shown to a judge model").
//
// Output contract (structured output, validated here):
//   {"first_error_step": <1-based step number, N+1 = the final answer, or null>,
//    "kind": "visual" | "logical" | "format" | null, "reason": "<short text>"}
// kind is null exactly when first_error_step is null. The request asks for this JSON schema
// (response_format json_schema); a server that refuses response_format is asked again
// without it. A reply that does not validate is retried with the validation error quoted;
// after maxAttempts the judge throws JudgeError with the reason and the last reply.
import * as fs from 'node:fs';
import { ApiError } from '../wire/errors.js';
import type { ChatMessageIn, OpenAIClient } from './client.js';
import { pickImage, type RemoteTask } from './task.js';

export type JudgeKind = 'visual' | 'logical' | 'format';

export interface JudgeVerdict {
  /** 1-based; steps.length + 1 means the final answer; null = no error found. */
  first_error_step: number | null;
  kind: JudgeKind | null;
  reason: string;
}

export interface RemoteJudgeOptions {
  model: string;
  /** Attempts per verdict (default 3). */
  maxAttempts?: number;
  temperature?: number;
  maxTokens?: number;
  /** Ask for the JSON schema via response_format (default true; dropped automatically if refused). */
  structured?: boolean;
  /** Send the task image of this width when there is one (default: the largest). */
  imageSize?: number;
}

export class JudgeError extends Error {
  constructor(message: string, readonly lastReply: string | null) {
    super(message);
    this.name = 'JudgeError';
  }
}

export const JUDGE_SCHEMA = {
  type: 'object',
  properties: {
    first_error_step: { type: ['integer', 'null'], minimum: 1 },
    kind: { type: ['string', 'null'], enum: ['visual', 'logical', 'format', null] },
    reason: { type: 'string' },
  },
  required: ['first_error_step', 'kind', 'reason'],
  additionalProperties: false,
} as const;

/** The judge's instructions for one response. */
export function judgePrompt(question: string, steps: readonly string[], answer: string | null): string {
  const n = steps.length;
  return [
    'You check a step-by-step solution against the image. Find the FIRST step that is wrong:',
    '- "visual": it states something about the image that the image does not show;',
    '- "logical": it does not follow from the question or the earlier steps (wrong arithmetic, wrong update, wrong order);',
    '- "format": it cannot be read.',
    `Steps are numbered 1 to ${n}; use ${n + 1} when every step is right but the final answer is wrong or missing.`,
    '',
    `Question: ${question}`,
    'Steps:',
    ...(n ? steps.map((s, i) => `${i + 1}. ${s}`) : ['(none)']),
    `Final answer: ${answer ?? '(none)'}`,
    '',
    'Reply with JSON only, exactly these keys:',
    '{"first_error_step": <step number or null if nothing is wrong>, "kind": "visual" | "logical" | "format" | null, "reason": "<one short sentence>"}',
  ].join('\n');
}

/** Validates a judge reply; returns the verdict or why it is invalid. */
export function parseJudgeReply(text: string, nSteps: number): { verdict: JudgeVerdict } | { error: string } {
  let body = text.trim();
  // A ```json fenced reply: its inside, trimmed. Not a regex: /^```(?:json)?\s*([\s\S]*?)\s*```$/
  // backtracks quadratically on a long run of whitespace (6 s for a 72 KB reply).
  if (body.length >= 6 && body.startsWith('```') && body.endsWith('```')) {
    const inner = body.slice(3, -3);
    body = (/^json/i.test(inner) ? inner.slice(4) : inner).trim();
  }
  if (!body.startsWith('{')) {
    const a = body.indexOf('{');
    const b = body.lastIndexOf('}');
    if (a < 0 || b < a) return { error: 'the reply contains no JSON object' };
    body = body.slice(a, b + 1);
  }
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (e) {
    return { error: `the reply is not valid JSON (${(e as Error).message})` };
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) return { error: 'the reply must be a JSON object' };
  const r = v as Record<string, unknown>;
  for (const k of ['first_error_step', 'kind', 'reason']) if (!(k in r)) return { error: `missing key "${k}"` };
  const extra = Object.keys(r).filter((k) => !['first_error_step', 'kind', 'reason'].includes(k));
  if (extra.length) return { error: `unexpected key(s) ${extra.map((k) => `"${k}"`).join(', ')}` };
  const step = r.first_error_step;
  if (step !== null && (typeof step !== 'number' || !Number.isInteger(step) || step < 1 || step > nSteps + 1)) {
    return { error: `"first_error_step" must be null or an integer from 1 to ${nSteps + 1}, got ${JSON.stringify(step)}` };
  }
  const kind = r.kind;
  if (kind !== null && kind !== 'visual' && kind !== 'logical' && kind !== 'format') return { error: `"kind" must be "visual", "logical", "format" or null, got ${JSON.stringify(kind)}` };
  if ((step === null) !== (kind === null)) return { error: '"kind" must be null exactly when "first_error_step" is null' };
  if (typeof r.reason !== 'string') return { error: `"reason" must be a string, got ${typeof r.reason}` };
  return { verdict: { first_error_step: step as number | null, kind: kind as JudgeKind | null, reason: r.reason } };
}

export class RemoteJudge {
  private structured: boolean;
  readonly counters = { verdicts: 0, attempts: 0, malformed: 0, failures: 0 };

  constructor(private readonly client: OpenAIClient, readonly opts: RemoteJudgeOptions) {
    this.structured = opts.structured ?? true;
  }

  /** The first wrong step of a response (see the header for the contract). */
  async firstError(task: RemoteTask, steps: readonly string[], answer: string | null): Promise<JudgeVerdict> {
    const image = 'data:image/png;base64,' + fs.readFileSync(pickImage(task, this.opts.imageSize).path).toString('base64');
    const messages: ChatMessageIn[] = [{ role: 'user', content: [{ type: 'image_url', image_url: { url: image } }, { type: 'text', text: judgePrompt(task.question, steps, answer) }] }];
    const attempts = this.opts.maxAttempts ?? 3;
    let last: string | null = null;
    let why = '';
    for (let a = 0; a < attempts; a++) {
      this.counters.attempts++;
      let reply: string;
      try {
        const res = await this.client.chat({
          model: this.opts.model, messages, n: 1,
          temperature: a === 0 ? this.opts.temperature ?? 0 : Math.max(0.3, this.opts.temperature ?? 0),
          max_tokens: this.opts.maxTokens ?? 400,
          ...(this.structured ? { response_format: { type: 'json_schema', json_schema: { name: 'first_error', strict: true, schema: JUDGE_SCHEMA } } } : {}),
        });
        reply = res.choices[0]?.message.content ?? '';
      } catch (e) {
        if (this.structured && e instanceof ApiError && e.status === 400 && (e.param === 'response_format' || /response_format/.test(e.message))) {
          this.structured = false; // this server has no structured output: rely on the prompt
          a--;
          continue;
        }
        this.counters.failures++;
        throw e;
      }
      last = reply;
      const parsed = parseJudgeReply(reply, steps.length);
      if ('verdict' in parsed) { this.counters.verdicts++; return parsed.verdict; }
      this.counters.malformed++;
      why = parsed.error;
      messages.push({ role: 'assistant', content: reply }, { role: 'user', content: `That reply is invalid: ${why}. Reply again with the JSON object only.` });
    }
    this.counters.failures++;
    throw new JudgeError(`judge ${this.opts.model}: no valid verdict after ${attempts} attempts (${why}); last reply: ${JSON.stringify((last ?? '').slice(0, 200))}`, last);
  }
}
