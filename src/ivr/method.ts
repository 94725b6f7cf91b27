// IVR-R1 wired together (DESIGN §7): after rollouts and rewards, screen the flawed
// rollouts, localise their first eroded step, rectify them with the Re-Reasoning Loop,
// and return the rectified trajectories (as group members or NLL demonstrations, by the
// injector) and, as an option, step-level credit for the flagged rollouts. It reads the
// groups and changes nothing in them. Every part is a strategy looked up by its config name
// in its table (SCREENS, LOCALIZERS, RECTIFIERS, INJECTORS), so ablations are configs.
import { LocalReasoner } from '../reasoner/local-reasoner.js';
import { instanceTask } from '../reasoner/task.js';
import type { Augmenter, Demonstration } from '../rl/augment.js';
import { nameSeed } from '../util/rng.js';
import { instancePatches, promptIds } from '../model/episode.js';
import { makeSample } from '../rl/rollout.js';
import type { TrainConfig } from './config.js';
import type { Sample } from '../rl/rollout.js';
import { INJECTORS, rectifiedSample, type Rectified } from './inject.js';
import { LOCALIZERS, stepOffset, verifierLocalizer, type Localization } from './localize.js';
import { rectifierFor } from './rectifiers.js';
import { ReplayBuffer, type NewReplayEntry } from './replay.js';
import { rereason } from './rereason.js';
import { SCREENS } from './screen.js';

export function ivrAugmenter(cfg: TrainConfig): Augmenter {
  const ivr = cfg.ivr;
  const localizer = LOCALIZERS[ivr.localizer];
  const rectifier = rectifierFor(ivr.rectifier);
  const screen = SCREENS.reward;
  const injector = INJECTORS[ivr.inject];
  const replayLimits = { capacity: ivr.replay.capacity, maxUses: ivr.replay.max_uses };
  let replay = new ReplayBuffer(replayLimits);
  return {
    name: 'ivr',
    saveState: () => (ivr.replay.per_iter > 0 ? { replay: replay.toJSON() } : undefined),
    restoreState(state) {
      const s = state as { replay?: unknown } | null;
      if (s && s.replay !== undefined) replay = ReplayBuffer.fromJSON(s.replay, replayLimits);
    },
    async augment(groups, ctx) {
      const t0 = performance.now();
      const tok = ctx.policy.tokenizer;
      const { flagged, chosen } = screen.select(groups, ivr.tau, ivr.max_rectifications);
      const tasks = new Map(groups.map((g) => [g, instanceTask(g.inst)]));

      // Localise every flagged rollout (cheap): for the histograms and step-level credit.
      const hist: Record<string, number> = {};
      const kinds: Record<string, number> = {};
      const locs = new Map<Sample, Localization>();
      const creditFrom = new Map<Sample, number>();
      for (const g of groups) {
        for (const s of g.samples) {
          if (s.kind !== 'policy' || s.reward >= ivr.tau) continue;
          const loc = await localizer.localize(tasks.get(g)!, s.responseText);
          if (!loc) continue;
          locs.set(s, loc);
          hist[loc.step] = (hist[loc.step] ?? 0) + 1;
          kinds[loc.kind] = (kinds[loc.kind] ?? 0) + 1;
          // The eroded step's first token in the rollout's own text (its layout may differ
          // from the canonical one: blank lines, text on the <think> line, no <think> at all).
          if (ivr.step_credit) creditFrom.set(s, tok.encode(s.responseText.slice(0, stepOffset(s.responseText, loc.step))).length);
        }
      }

      const items = chosen.flatMap((c) => {
        const loc = locs.get(c.sample);
        return loc ? [{ item: { task: tasks.get(c.group)!, loc }, group: c.group, index: groups.indexOf(c.group) }] : [];
      });
      // The loop checks every round with the scene verifier, whatever localised the rollout
      // (the "none" ablation only forgets the rollout's verified prefix).
      const reasoner = new LocalReasoner(ctx.policy, { temperature: cfg.temperature, topP: cfg.top_p, maxTokens: cfg.max_new_tokens });
      const { outcomes, loopTokens } = items.length
        ? await rereason(reasoner, items.map((i) => i.item), { rounds: ivr.rounds, rectifier, oracleFallback: ivr.oracle_fallback, check: verifierLocalizer }, ctx.seed)
        : { outcomes: [], loopTokens: 0 };

      let rectified = 0;
      let rewrittenTokens = 0;
      // Replays come from earlier iterations: drawn before this iteration's trajectories join.
      const replayed: Demonstration[] = ivr.replay.per_iter > 0
        ? replay.draw(ivr.replay.per_iter).map((e) => ({
          prompt: { patches: instancePatches(e.inst, ctx.policy.cfg), promptIds: promptIds(e.inst, tok) },
          sample: makeSample(cfg, ctx.policy, e.inst, 'rectified', e.responseIds, true, new Uint8Array(e.responseIds.length), e.rewritten),
        }))
        : [];
      const hard: NewReplayEntry[] = [];
      const trajectories: Rectified[] = [];
      outcomes.forEach((o, i) => {
        if (!o.pieces) return;
        const { group, index } = items[i]!;
        trajectories.push({ group, index, pieces: o.pieces });
        // The rectified trajectory itself (whatever the injector makes of it): stats and replay.
        const t = rectifiedSample(group, o.pieces, ctx.policy, cfg);
        if (t.accuracy > 0) {
          rectified++;
          if (group.samples.every((s) => s.accuracy === 0)) hard.push({ inst: group.inst, responseIds: t.responseIds, rewritten: t.rewritten ?? new Uint8Array(t.responseIds.length), added: ctx.iteration });
        }
        rewrittenTokens += t.rewritten ? t.rewritten.reduce((a, b) => a + b, 0) : 0;
      });
      const injected = await injector.inject(trajectories, { policy: ctx.policy, cfg, seed: nameSeed(ctx.seed, 'inject') });
      if (ivr.replay.per_iter > 0) replay.add(hard);
      const { members } = injected;
      const demos = [...injected.demos, ...replayed];
      const added = [...members, ...demos];
      const demoTokens = added.reduce((a, m) => a + m.sample.responseIds.length, 0);
      const allTokens = groups.reduce((a, g) => a + g.samples.reduce((b, s) => b + s.responseIds.length, 0), 0) + demoTokens;
      const roundsUsed = outcomes.map((o) => o.rounds);
      return {
        extraGenTokens: loopTokens + injected.genTokens,
        members,
        demos,
        demoNll: ivr.demo_nll,
        creditFrom,
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
          ...(ivr.inject === 'prefix' ? { ivr_prefix_tokens: injected.genTokens } : {}),
          ...(ivr.replay.per_iter > 0 ? { ivr_replayed: replayed.length, ivr_replay_buffer: replay.size } : {}),
          t_ivr_s: (performance.now() - t0) / 1000,
        },
      };
    },
  };
}
