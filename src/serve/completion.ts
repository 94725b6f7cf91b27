// One chat completion, apart from HTTP: a parsed request and its model input become one
// decode row per choice (each with its own seed); decoded tokens build each choice's text
// (special tokens skipped, cut at the first stop string); the finished generations become
// an OpenAI chat.completion body. Streaming the same choices is sse.ts.
import { randomBytes, randomInt } from 'node:crypto';
import type { Generation } from '../model/policy.js';
import type { Tokenizer } from '../model/tokenizer.js';
import type { ModelInput } from './chat-template.js';
import { logprobsField, type LogprobsField, type TokenLogprob } from './logprobs.js';
import type { ChatRequest } from './request.js';
import type { RowSpec } from './scheduler.js';
import { StopStrings } from './stop.js';

/** What every chat.completion and chat.completion.chunk object starts with. */
export interface CompletionHead {
  id: string;
  created: number;
  model: string;
  system_fingerprint: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** A kept token: its logprob entry and the end offset of its text in the choice's text. */
export interface ChoiceToken extends TokenLogprob {
  end: number;
}

/** One choice as it is decoded. */
export class Choice {
  text = '';
  readonly tokens: ChoiceToken[] = [];
  /** Length of the reply content (the text before a matched stop string); null while none matched. */
  contentEnd: number | null = null;
  stopped = false;

  constructor(readonly index: number) {}

  /** Appends a decoded token and looks for a stop string in what it completes. */
  add(t: TokenLogprob, piece: string, stops: StopStrings): void {
    this.text += piece;
    this.tokens.push({ ...t, end: this.text.length });
    const cut = stops.find(this.text, piece.length);
    if (cut >= 0) { this.contentEnd = cut; this.stopped = true; }
  }

  get content(): string {
    return this.text.slice(0, this.contentEnd ?? this.text.length);
  }

  /** The tokens that lie wholly inside the content. */
  get contentTokens(): ChoiceToken[] {
    const end = this.contentEnd ?? this.text.length;
    return this.tokens.filter((t) => t.end <= end);
  }
}

/** How a row reports back while decoding. */
export interface RowHooks {
  /** True once the client has gone: every row then stops. */
  gone(): boolean;
  /** A choice's text grew (streaming sends what is settled). */
  onText?(c: Choice): void;
}

export class Completion {
  readonly head: CompletionHead;
  readonly choices: Choice[];
  readonly stops: StopStrings;
  /** New tokens allowed: max_tokens, clamped to the room left in the context. */
  readonly maxNew: number;

  constructor(
    readonly request: ChatRequest,
    readonly input: ModelInput,
    private readonly tok: Tokenizer,
    served: { maxText: number; model: string; fingerprint: string },
  ) {
    const room = served.maxText - input.ids.length;
    this.maxNew = Math.min(request.maxTokens ?? room, room);
    this.stops = new StopStrings(request.stop);
    this.choices = Array.from({ length: request.n }, (_, index) => new Choice(index));
    this.head = { id: 'chatcmpl-' + randomBytes(12).toString('hex'), created: Math.floor(Date.now() / 1000), model: served.model, system_fingerprint: served.fingerprint };
  }

  /** One decode row per choice. */
  rows(hooks: RowHooks): RowSpec[] {
    const { request: cr, input, tok } = this;
    return this.choices.map((c) => ({
      patches: input.patches, ids: input.ids, reground: input.reground, maxNew: this.maxNew,
      temperature: cr.temperature, topP: cr.topP,
      // Every row gets its own seed, so its text never depends on which requests shared the batch.
      seed: cr.seed !== undefined ? cr.seed + c.index : randomInt(0, 2 ** 31),
      topLogprobs: cr.logprobs ? cr.topLogprobs : 0,
      onToken: (token, logp, top) => {
        if (hooks.gone()) return 'stop';
        if (token === tok.eos || token === tok.pad || token === tok.bos) return; // never text
        c.add({ id: token, logp, top }, tok.decode([token]), this.stops);
        hooks.onText?.(c);
        return c.stopped ? 'stop' : undefined;
      },
    }));
  }

  /** The logprobs field for a run of a choice's tokens. */
  logprobs(tokens: readonly TokenLogprob[]): LogprobsField {
    return logprobsField(this.tok, tokens, this.request.logprobs, this.request.topLogprobs);
  }

  finishReason(c: Choice, g: Generation): 'stop' | 'length' {
    return c.stopped || g.finished ? 'stop' : 'length';
  }

  usage(gens: readonly Generation[]): Usage {
    const completion = gens.reduce((a, g) => a + g.tokens.length, 0);
    return { prompt_tokens: this.input.promptTokens, completion_tokens: completion, total_tokens: this.input.promptTokens + completion };
  }

  /** The non-streamed reply. */
  body(gens: readonly Generation[]) {
    return {
      ...this.head,
      object: 'chat.completion',
      choices: this.choices.map((c, i) => ({
        index: c.index,
        message: { role: 'assistant', content: c.content, refusal: null },
        logprobs: this.logprobs(c.contentTokens),
        finish_reason: this.finishReason(c, gens[i]!),
      })),
      usage: this.usage(gens),
    };
  }
}
