// A completion streamed as server-sent events of chat.completion.chunk objects: each
// choice's role when its batch starts, content deltas as the text settles (no longer able to
// become a stop string), one finish chunk per choice, the usage when asked for, then
// `data: [DONE]`. Writes stop once the client has gone.
import type * as http from 'node:http';
import type { Generation } from '../model/policy.js';
import type { Choice, Completion } from './completion.js';

/** One SSE event carrying a JSON object. */
export function sseData(obj: unknown): string {
  return `data: ${JSON.stringify(obj)}\n\n`;
}

export class CompletionStream {
  /** Per choice: characters and tokens already sent. */
  private readonly sent: { chars: number; tokens: number }[];

  constructor(
    private readonly res: http.ServerResponse,
    private readonly completion: Completion,
    private readonly gone: () => boolean,
  ) {
    this.sent = completion.choices.map(() => ({ chars: 0, tokens: 0 }));
  }

  /** The status line (with extra headers) and the first chunk: every choice's role. */
  start(headers: http.OutgoingHttpHeaders): void {
    this.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
    this.chunk(this.completion.choices.map((c) => ({ index: c.index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null })));
  }

  /** Sends the part of a choice's text that can no longer turn into a stop string (all of it when final). */
  flush(c: Choice, final: boolean): void {
    const sent = this.sent[c.index]!;
    const safe = c.contentEnd ?? (final ? c.text.length : Math.max(sent.chars, this.completion.stops.settled(c.text.length)));
    let nTok = sent.tokens;
    while (nTok < c.tokens.length && c.tokens[nTok]!.end <= safe) nTok++;
    if (safe > sent.chars) {
      this.chunk([{ index: c.index, delta: { content: c.text.slice(sent.chars, safe) }, logprobs: this.completion.logprobs(c.tokens.slice(sent.tokens, nTok)), finish_reason: null }]);
      sent.chars = safe;
      sent.tokens = nTok;
    }
  }

  /** The rest of each choice and its finish reason, the usage when asked for, and [DONE]. */
  end(gens: readonly Generation[]): void {
    const { completion } = this;
    completion.choices.forEach((c, i) => {
      this.flush(c, true);
      this.chunk([{ index: c.index, delta: {}, logprobs: null, finish_reason: completion.finishReason(c, gens[i]!) }]);
    });
    if (completion.request.includeUsage) this.send({ ...completion.head, object: 'chat.completion.chunk', choices: [], usage: completion.usage(gens) });
    this.res.end('data: [DONE]\n\n');
  }

  private chunk(choices: unknown[]): void {
    this.send({ ...this.completion.head, object: 'chat.completion.chunk', choices, ...(this.completion.request.includeUsage ? { usage: null } : {}) });
  }

  private send(obj: unknown): void {
    if (!this.gone() && !this.res.writableEnded) this.res.write(sseData(obj));
  }
}
