// A policy on an OpenAI-compatible endpoint: samples responses for tasks, and continues
// from a verified prefix for the Re-Reasoning Loop. It is the text-level twin of the local
// Policy + rollout/rereason pair: the same prompts, the same response format, the same
// re-grounding idea (DESIGN §7.3: for a remote VLM, the image attached again with the
// verified facts so far).
//
// Re-grounded continuation (continuation = "reground") sends
//   user:      [image, prompt]
//   assistant: "<think>\n" + verified steps, one per line     (the response so far)
//   user:      [image again, "Look at the image again. Steps 1..K are verified: ... Continue
//               with step K+1 ..."]
// Plain continuation ("prefix") ends at the assistant message and asks the server to
// continue it (vLLM's continue_final_message). Either way the reply is read as the rest of
// the response, or as a whole new response when it starts with <think>.
import * as fs from 'node:fs';
import { responsePrefix } from '../tasks/index.js';
import type { ChatBody, ChatMessageIn, ModelInfo, OpenAIClient } from './client.js';
import { pickImage, taskPrompt, type PromptFormat, type RemoteTask } from './task.js';

export type Continuation = 'reground' | 'prefix';

export interface SamplingParams {
  temperature: number;
  topP: number;
  /** Upper bound on reply tokens (servers may clamp it to their context). */
  maxTokens: number;
}

export interface RemotePolicyOptions extends SamplingParams {
  model: string;
  promptFormat: PromptFormat;
  /** Send the task image of this width when there is one (else the largest). */
  imageSize?: number;
  continuation: Continuation;
}

/** The interface synth drives: a local or remote text policy over tasks. */
export interface TextPolicy {
  readonly name: string;
  readonly promptFormat: PromptFormat;
  /** The image file the model sees for a task. */
  imageFor(task: RemoteTask): string;
  /** n responses to the task's prompt. */
  sample(task: RemoteTask, n: number, seed?: number): Promise<string[]>;
  /** Full responses that start from the verified steps (re-grounded when so configured). */
  continueFrom(task: RemoteTask, steps: readonly string[], n: number, seed?: number): Promise<string[]>;
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

export class RemotePolicy implements TextPolicy {
  private readonly dataUrls = new Map<string, string>();

  constructor(private readonly client: OpenAIClient, readonly opts: RemotePolicyOptions) {}

  get name(): string { return this.opts.model; }
  get promptFormat(): PromptFormat { return this.opts.promptFormat; }

  imageFor(task: RemoteTask): string { return pickImage(task, this.opts.imageSize).path; }

  private imageUrl(task: RemoteTask): string {
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
  userTurn(task: RemoteTask): ChatMessageIn {
    return { role: 'user', content: [{ type: 'image_url', image_url: { url: this.imageUrl(task) } }, { type: 'text', text: taskPrompt(task, this.opts.promptFormat) }] };
  }

  private body(messages: ChatMessageIn[], n: number, seed: number | undefined, extra: Partial<ChatBody> = {}): ChatBody {
    return {
      model: this.opts.model, messages, n,
      temperature: this.opts.temperature, top_p: this.opts.topP, max_tokens: this.opts.maxTokens,
      ...(seed !== undefined ? { seed } : {}),
      ...extra,
    };
  }

  /** Asks for n choices; servers that ignore n (some do) are asked again until there are n. */
  private async choices(build: (n: number, seed: number | undefined) => ChatBody, n: number, seed?: number): Promise<string[]> {
    const out: string[] = [];
    for (let tries = 0; out.length < n && tries < n + 2; tries++) {
      const res = await this.client.chat(build(n - out.length, seed === undefined ? undefined : seed + out.length));
      for (const c of res.choices) if (out.length < n) out.push(c.message.content ?? '');
    }
    if (out.length < n) throw new Error(`${this.opts.model}: asked for ${n} choices, the endpoint returned ${out.length}`);
    return out;
  }

  sample(task: RemoteTask, n: number, seed?: number): Promise<string[]> {
    return this.choices((k, s) => this.body([this.userTurn(task)], k, s), n, seed);
  }

  async continueFrom(task: RemoteTask, steps: readonly string[], n: number, seed?: number): Promise<string[]> {
    const prefix: ChatMessageIn = { role: 'assistant', content: responsePrefix(steps) };
    const build = (k: number, s: number | undefined) => this.opts.continuation === 'reground'
      ? this.body([this.userTurn(task), prefix, { role: 'user', content: [{ type: 'image_url', image_url: { url: this.imageUrl(task) } }, { type: 'text', text: regroundText(steps) }] }], k, s)
      : this.body([this.userTurn(task), prefix], k, s, { continue_final_message: true, add_generation_prompt: false });
    const replies = await this.choices(build, n, seed);
    return replies.map((r) => joinContinuation(steps, r));
  }
}
