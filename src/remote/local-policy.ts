// The local compact model behind the same text-level interface as RemotePolicy, so synth
// (and anything else written against TextPolicy) never knows which one it drives. It builds
// exactly the inputs `ivr serve` builds for the same chat messages (chat-template.ts):
// [image, text(<bos> + question + "\n" + prefix)] plus the image again when re-grounding.
import * as fs from 'node:fs';
import { patchify } from '../model/image.js';
import type { Policy, Segment } from '../model/policy.js';
import { decodePng, responsePrefix } from '../tasks/index.js';
import { joinContinuation, type SamplingParams, type TextPolicy } from './policy.js';
import { pickImage, taskPrompt, type RemoteTask } from './task.js';

export interface LocalTextPolicyOptions extends SamplingParams {
  name: string;
  /** Re-insert the image after the verified prefix when continuing (IVR-R1's re-grounding). */
  reground: boolean;
}

export class LocalTextPolicy implements TextPolicy {
  readonly promptFormat = 'question' as const;
  private readonly patches = new Map<string, Float32Array>();

  constructor(private readonly policy: Policy, readonly opts: LocalTextPolicyOptions) {}

  get name(): string { return this.opts.name; }

  imageFor(task: RemoteTask): string {
    const img = pickImage(task, this.policy.cfg.imageSize);
    if (img.width !== this.policy.cfg.imageSize) throw new Error(`task ${task.id}: no ${this.policy.cfg.imageSize}x${this.policy.cfg.imageSize} image for the local model (largest is ${img.width}x${img.height})`);
    return img.path;
  }

  private patchesFor(task: RemoteTask): Float32Array {
    const file = this.imageFor(task);
    let p = this.patches.get(file);
    if (!p) {
      p = patchify(decodePng(fs.readFileSync(file)), this.policy.cfg);
      this.patches.set(file, p);
    }
    return p;
  }

  private async run(task: RemoteTask, prefix: string, reground: boolean, n: number, seed?: number): Promise<string[]> {
    const tok = this.policy.tokenizer;
    const ids = [tok.bos, ...tok.encode(taskPrompt(task, 'question')), ...tok.encode(prefix)];
    const room = this.policy.cfg.maxText - ids.length;
    if (room < 1) throw new Error(`task ${task.id}: the context (${ids.length} tokens) leaves no room in maxText ${this.policy.cfg.maxText}`);
    const segments: Segment[] = reground ? [{ kind: 'image' }, { kind: 'text', ids }, { kind: 'image' }] : [{ kind: 'image' }, { kind: 'text', ids }];
    const base = seed ?? 0;
    const gens = await this.policy.generate(
      Array.from({ length: n }, (_, i) => ({ patches: this.patchesFor(task), segments, sampling: { seed: base + i } })),
      { maxNew: Math.min(this.opts.maxTokens, room), temperature: this.opts.temperature, topP: this.opts.topP, seed: base },
    );
    return gens.map((g) => tok.decode(g.tokens));
  }

  sample(task: RemoteTask, n: number, seed?: number): Promise<string[]> {
    return this.run(task, '', false, n, seed);
  }

  async continueFrom(task: RemoteTask, steps: readonly string[], n: number, seed?: number): Promise<string[]> {
    const replies = await this.run(task, responsePrefix(steps), this.opts.reground, n, seed);
    return replies.map((r) => joinContinuation(steps, r));
  }
}
