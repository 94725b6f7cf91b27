// Injection (DESIGN §7.4): a rectified trajectory joins its group as one more member with
// its reward recomputed, so advantages are computed with it included. It is trained in the
// plain context (no re-grounding tokens: the policy must produce grounded steps unaided).
// Text the policy sampled keeps the PPO ratio; text rewritten from the prior is off-policy
// and uses policy shaping, like LUFFY's demonstrations. An injector returns the sample it
// adds; the caller puts it into the group (a strategy does not mutate what it was given).
import type { Policy } from '../model/policy.js';
import type { RlConfig } from '../rl/config.js';
import { makeSample, type Group, type Sample } from '../rl/rollout.js';
import type { Piece } from './rereason.js';

export interface Injector {
  name: string;
  /** The sample that joins `group` (not added: the caller adds it). */
  inject(group: Group, pieces: Piece[], policy: Policy, cfg: RlConfig): Sample;
}

export const demoInjector: Injector = {
  name: 'demo',
  inject(group, pieces, policy, cfg) {
    const ids: number[] = [];
    const off: number[] = [];
    for (const p of pieces) {
      // Pieces end at line breaks and hold tags whole, so piecewise encoding equals
      // encoding the whole text.
      const t = policy.tokenizer.encode(p.text);
      ids.push(...t);
      for (let i = 0; i < t.length; i++) off.push(p.rewritten && cfg.ivr.shaping ? 1 : 0);
    }
    return makeSample(cfg, policy, group.inst, 'rectified', ids, true, Uint8Array.from(off));
  },
};

export const INJECTORS = { demo: demoInjector } as const satisfies Record<string, Injector>;
