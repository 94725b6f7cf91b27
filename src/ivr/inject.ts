// Injection (DESIGN §7.4): how rectified trajectories enter the update. They are always
// trained in the plain context (no re-grounding tokens: the policy must produce grounded steps
// unaided). An injector RETURNS what it adds for a batch of rectified trajectories; the
// augmenter passes it on to the trainer.
// - member (DESIGN §7.4, LUFFY-style): the trajectory joins its group with its reward, so
//   the group's advantages are computed with it included. Text the policy sampled keeps the
//   PPO ratio; text rewritten from the prior uses policy shaping (ivr.shaping) or not.
// - likelihood (UFT: Liu et al. 2025, "UFT: Unifying Supervised and Reinforcement
//   Fine-Tuning", arXiv 2505.16984; ReLIFT: Ma et al. 2025, "Learning What Reinforcement
//   Learning Can't", arXiv 2506.07527): an auxiliary λ·NLL on the trajectory (λ =
//   ivr.demo_nll), apart from the advantages: the group's advantages stay those of the
//   policy's own samples, and the demonstration is learned like an SFT example.
// - prefix (BREAD: Zhang et al. 2025, arXiv 2506.17211; QuestA: Li et al. 2025, arXiv
//   2507.13266; PrefixRL): the trajectory up to and including its first rewritten step is a
//   hint. The policy samples ivr.prefix_samples continuations from the hint, in the plain
//   context; they join the group as members conditioned on the hint (the hint is their
//   prompt, so the policy gradient reaches only what the policy wrote), and the rewritten
//   step is trained by the auxiliary NLL, conditioned on the verified prefix before it.
//   A trajectory that needed no rewrite (the policy's own continuation was right) enters as
//   a member, as in 'member'.
import type { Policy } from '../model/policy.js';
import type { Addition, Demonstration, PromptInput } from '../rl/augment.js';
import type { Group, Sample } from '../rl/rollout.js';
import { makeSample } from '../rl/rollout.js';
import type { TrainConfig } from './config.js';
import type { Piece } from './rereason.js';

/** A rectified trajectory of groups[index]. */
export interface Rectified { group: Group; index: number; pieces: Piece[] }

export interface InjectContext { policy: Policy; cfg: TrainConfig; seed: number }

/** What an injector adds, and the tokens it generated itself (counted in the budget). */
export interface Injected { members: Addition[]; demos: Demonstration[]; genTokens: number }

export interface Injector {
  name: string;
  inject(items: readonly Rectified[], ctx: InjectContext): Promise<Injected>;
}

/** The trajectory's tokens and, per token, whether the prior wrote it. Pieces end at line
 *  breaks and hold tags whole, so piecewise encoding equals encoding the whole text. */
export function encodePieces(pieces: readonly Piece[], policy: Policy): { ids: number[]; rewritten: Uint8Array } {
  const ids: number[] = [];
  const rw: number[] = [];
  for (const p of pieces) {
    const t = policy.tokenizer.encode(p.text);
    ids.push(...t);
    for (let i = 0; i < t.length; i++) rw.push(p.rewritten ? 1 : 0);
  }
  return { ids, rewritten: Uint8Array.from(rw) };
}

/** The rectified trajectory as a sample (sampled tokens on-policy, rewritten ones marked). */
export function rectifiedSample(group: Group, pieces: readonly Piece[], policy: Policy, cfg: TrainConfig, shaped = false): Sample {
  const { ids, rewritten } = encodePieces(pieces, policy);
  return makeSample(cfg, policy, group.inst, 'rectified', ids, true, shaped ? rewritten.slice() : new Uint8Array(ids.length), rewritten);
}

export const memberInjector: Injector = {
  name: 'member',
  async inject(items, { policy, cfg }) {
    return { members: items.map((it) => ({ group: it.index, sample: rectifiedSample(it.group, it.pieces, policy, cfg, cfg.ivr.shaping) })), demos: [], genTokens: 0 };
  },
};

export const likelihoodInjector: Injector = {
  name: 'likelihood',
  async inject(items, { policy, cfg }) {
    return { members: [], demos: items.map((it) => ({ prompt: it.group, sample: rectifiedSample(it.group, it.pieces, policy, cfg) })), genTokens: 0 };
  },
};

export const prefixInjector: Injector = {
  name: 'prefix',
  async inject(items, { policy, cfg, seed }) {
    const out: Injected = { members: [], demos: [], genTokens: 0 };
    const hinted: { it: Rectified; prompt: PromptInput; hintIds: number[] }[] = [];
    for (const it of items) {
      const r = it.pieces.findIndex((p) => p.rewritten);
      if (r < 0) {
        out.members.push({ group: it.index, sample: rectifiedSample(it.group, it.pieces, policy, cfg) });
        continue;
      }
      const before = encodePieces(it.pieces.slice(0, r), policy).ids;
      const step = encodePieces([it.pieces[r]!], policy).ids;
      const context = { patches: it.group.patches, promptIds: [...it.group.promptIds, ...before] };
      // The rewritten step, learned by NLL given the verified prefix before it.
      out.demos.push({ prompt: context, sample: makeSample(cfg, policy, it.group.inst, 'rectified', step, false, new Uint8Array(step.length), new Uint8Array(step.length).fill(1)) });
      hinted.push({ it, prompt: { patches: it.group.patches, promptIds: [...context.promptIds, ...step] }, hintIds: [...before, ...step] });
    }
    if (!hinted.length) return out;
    const k = cfg.ivr.prefix_samples;
    const reqs = hinted.flatMap((h) => Array.from({ length: k }, () => ({ patches: h.prompt.patches, segments: [{ kind: 'image' as const }, { kind: 'text' as const, ids: h.prompt.promptIds }] })));
    const room = policy.cfg.maxText - Math.max(...hinted.map((h) => h.prompt.promptIds.length));
    const maxNew = Math.min(cfg.max_new_tokens - Math.min(...hinted.map((h) => h.hintIds.length)), room);
    if (maxNew < 1) return out;
    const gens = await policy.generate(reqs, { maxNew, temperature: cfg.temperature, topP: cfg.top_p, seed });
    gens.forEach((g, i) => {
      const h = hinted[Math.floor(i / k)]!;
      out.genTokens += g.tokens.length;
      // Rewarded as the whole response (hint + continuation); trained on the continuation alone.
      const whole = makeSample(cfg, policy, h.it.group.inst, 'rectified', [...h.hintIds, ...g.tokens], g.finished);
      const sample: Sample = { ...whole, responseIds: g.tokens, responseText: policy.tokenizer.decode(g.tokens), offPolicy: new Uint8Array(g.tokens.length), rewritten: null };
      out.members.push({ group: h.it.index, sample, prompt: h.prompt });
    });
    return out;
  },
};

export const INJECTORS = { member: memberInjector, likelihood: likelihoodInjector, prefix: prefixInjector } as const satisfies Record<string, Injector>;
export type InjectorName = keyof typeof INJECTORS;
