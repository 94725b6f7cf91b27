// The reasoner port (DESIGN §2): the one seam between what reasons and what uses reasoning.
// ivr/ (the Re-Reasoning Loop, `ivr synth`) and eval/ talk to models only through it, so the
// local compact VLM (local-reasoner.ts) and any OpenAI-compatible VLM (client/remote-reasoner.ts)
// are interchangeable there. It is text-level: responses in, responses out. RL keeps its
// token-level local policy (model/policy.ts), since gradients need the model.
//
// Requests come in batches so a local model decodes them together; a remote reasoner sends
// them concurrently. A request's own seed makes its text independent of the batch it shared
// (choice i of a request uses seed + i, as `ivr serve` does); rows without one draw from the
// batch's seed.
import type { PromptFormat, ReasonTask } from './task.js';

export interface SamplingParams {
  temperature: number;
  topP: number;
  /** Upper bound on reply tokens (a model may clamp it to its context). */
  maxTokens: number;
}

export interface SampleRequest { task: ReasonTask; n: number; seed?: number }

export interface ContinueRequest {
  task: ReasonTask;
  /** The verified steps so far; the reply continues after them. */
  steps: readonly string[];
  /** Re-ground before continuing (DESIGN §7.3): the local model gets the image patches
   * re-inserted after the prefix, a remote VLM the image attached again with the verified
   * facts restated. false = plain continuation of the same text. */
  reground: boolean;
  seed?: number;
}

export interface BatchOptions {
  /** Seed for the rows without their own. */
  seed: number;
  /** Overrides the reasoner's maxTokens for this batch. */
  maxTokens?: number;
  /** Rows a local model decodes at once. */
  batchSize?: number;
}

export interface Reply {
  /** The whole response. For a continuation: the verified prefix followed by what the model
   * wrote, or only what it wrote when it started over with <think> (a chat model answering a
   * new turn may). */
  text: string;
  /** Tokens the model generated for it. */
  tokens: number;
}

export interface Reasoner {
  readonly name: string;
  /** The prompt the model was trained to read (the bare question for the compact model). */
  readonly promptFormat: PromptFormat;
  /** The image file the model sees for a task (what a demonstration record references). */
  imageFor(task: ReasonTask): string;
  /** n responses to each request's prompt, in request order. */
  sample(reqs: SampleRequest[], opts: BatchOptions): Promise<Reply[][]>;
  /** One continuation per request; null where the context leaves no room to continue. */
  continueFrom(reqs: ContinueRequest[], opts: BatchOptions): Promise<(Reply | null)[]>;
}
