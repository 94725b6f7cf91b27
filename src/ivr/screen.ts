// Screening (DESIGN §7.1): which rollouts the Re-Reasoning Loop spends its budget on.
// Flagged = reward below τ. Groups are visited in order of success rate, all-fail groups
// first (there outcome-only RL has no signal at all); one flagged rollout per group per
// pass, so M rectifications spread over M groups before any group gets a second one.
// It reads only kind, reward and accuracy, so RL's groups of samples and synth's rollouts of
// one task are screened by the same code.

/** What screening reads of a rollout. */
export interface Scored { kind: string; reward: number; accuracy: number }
export interface ScreenGroup<S extends Scored = Scored> { samples: readonly S[] }

export interface Flagged<G extends ScreenGroup> { group: G; sample: G['samples'][number] }

export interface Screen {
  name: string;
  select<G extends ScreenGroup>(groups: readonly G[], tau: number, max: number): { flagged: number; chosen: Flagged<G>[] };
}

export const rewardScreen: Screen = {
  name: 'reward',
  select<G extends ScreenGroup>(groups: readonly G[], tau: number, max: number) {
    type S = G['samples'][number];
    const policyOf = (g: G): S[] => g.samples.filter((s) => s.kind === 'policy');
    const successRate = (g: G) => {
      const ps = policyOf(g);
      return ps.length ? ps.filter((s) => s.accuracy > 0).length / ps.length : 0;
    };
    const queues = groups
      .map((g, i) => ({ g, i, rate: successRate(g), flagged: policyOf(g).filter((s) => s.reward < tau) }))
      .filter((q) => q.flagged.length > 0)
      .sort((a, b) => a.rate - b.rate || a.i - b.i); // stable: ties keep rollout order
    const flagged = queues.reduce((a, q) => a + q.flagged.length, 0);
    const chosen: Flagged<G>[] = [];
    for (let pass = 0; chosen.length < max; pass++) {
      let took = false;
      for (const q of queues) {
        if (chosen.length >= max) break;
        const s = q.flagged[pass];
        if (s) { chosen.push({ group: q.g, sample: s }); took = true; }
      }
      if (!took) break;
    }
    return { flagged, chosen };
  },
};

export const SCREENS = { reward: rewardScreen } as const satisfies Record<string, Screen>;
