// The RL prompt stream: training instances far past the seeds SFT used, families
// round-robin, with optional filters (families, a horizon range) and an optional curriculum
// that ramps the largest horizon linearly over iterations.
//
// Filtering runs on the train split's own schedule (tasks/splits.ts: each block of `span`
// consecutive instances holds every training horizon once): each family keeps a cursor into
// the split and skips the instances whose horizon is outside the current range, so no
// instance is drawn twice even when the range changes (curriculum), and without filters the
// stream is exactly the unfiltered one (instance RL_PROMPT_OFFSET + j for a family's j-th
// draw), so old runs resume unchanged.
//
// Curriculum by horizon: a linear ramp of the maximum horizon, i.e. curriculum learning
// (Bengio et al. 2009, "Curriculum Learning", easy examples first) as in the easy-to-hard
// "curriculum sampling" of Kimi k1.5 (Kimi Team 2025, arXiv 2501.12599): at iteration i of a ramp over R iterations, family f's largest horizon is
//   floor(start + (hi_f − start) · min(1, i / R)), clamped to the family's range [lo_f, hi_f],
// hi_f being the family's training maximum (or prompts.max_horizon when smaller). Short
// problems first give a weak policy groups with some right answers (non-zero variance), the
// failure mode measured in #12.
import { getSplit, splitEntry, splitHorizons, type FamilyId, type Instance } from '../tasks/index.js';

/** RL prompts come from the train split far past the seeds SFT used. */
export const RL_PROMPT_OFFSET = 500_000_000;

export interface PromptFilter {
  families: readonly FamilyId[];
  min_horizon: number | null;
  max_horizon: number | null;
  curriculum: { start_max_horizon: number; iterations: number } | null;
}

/** Prompt number k of the unfiltered stream (families round-robin, every training horizon). */
export function rlPrompt(k: number, families: readonly FamilyId[]): Instance {
  const family = families[k % families.length]!;
  return getSplit(family, 'train', 1, RL_PROMPT_OFFSET + Math.floor(k / families.length))[0]!;
}

/** The curriculum's largest horizon at `iteration`: floor(start + (end − start)·min(1, i/R)). */
export function curriculumMaxHorizon(start: number, end: number, iteration: number, rampIterations: number): number {
  if (!(rampIterations >= 1)) throw new RangeError(`curriculumMaxHorizon: rampIterations must be >= 1, got ${rampIterations}`);
  const frac = Math.min(1, Math.max(0, iteration) / rampIterations);
  return Math.floor(start + (end - start) * frac);
}

/** Family f's horizon range [lo, hi] at `iteration` under the filter (and curriculum). */
export function horizonRange(family: FamilyId, filter: PromptFilter, iteration: number): [number, number] {
  const [flo, fhi] = splitHorizons(family, 'train');
  const lo = Math.max(flo, filter.min_horizon ?? flo);
  let hi = Math.min(fhi, filter.max_horizon ?? fhi);
  if (lo > hi) throw new RangeError(`horizonRange: no training horizon of ${family} (${flo}..${fhi}) lies in ${filter.min_horizon ?? '-'}..${filter.max_horizon ?? '-'}`);
  if (filter.curriculum) hi = Math.min(hi, Math.max(lo, curriculumMaxHorizon(filter.curriculum.start_max_horizon, hi, iteration, filter.curriculum.iterations)));
  return [lo, hi];
}

/** Where the stream stands: the round-robin counter and, per family, the next split index (relative to RL_PROMPT_OFFSET). */
export interface PromptStreamState {
  next: number;
  cursors: Record<string, number>;
}

/** The state after `next` draws of the unfiltered stream (for runs saved before the cursors existed). */
export function unfilteredStreamState(next: number, families: readonly FamilyId[]): PromptStreamState {
  const n = families.length;
  return { next, cursors: Object.fromEntries(families.map((f, i) => [f, next > i ? Math.ceil((next - i) / n) : 0])) };
}

/** Draws `count` prompts, advancing `state` in place. `range(f)` gives family f's horizon range. */
export function drawPrompts(state: PromptStreamState, count: number, families: readonly FamilyId[], range: (f: FamilyId) => [number, number]): Instance[] {
  if (families.length === 0) throw new Error('drawPrompts: no families');
  const out: Instance[] = [];
  for (let i = 0; i < count; i++) {
    const f = families[state.next % families.length]!;
    state.next++;
    const [lo, hi] = range(f);
    const [flo, fhi] = splitHorizons(f, 'train');
    if (lo > hi || hi < flo || lo > fhi) throw new RangeError(`drawPrompts: ${f} has no training horizon in ${lo}..${hi}`);
    let c = state.cursors[f] ?? 0;
    // Every block of fhi − flo + 1 split instances holds each horizon once: the scan is bounded.
    for (;;) {
      const { horizon } = splitEntry(f, 'train', RL_PROMPT_OFFSET + c);
      c++;
      if (horizon >= lo && horizon <= hi) break;
    }
    state.cursors[f] = c;
    out.push(getSplit(f, 'train', 1, RL_PROMPT_OFFSET + c - 1)[0]!);
  }
  return out;
}
