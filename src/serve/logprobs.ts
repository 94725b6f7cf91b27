// The `logprobs` field of a chat completion (OpenAI format): per generated token its text,
// log-probability, UTF-8 bytes and the k most likely alternatives at that step.
import type { Tokenizer } from '../model/tokenizer.js';

/** A generated token as the scheduler reports it: its id, log-probability and top alternatives. */
export interface TokenLogprob {
  id: number;
  logp: number;
  top: { token: number; logp: number }[];
}

export interface LogprobEntry {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

/** The `logprobs` field of a choice or chunk; null when the request did not ask for it. */
export type LogprobsField = { content: LogprobEntry[]; refusal: null } | null;

/** A token's text; the special tokens (never part of content) are shown by name. */
function tokenText(tok: Tokenizer, id: number): string {
  if (id === tok.eos) return '<eos>';
  if (id === tok.bos) return '<bos>';
  if (id === tok.pad) return '<pad>';
  return tok.decode([id]);
}

/** One token's entry with its `k` most likely alternatives. */
function logprobEntry(tok: Tokenizer, t: TokenLogprob, k: number): LogprobEntry {
  const token = tokenText(tok, t.id);
  return {
    token, logprob: t.logp, bytes: [...Buffer.from(token, 'utf8')],
    top_logprobs: t.top.slice(0, k).map((a) => { const s = tokenText(tok, a.token); return { token: s, logprob: a.logp, bytes: [...Buffer.from(s, 'utf8')] }; }),
  };
}

/** The field for a run of tokens, or null when logprobs were not requested. */
export function logprobsField(tok: Tokenizer, tokens: readonly TokenLogprob[], requested: boolean, k: number): LogprobsField {
  return requested ? { content: tokens.map((t) => logprobEntry(tok, t, k)), refusal: null } : null;
}
