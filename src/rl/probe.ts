// The probe: a fixed set of val prompts on which the RL loop measures, every few iterations,
// what the update does to the policy's decisions (issue #21's instruments), before it shows
// up in accuracy:
// - greedy accuracy on the probe set;
// - the mean per-token log-probability of the gold response (does the update move the policy
//   toward the right answers, or away from them?);
// - at the first token where the greedy response departs from the gold one (the decision the
//   policy gets wrong: a read, a move, a result), log p(gold token) and log p(greedy token),
//   both in the same context (the shared prefix). Negatives squeezing mass into a wrong mode
//   show as the greedy token's log-prob rising toward 0 while the gold token's falls.
import { evaluatePolicy } from '../eval/evaluate.js';
import { instancePatches, promptIds } from '../model/episode.js';
import type { Policy } from '../model/policy.js';
import { getSplit, goldResponse, splitHorizons, type FamilyId, type Instance } from '../tasks/index.js';

export interface ProbeSlice {
  families: readonly FamilyId[];
  /** Inclusive horizon bounds within each family's training range; null = the range's end. */
  min_horizon: number | null;
  max_horizon: number | null;
  /** Instances per family. */
  n: number;
}

export interface ProbeResult {
  probe_accuracy: number;
  /** Mean over instances of the mean log-prob per gold response token (incl. <eos>). */
  probe_gold_logp: number;
  /** Over instances the greedy policy gets wrong, at the first token where it departs from gold. */
  probe_div_gold_logp: number;
  probe_div_greedy_logp: number;
  probe_wrong: number;
}

/** The first n val instances of each family whose horizon lies in the slice (the same on every machine). */
export function probeSet(slice: ProbeSlice): Instance[] {
  return slice.families.flatMap((f) => {
    const [lo, hi] = splitHorizons(f, 'val');
    const min = Math.max(lo, slice.min_horizon ?? lo);
    const max = Math.min(hi, slice.max_horizon ?? hi);
    if (min > max) throw new RangeError(`probe: no val horizon of ${f} (${lo}..${hi}) lies in ${slice.min_horizon ?? '-'}..${slice.max_horizon ?? '-'}`);
    // Every block of (hi − lo + 1) consecutive val instances holds each horizon once.
    const block = hi - lo + 1;
    const need = Math.ceil(slice.n / (max - min + 1)) * block + block;
    return getSplit(f, 'val', need).filter((i) => i.horizon >= min && i.horizon <= max).slice(0, slice.n);
  });
}

function mean(xs: number[]): number { return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0; }

/** Greedy accuracy and the log-prob instruments on `insts`. */
export async function probePolicy(policy: Policy, insts: Instance[]): Promise<ProbeResult> {
  const tok = policy.tokenizer;
  const rep = await evaluatePolicy(policy, insts, { temperature: 0, topP: 1, samples: 1, seed: 0 });
  const rows = insts.map((inst, i) => {
    const prompt = promptIds(inst, tok);
    const gold = [...tok.encode(goldResponse(inst)), tok.eos];
    const greedy = tok.encode(rep.results[i]!.responses[0] ?? '');
    return { patches: instancePatches(inst, policy.cfg), prompt, gold, greedy, correct: rep.results[i]!.correct };
  });
  const goldLp = await policy.scoreTexts(rows.map((r) => ({ patches: r.patches, text: [...r.prompt, ...r.gold] })));
  const wrong = rows.map((r, i) => ({ r, i })).filter(({ r }) => !r.correct);
  const divAt = wrong.map(({ r }) => {
    let k = 0;
    while (k < r.greedy.length && k < r.gold.length && r.greedy[k] === r.gold[k]) k++;
    return k;
  });
  // Score the greedy text only up to and including its first departing token.
  const greedyLp = await policy.scoreTexts(wrong.map(({ r }, j) => ({ patches: r.patches, text: [...r.prompt, ...r.greedy.slice(0, divAt[j]! + 1)] })));
  const divGold: number[] = [];
  const divGreedy: number[] = [];
  wrong.forEach(({ r, i }, j) => {
    const k = divAt[j]!;
    // scoreTexts[t] = log p(text[t+1] | text[..t]): response token k sits at index prompt.length − 1 + k.
    const at = r.prompt.length - 1 + k;
    if (k < r.gold.length) divGold.push(goldLp[i]![at]!);
    if (k < r.greedy.length) divGreedy.push(greedyLp[j]![at]!);
  });
  return {
    probe_accuracy: rep.accuracy,
    probe_gold_logp: mean(rows.map((r, i) => mean(Array.from(goldLp[i]!.slice(r.prompt.length - 1))))),
    probe_div_gold_logp: mean(divGold),
    probe_div_greedy_logp: mean(divGreedy),
    probe_wrong: wrong.length,
  };
}
