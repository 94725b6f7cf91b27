// OpenRLHF's remote-reward protocol (`--reward.remote_url http://host:port/get_reward`,
// formerly `--remote_rm_url`; openrlhf/utils/agent.py `_fetch_rewards_via_http`):
//
//   request  {"query": [prompt + response, decoded with special tokens], "prompts": [...], "labels": [...]}
//   reply    {"rewards": [...], "scores": [... in 0..1, used by dynamic filtering], "extra_logs": {name: [...]}}
//
// The label (the dataset column named by --label_key) names the task: an embedded-instance id
// ("grid-7-4"), or an external record as an object or a JSON string of one (task-spec.ts).
// The response is the query after its prompt, with end-of-turn tokens stripped. extra_logs
// values are numbers per sample (OpenRLHF turns them into tensors and logs their means), so
// the error kind is one-hot: error_visual / error_logical / error_format, and first_error_step
// is 1-based with 0 meaning no error.
import { badParam } from '../serve/errors.js';
import type { VerifyReport } from './environment.js';
import { parseTaskSpec, type TaskRef } from './task-spec.js';

export interface RewardSample { ref: TaskRef; response: string }

/** Where an assistant turn begins in common chat templates (Qwen/ChatML, Llama 3, Gemma, Mistral). */
const ASSISTANT_MARKERS = ['<|im_start|>assistant\n', '<|start_header_id|>assistant<|end_header_id|>\n\n', '<start_of_turn>model\n', '[/INST]', '<|assistant|>\n'];
/** End-of-turn and padding tokens a decoded query may end with. */
const END_TOKENS = ['<|im_end|>', '<|endoftext|>', '<|eot_id|>', '<|end_of_text|>', '<|end|>', '<end_of_turn>', '<eos>', '</s>', '<|finetune_right_pad_id|>', '<pad>', '<|pad|>'];

/** `s` without its trailing whitespace and end tokens. Scans from the end: a regex
 *  `(?:\s|tokens)+$` backtracks from every start in a long run of whitespace that is not at the
 *  end, quadratic in the query (1 s at 40,000 spaces, minutes at a megabyte). */
function stripTrailing(s: string): string {
  let end = s.length;
  outer: while (end > 0) {
    if (/\s/.test(s[end - 1]!)) { end--; continue; }
    for (const t of END_TOKENS) if (s.endsWith(t, end)) { end -= t.length; continue outer; }
    break;
  }
  return s.slice(0, end);
}

/** The last index of `needle` in `hay`, or -1. V8's String.prototype.lastIndexOf compares
 *  naively, in time (hay - needle) x needle when the two nearly match everywhere (a query and a
 *  prompt that are long runs of one character: 0.2 s at 54 KB, seconds at 200 KB); a long
 *  needle is searched with Knuth-Morris-Pratt instead, linear in both. */
function lastIndexOfLinear(hay: string, needle: string): number {
  const m = needle.length;
  if (m <= 64 || m > hay.length) return hay.lastIndexOf(needle);
  // fail[i]: length of the longest proper border of needle[0..i].
  const fail = new Int32Array(m);
  for (let i = 1, k = 0; i < m; i++) {
    while (k > 0 && needle.charCodeAt(i) !== needle.charCodeAt(k)) k = fail[k - 1]!;
    if (needle.charCodeAt(i) === needle.charCodeAt(k)) k++;
    fail[i] = k;
  }
  let last = -1;
  for (let i = 0, k = 0; i < hay.length; i++) {
    while (k > 0 && hay.charCodeAt(i) !== needle.charCodeAt(k)) k = fail[k - 1]!;
    if (hay.charCodeAt(i) === needle.charCodeAt(k)) k++;
    if (k === m) { last = i - m + 1; k = fail[k - 1]!; }
  }
  return last;
}

