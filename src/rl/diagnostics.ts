// Per-iteration diagnostics for metrics.jsonl (issue #12 §5): pure summaries of an
// iteration's groups. What the reference frameworks log and why it is worth having here:
// - zero-variance groups split by outcome: an all-wrong group (the policy never finds the
//   answer) and an all-correct group (nothing left to learn) both give no GRPO signal, but
//   call for opposite remedies (LUFFY-style guidance vs harder prompts); TRL logs
//   frac_reward_zero_std, verl's DAPO recipe filters both kinds.
// - advantage statistics: with std-normalized advantages a tiny reward difference becomes a
//   full-size advantage (the format-bonus failure of #12); mean/std/min/max make that visible.
// - accuracy per family: the prompt stream mixes families, and a mean hides one that regresses.

export interface Stats { mean: number; std: number; min: number; max: number }

/** Mean, population std, min and max; all 0 for an empty list. */
export function summarize(xs: readonly number[]): Stats {
  if (xs.length === 0) return { mean: 0, std: 0, min: 0, max: 0 };
  let sum = 0, lo = Infinity, hi = -Infinity;
  for (const x of xs) { sum += x; lo = Math.min(lo, x); hi = Math.max(hi, x); }
  const mean = sum / xs.length;
  const std = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / xs.length);
  return { mean, std, min: lo, max: hi };
}

export interface GroupOutcomes {
  /** Groups whose every sample is right (accuracy 1). */
  allCorrect: number;
  /** Groups whose every sample is wrong (accuracy 0). */
  allWrong: number;
  groups: number;
}

/** Counts all-correct and all-wrong groups (by accuracy; empty groups count as neither). */
export function groupOutcomes(groups: readonly (readonly number[])[]): GroupOutcomes {
  let allCorrect = 0, allWrong = 0;
  for (const g of groups) {
    if (g.length === 0) continue;
    if (g.every((a) => a >= 1)) allCorrect++;
    else if (g.every((a) => a <= 0)) allWrong++;
  }
  return { allCorrect, allWrong, groups: groups.length };
}

/** Mean accuracy per key (family), keys in first-seen order. */
export function accuracyBy(items: readonly { key: string; accuracy: number }[]): Record<string, number> {
  const sums = new Map<string, [number, number]>();
  for (const { key, accuracy } of items) {
    const s = sums.get(key) ?? [0, 0];
    s[0] += accuracy; s[1]++;
    sums.set(key, s);
  }
  return Object.fromEntries([...sums].map(([k, [a, n]]) => [k, a / n]));
}
