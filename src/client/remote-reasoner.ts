// A VLM on an OpenAI-compatible endpoint behind the reasoner port (src/reasoner/reasoner.ts):
// the text-level twin of the local compact model, with the same prompts, the same response
// format and the same re-grounding idea (DESIGN §7.3: for a remote VLM, the image attached
// again with the verified facts so far).
//
// A re-grounded continuation sends
//   user:      [image, prompt]
//   assistant: "<think>\n" + verified steps, one per line     (the response so far)
//   user:      [image again, "Look at the image again. Steps 1..K are verified: ... Continue
//               with step K+1 ..."]
// A plain one ends at the assistant message and asks the server to continue it (vLLM's
// continue_final_message). Either way the reply is read as the rest of the response, or as a
// whole new response when it starts with <think>.
import * as fs from 'node:fs';
import type { BatchOptions, ContinueRequest, Reasoner, Reply, SampleRequest, SamplingParams } from '../reasoner/reasoner.js';
import { pickImage, taskPrompt, type PromptFormat, type ReasonTask } from '../reasoner/task.js';
import { responsePrefix } from '../tasks/index.js';
import type { ChatBody, ChatMessageIn, ModelInfo, OpenAIClient } from './client.js';

export interface RemoteReasonerOptions extends SamplingParams {
  model: string;
  promptFormat: PromptFormat;
  /** Send the task image of this width when there is one (else the largest). */
  imageSize?: number;
}

/** What an endpoint says about its model: our server advertises its input format under "ivr". */
export interface EndpointModel { promptFormat?: PromptFormat; imageSize?: number; found: boolean; available: string[] }

export function describeModel(models: ModelInfo[], model: string): EndpointModel {
  const card = models.find((m) => m.id === model);
  const available = models.map((m) => m.id);
  if (!card) return { found: false, available };
  const ivr = card.ivr as { prompt_format?: unknown; image_size?: unknown } | undefined;
  return {
    found: true, available,
    ...(ivr?.prompt_format === 'question' ? { promptFormat: 'question' as const } : {}),
    ...(typeof ivr?.image_size === 'number' ? { imageSize: ivr.image_size } : {}),
  };
}

/** The re-grounding message: the verified facts restated, and what to write next. */
export function regroundText(steps: readonly string[]): string {
  if (steps.length === 0) {
    return 'Look at the image again and reason from the start: write the steps, one per line, each checked against the image, then </think><answer>ANSWER</answer>.';
  }
  return [
    `Look at the image again. Steps 1-${steps.length} above are verified against the image:`,
    ...steps.map((s, i) => `${i + 1}. ${s}`),
    `Continue with step ${steps.length + 1}: write only the remaining steps, one per line, each checked against the image, then </think><answer>ANSWER</answer>.`,
  ].join('\n');
}

/** The reply to a continuation request as a whole response. */
export function joinContinuation(steps: readonly string[], reply: string): string {
  if (reply.trimStart().startsWith('<think>')) return reply;
  return responsePrefix(steps) + reply;
}

export class RemoteReasoner implements Reasoner {
  private readonly dataUrls = new Map<string, string>();

  constructor(private readonly client: OpenAIClient, readonly opts: RemoteReasonerOptions) {}

  get name(): string { return this.opts.model; }
  get promptFormat(): PromptFormat { return this.opts.promptFormat; }

  imageFor(task: ReasonTask): string { return pickImage(task, this.opts.imageSize).path; }

  private imageUrl(task: ReasonTask): string {
    const file = this.imageFor(task);
    let url = this.dataUrls.get(file);
    if (!url) {
      url = 'data:image/png;base64,' + fs.readFileSync(file).toString('base64');
      if (this.dataUrls.size > 256) this.dataUrls.clear();
      this.dataUrls.set(file, url);
    }
    return url;
  }

  /** The first user turn: the image and the prompt. */
  userTurn(task: ReasonTask): ChatMessageIn {
    return { role: 'user', content: [{ type: 'image_url', image_url: { url: this.imageUrl(task) } }, { type: 'text', text: taskPrompt(task, this.opts.promptFormat) }] };
  }

  private body(messages: ChatMessageIn[], n: number, seed: number, maxTokens: number, extra: Partial<ChatBody> = {}): ChatBody {
    return {
      model: this.opts.model, messages, n, seed,
      temperature: this.opts.temperature, top_p: this.opts.topP, max_tokens: maxTokens,
      ...extra,
    };
  }

  /**
   * Asks for n choices; servers that ignore n (some do) are asked again until there are n.
   * A reply's tokens are the request's completion tokens shared evenly over its choices
   * (servers report usage per request, not per choice).
   */
  private async choices(build: (n: number, seed: number) => ChatBody, n: number, seed: number): Promise<Reply[]> {
    const out: Reply[] = [];
    for (let tries = 0; out.length < n && tries < n + 2; tries++) {
      const res = await this.client.chat(build(n - out.length, seed + out.length));
      const got = Math.min(res.choices.length, n - out.length);
      const each = got ? Math.round((res.usage?.completion_tokens ?? 0) / got) : 0;
      for (const c of res.choices.slice(0, got)) out.push({ text: c.message.content ?? '', tokens: each });
    }
    if (out.length < n) throw new Error(`${this.opts.model}: asked for ${n} choices, the endpoint returned ${out.length}`);
    return out;
  }

  /** One request per task (n choices); requests without a seed use the batch seed + their index. */
  sample(reqs: SampleRequest[], opts: BatchOptions): Promise<Reply[][]> {
    const maxTokens = opts.maxTokens ?? this.opts.maxTokens;
    return Promise.all(reqs.map((r, i) => this.choices((k, s) => this.body([this.userTurn(r.task)], k, s, maxTokens), r.n, r.seed ?? opts.seed + i)));
  }

  continueFrom(reqs: ContinueRequest[], opts: BatchOptions): Promise<(Reply | null)[]> {
    const maxTokens = opts.maxTokens ?? this.opts.maxTokens;
    return Promise.all(reqs.map(async (r, i) => {
      const prefix: ChatMessageIn = { role: 'assistant', content: responsePrefix(r.steps) };
      const build = (k: number, s: number) => r.reground
        ? this.body([this.userTurn(r.task), prefix, { role: 'user', content: [{ type: 'image_url', image_url: { url: this.imageUrl(r.task) } }, { type: 'text', text: regroundText(r.steps) }] }], k, s, maxTokens)
        : this.body([this.userTurn(r.task), prefix], k, s, maxTokens, { continue_final_message: true, add_generation_prompt: false });
      const [reply] = await this.choices(build, 1, r.seed ?? opts.seed + i);
      return { text: joinContinuation(r.steps, reply!.text), tokens: reply!.tokens };
    }));
  }
}