/** The response inside a decoded query: after the prompt (or the last assistant marker), end tokens stripped. */
export function responseOf(query: string, prompt: string | undefined): string {
  let rest: string | null = null;
  if (prompt) {
    if (query.startsWith(prompt)) rest = query.slice(prompt.length);
    else {
      const at = lastIndexOfLinear(query, prompt);
      if (at >= 0) rest = query.slice(at + prompt.length);
    }
  }
  if (rest === null) {
    let best = -1;
    let len = 0;
    for (const m of ASSISTANT_MARKERS) {
      const at = query.lastIndexOf(m);
      if (at > best) { best = at; len = m.length; }
    }
    rest = best >= 0 ? query.slice(best + len) : query;
  }
  rest = stripTrailing(rest);
  // A template that opens the think block in the prompt (e.g. Qwen3's "<think>\n"): put it back.
  if (!rest.includes('<think>') && prompt && /<think>\s*$/.test(prompt)) rest = '<think>\n' + rest.replace(/^\n/, '');
  return rest.trimStart();
}

/** A label: an id, an external record, or a JSON string of one. */
function labelSpec(label: unknown): unknown {
  if (typeof label === 'string' && label.trimStart().startsWith('{')) {
    try { return JSON.parse(label); } catch { return label; }
  }
  return label;
}

/** Validates a /get_reward body; every problem is a 400 naming the field. */
export function parseRewardRequest(body: unknown, maxSamples: number): RewardSample[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badParam('(body)', 'expected a JSON object {"query": [...], "prompts": [...], "labels": [...]}');
  const r = body as Record<string, unknown>;
  const extra = Object.keys(r).filter((k) => !['query', 'prompts', 'labels'].includes(k));
  if (extra.length) throw badParam(extra[0]!, 'unknown field (OpenRLHF sends query, prompts and labels)', 'unknown_parameter');
  if (!Array.isArray(r.query)) throw badParam('query', r.query === undefined ? 'is required' : 'expected an array of strings', r.query === undefined ? 'missing_required_parameter' : 'invalid_type');
  const n = r.query.length;
  if (n > maxSamples) throw badParam('query', `has ${n} samples; at most ${maxSamples} per request (split the batch, or start the service with a larger --max-samples)`);
  if (!Array.isArray(r.labels)) throw badParam('labels', r.labels === undefined ? 'is required: each label names the task (an instance id like "grid-7-4" or an external record); set OpenRLHF\'s --label_key to the column holding it' : 'expected an array', r.labels === undefined ? 'missing_required_parameter' : 'invalid_type');
  if (r.labels.length !== n) throw badParam('labels', `has ${r.labels.length} entries but query has ${n}`);
  if (r.prompts !== undefined && r.prompts !== null && (!Array.isArray(r.prompts) || r.prompts.length !== n)) throw badParam('prompts', `expected an array of ${n} strings (one per query)`);
  const prompts = (r.prompts ?? []) as unknown[];
  return r.query.map((q, i) => {
    if (typeof q !== 'string') throw badParam(`query[${i}]`, `expected a string, got ${q === null ? 'null' : typeof q}`, 'invalid_type');
    const p = prompts[i];
    if (p !== undefined && p !== null && typeof p !== 'string') throw badParam(`prompts[${i}]`, `expected a string, got ${typeof p}`, 'invalid_type');
    return { ref: parseTaskSpec(labelSpec((r.labels as unknown[])[i]), `labels[${i}]`), response: responseOf(q, p ?? undefined) };
  });
}

/** The reply body for OpenRLHF from the per-sample verifications. */
export function rewardReply(reports: readonly VerifyReport[]): { rewards: number[]; scores: number[]; extra_logs: Record<string, number[]> } {
  const rewards = reports.map((v) => v.reward);
  const kind = (k: string) => reports.map((v) => (v.first_error?.kind === k ? 1 : 0));
  return {
    rewards,
    scores: rewards.slice(),
    extra_logs: {
      first_error_step: reports.map((v) => v.first_error?.step ?? 0),
      error_visual: kind('visual'),
      error_logical: kind('logical'),
      error_format: kind('format'),
      verified_steps: reports.map((v) => v.verified_prefix.length),
      answer_correct: reports.map((v) => (v.answer_correct ? 1 : 0)),
      format_valid: reports.map((v) => (v.format_valid ? 1 : 0)),
    },
  };
}
