// The compact VLM behind the reasoner port. It builds exactly the inputs `ivr serve` builds
// for the same chat messages (serve/chat-template.ts): [image, text(<bos> + question + "\n"
// + prefix)], plus the image again after the prefix when re-grounding, so a task run here and
// the same checkpoint served over HTTP give the same text for the same seeds.
import * as fs from 'node:fs';
import { instancePatches, promptIds } from '../model/episode.js';
import { patchify } from '../model/image.js';
import type { GenerateRequest, Policy, Segment } from '../model/policy.js';
import { decodePng, responsePrefix } from '../tasks/index.js';
import type { BatchOptions, ContinueRequest, Reasoner, Reply, SampleRequest, SamplingParams } from './reasoner.js';
import { pickImage, taskPrompt, type ReasonTask } from './task.js';

export class LocalReasoner implements Reasoner {
  readonly promptFormat = 'question' as const;
  private readonly filePatches = new Map<string, Float32Array>();

  constructor(private readonly policy: Policy, readonly sampling: SamplingParams, readonly name = 'local') {}

  imageFor(task: ReasonTask): string {
    const size = this.policy.cfg.imageSize;
    if (!task.images.length && task.inst?.images) return task.inst.images.small;
    const img = pickImage(task, size);
    if (img.width !== size) throw new Error(`task ${task.id}: no ${size}x${size} image for the local model (largest is ${img.width}x${img.height})`);
    return img.path;
  }

  /** An instance's patches come from its scene (or its own image file); a generic task's from its file. */
  private patchesFor(task: ReasonTask): Float32Array {
    if (task.inst) return instancePatches(task.inst, this.policy.cfg);
    const file = this.imageFor(task);
    let p = this.filePatches.get(file);
    if (!p) {
      p = patchify(decodePng(fs.readFileSync(file)), this.policy.cfg);
      if (this.filePatches.size > 256) this.filePatches.clear();
      this.filePatches.set(file, p);
    }
    return p;
  }

  private promptIds(task: ReasonTask): number[] {
    const tok = this.policy.tokenizer;
    return task.inst ? promptIds(task.inst, tok) : [tok.bos, ...tok.encode(taskPrompt(task, 'question'))];
  }

  private rowSampling(seed: number | undefined): Pick<GenerateRequest, 'sampling'> {
    return seed === undefined ? {} : { sampling: { seed } };
  }

  async sample(reqs: SampleRequest[], opts: BatchOptions): Promise<Reply[][]> {
    const cfg = this.policy.cfg;
    const rows: GenerateRequest[] = [];
    for (const r of reqs) {
      const ids = this.promptIds(r.task);
      if (cfg.maxText - ids.length < 1) throw new Error(`task ${r.task.id}: the prompt (${ids.length} tokens) leaves no room in maxText ${cfg.maxText}`);
      const req = { patches: this.patchesFor(r.task), segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids }] };
      for (let i = 0; i < r.n; i++) rows.push({ ...req, ...this.rowSampling(r.seed === undefined ? undefined : r.seed + i) });
    }
    // No cap by the room left: a row stops at maxText anyway, at the same token.
    const gens = await this.policy.generate(rows, {
      maxNew: Math.min(opts.maxTokens ?? this.sampling.maxTokens, cfg.maxText), temperature: this.sampling.temperature, topP: this.sampling.topP,
      seed: opts.seed, stop: this.policy.responseStops, ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
    });
    const tok = this.policy.tokenizer;
    let at = 0;
    return reqs.map((r) => gens.slice(at, (at += r.n)).map((g) => ({ text: tok.decode(g.tokens), tokens: g.tokens.length })));
  }

  /**
   * The continuation is conditioned on the prefix tokens in the same text, so it always
   * extends the prefix. One batched generation; its budget is capped by the room the longest
   * context leaves, and with fewer than 2 tokens of room nothing is generated (all null).
   */
  async continueFrom(reqs: ContinueRequest[], opts: BatchOptions): Promise<(Reply | null)[]> {
    if (!reqs.length) return [];
    const tok = this.policy.tokenizer;
    const prefixes = reqs.map((r) => responsePrefix(r.steps));
    const rows = reqs.map((r, i) => {
      const context = [...this.promptIds(r.task), ...tok.encode(prefixes[i]!)];
      const segments: Segment[] = [{ kind: 'image' }, { kind: 'text', ids: context }];
      if (r.reground) segments.push({ kind: 'image' });
      return { patches: this.patchesFor(r.task), segments, contextLen: context.length, ...this.rowSampling(r.seed) };
    });
    const room = this.policy.cfg.maxText - Math.max(...rows.map((r) => r.contextLen));
    if (room < 2) return reqs.map(() => null);
    const gens = await this.policy.generate(rows.map(({ contextLen: _, ...row }) => row), {
      maxNew: Math.min(opts.maxTokens ?? this.sampling.maxTokens, room), temperature: this.sampling.temperature, topP: this.sampling.topP,
      seed: opts.seed, stop: this.policy.responseStops, ...(opts.batchSize ? { batchSize: opts.batchSize } : {}),
    });
    return gens.map((g, i) => ({ text: prefixes[i]! + tok.decode(g.tokens), tokens: g.tokens.length }));
  }
}
