// Hand-built RL objects for unit tests: samples and groups with chosen rewards, a tiny
// untrained policy, and a scripted "policy" whose generate() returns canned text (the RL and
// IVR code uses Policy structurally: cfg, tokenizer, generate), recording every request.
import type { VlmConfig } from '../../src/model/config.js';
import { DEFAULT_VLM, numPatches, patchDim } from '../../src/model/config.js';
import { instancePatches, promptIds } from '../../src/model/episode.js';
import type { GenerateOptions, GenerateRequest, Generation, Policy } from '../../src/model/policy.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import type { Group, Sample, SampleKind } from '../../src/rl/rollout.js';
import { getSplit, verifyResponse, type Instance } from '../../src/tasks/index.js';

/** A small model config (nothing is compiled by the tests that use it). */
export const SMALL_VLM: VlmConfig = { ...DEFAULT_VLM, dim: 32, layers: 1, heads: 2, maxText: 160 };

export const TOKENIZER = new Tokenizer();

let nextId = 0;

/** A sample with the given reward/accuracy; text and verification are placeholders unless given. */
export function fakeSample(kind: SampleKind, reward: number, accuracy = reward >= 1 ? 1 : 0, text = `r${nextId++}`): Sample {
  const ids = TOKENIZER.encode(text);
  return {
    kind, responseIds: ids, responseText: text, finished: true, reward, accuracy, format: 1,
    verification: null as unknown as Sample['verification'],
    offPolicy: new Uint8Array(ids.length), rewritten: null,
  };
}

const DUMMY_INST: Instance = getSplit('grid', 'train', 1)[0]!;

export function fakeGroup(samples: Sample[], inst: Instance = DUMMY_INST, cfg: VlmConfig = SMALL_VLM): Group {
  return { inst, patches: instancePatches(inst, cfg), promptIds: promptIds(inst, TOKENIZER), samples };
}

/** A real sample for `inst` whose response is `text` (reward = accuracy + 0.1 * format). */
export function textSample(inst: Instance, kind: SampleKind, text: string): Sample {
  const v = verifyResponse(inst, text);
  const ids = TOKENIZER.encode(text);
  const accuracy = v.answerCorrect ? 1 : 0;
  return {
    kind, responseIds: ids, responseText: TOKENIZER.decode(ids), finished: true,
    reward: accuracy + 0.1 * (v.formatValid ? 1 : 0), accuracy, format: v.formatValid ? 1 : 0, verification: v,
    offPolicy: new Uint8Array(ids.length), rewritten: null,
  };
}

export interface ScriptCall { reqs: GenerateRequest[]; opts: GenerateOptions }

/**
 * A Policy look-alike whose generate() answers each request with `script(req, row, call)`
 * (a string, encoded with the real tokenizer; generation stops after </answer> like the real
 * policy, and at opts.maxNew tokens).
 */
export class ScriptedPolicy {
  readonly tokenizer = TOKENIZER;
  readonly calls: ScriptCall[] = [];
  readonly threads = 1;
  constructor(
    private readonly script: (req: GenerateRequest, row: number, call: number) => string,
    readonly cfg: VlmConfig = SMALL_VLM,
  ) {}

  async generate(reqs: GenerateRequest[], opts: GenerateOptions): Promise<Generation[]> {
    const call = this.calls.length;
    this.calls.push({ reqs, opts });
    const stop = this.tokenizer.id('</answer>');
    return reqs.map((r, i) => {
      let tokens = this.tokenizer.encode(this.script(r, i, call));
      const at = tokens.indexOf(stop);
      if (at >= 0) tokens = tokens.slice(0, at + 1);
      const finished = at >= 0 && at < opts.maxNew;
      tokens = tokens.slice(0, opts.maxNew);
      return { tokens, logps: tokens.map(() => -1), finished };
    });
  }

  asPolicy(): Policy { return this as unknown as Policy; }
}

/** The text of a text segment list (prompt + everything after it), decoded. */
export function contextText(req: GenerateRequest): string {
  return req.segments.map((s) => (s.kind === 'text' ? TOKENIZER.decode(s.ids) : '[IMG]')).join('');
}

export function patchLen(cfg: VlmConfig = SMALL_VLM): number { return numPatches(cfg) * patchDim(cfg); }
