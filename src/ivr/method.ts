// IVR-R1 wired together (DESIGN §7): after rollouts and rewards, screen the flawed
// rollouts, localise their first eroded step, rectify them with the Re-Reasoning Loop,
// inject the rectified trajectories into their groups, and (option) give flagged rollouts
// step-level credit. Every part is a strategy chosen by config, so ablations are configs.
import type { Augmenter } from '../rl/augment.js';
import type { RlConfig } from '../rl/config.js';
import { demoInjector } from './inject.js';
import { noLocalizer, stepOffset, verifierLocalizer, type Localization } from './localize.js';
import { rereason } from './rereason.js';
import { rewardScreen } from './screen.js';

export function ivrAugmenter(cfg: RlConfig): Augmenter {
  const ivr = cfg.ivr;
  const localizer = ivr.localizer === 'none' ? noLocalizer : verifierLocalizer;
  const screen = rewardScreen;
  const injector = demoInjector;
  return {
    name: 'ivr',
    async augment(groups, ctx) {
      const t0 = performance.now();
      const tok = ctx.policy.tokenizer;
      const { flagged, chosen } = screen.select(groups, ivr.tau, ivr.max_rectifications);

      // Localise every flagged rollout (cheap): for the histograms and step-level credit.
      const hist: Record<string, number> = {};
      const kinds: Record<string, number> = {};
      const locs = new Map<object, Localization>();
      for (const g of groups) {
        for (const s of g.samples) {
          if (s.kind !== 'policy' || s.reward >= ivr.tau) continue;
          const loc = localizer.localize(g.inst, s.responseText);
          if (!loc) continue;
          locs.set(s, loc);
          hist[loc.step] = (hist[loc.step] ?? 0) + 1;
          kinds[loc.kind] = (kinds[loc.kind] ?? 0) + 1;
          // The eroded step's first token in the rollout's own text (its layout may differ
          // from the canonical one: blank lines, text on the <think> line, no <think> at all).
          s.creditFrom = tok.encode(s.responseText.slice(0, stepOffset(s.responseText, loc.step))).length;
        }
      }

      const items = chosen.flatMap((c) => {
        const loc = locs.get(c.sample);
        return loc ? [{ item: { inst: c.group.inst, promptIds: c.group.promptIds, loc }, group: c.group }] : [];
      });
      const { outcomes, loopTokens } = items.length
        ? await rereason(ctx.policy, items.map((i) => i.item), {
          rounds: ivr.rounds,
          reground: ivr.rectifier === 're-ground' || ivr.rectifier === 'adaptive',
          oracleFallback: ivr.oracle_fallback,
          oracleFirst: ivr.rectifier === 'oracle',
          oracleFirstIfNoPrefix: ivr.rectifier === 'adaptive',
          temperature: cfg.temperature, topP: cfg.top_p, maxNew: cfg.max_new_tokens,
        }, ctx.seed)
        : { outcomes: [], loopTokens: 0 };

      let rectified = 0;
      let rewrittenTokens = 0;
      outcomes.forEach((o, i) => {
        if (!o.pieces) return;
        const s = injector.inject(items[i]!.group, o.pieces, ctx.policy, cfg);
        if (s.accuracy > 0) rectified++;
        rewrittenTokens += s.offPolicy.reduce((a, b) => a + b, 0);
      });
      const allTokens = groups.reduce((a, g) => a + g.samples.reduce((b, s) => b + s.responseIds.length, 0), 0);
      const demoTokens = groups.reduce((a, g) => a + g.samples.filter((s) => s.kind === 'rectified').reduce((b, s) => b + s.responseIds.length, 0), 0);
      const roundsUsed = outcomes.map((o) => o.rounds);
      return {
        extraGenTokens: loopTokens,
        stats: {
          ivr_flagged: flagged,
          ivr_attempted: items.length,
          ivr_rectified: rectified,
          ivr_rectify_rate: items.length ? rectified / items.length : 0,
          ivr_rounds_mean: roundsUsed.length ? roundsUsed.reduce((a, b) => a + b, 0) / roundsUsed.length : 0,
          ivr_first_error_hist: hist,
          ivr_error_kinds: kinds,
          ivr_demo_token_frac: allTokens ? demoTokens / allTokens : 0,
          ivr_rewritten_tokens: rewrittenTokens,
          ivr_loop_tokens: loopTokens,
          t_ivr_s: (performance.now() - t0) / 1000,
        },
      };
    },
  };
}
