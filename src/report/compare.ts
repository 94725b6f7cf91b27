// Accuracy intervals and method differences from a bench's evaluations: the one place that
// decides how an interval is computed, so the summary, the tables and the headline agree.
//
// With per-instance outcomes (every evaluation since `correct` was added) intervals cover
// instances and seeds and differences are paired on instances (src/stats/bootstrap.ts). Older
// results files carry only per-seed aggregates: then the interval is over seeds (Student t)
// and differences are Welch intervals, as before.
import { bootstrapAccuracy, bootstrapPairedDiff } from '../stats/bootstrap.js';
import { diffCi, meanCi } from '../stats/interval.js';
import { groupRuns, SPLITS, type Ci, type RunResult, type SplitEval, type SplitName } from './results.js';

/** Which instances a comparison looks at: all, or the long half of each family's horizons. */
export type InstanceScope = 'all' | 'long';

/**
 * Indices of the long-horizon half: per family, instances whose horizon is at or above the
 * median of that family's distinct horizons (the same rule as `longHorizonAccuracy`).
 */
export function longHalfIndices(instances: readonly { family: string; horizon: number }[]): number[] {
  const byFam = new Map<string, Set<number>>();
  for (const x of instances) byFam.set(x.family, (byFam.get(x.family) ?? new Set()).add(x.horizon));
  const cut = new Map([...byFam].map(([f, hs]) => {
    const sorted = [...hs].sort((a, b) => a - b);
    return [f, sorted[Math.floor(sorted.length / 2)]!];
  }));
  const out: number[] = [];
  instances.forEach((x, i) => { if (x.horizon >= cut.get(x.family)!) out.push(i); });
  return out;
}

/**
 * Accuracy on the long half of the horizons from by_horizon rows (works for old files too):
 * per family the horizons at or above the median horizon, weighted by instance count.
 */
export function longHorizonAccuracy(e: SplitEval): number | null {
  const rows = e.by_horizon.map((h) => ({ family: h.family, horizon: h.horizon }));
  const keep = new Set(longHalfIndices(rows));
  let n = 0;
  let correct = 0;
  e.by_horizon.forEach((h, i) => { if (keep.has(i)) { n += h.n; correct += h.accuracy * h.n; } });
  return n ? correct / n : null;
}

function outcomes(evals: readonly SplitEval[]): string[] | null {
  const xs = evals.map((e) => e.correct);
  return xs.every((x): x is string => typeof x === 'string' && x.length > 0) ? xs : null;
}

function subsetFor(scope: InstanceScope, instances: SplitEval['instances']): number[] | undefined | null {
  if (scope === 'all') return undefined;
  return instances ? longHalfIndices(instances) : null;
}

function aggregateValue(e: SplitEval, scope: InstanceScope): number | null {
  return scope === 'all' ? e.accuracy : longHorizonAccuracy(e);
}

/**
 * Mean accuracy of one method (one evaluation per seed) with a 95% interval.
 * `instances` is the base evaluation's instance list (needed for the long-half scope).
 */
export function accuracyCi(evals: readonly SplitEval[], scope: InstanceScope = 'all', instances?: SplitEval['instances']): Ci | null {
  if (!evals.length) return null;
  const o = outcomes(evals);
  const subset = subsetFor(scope, instances);
  if (o && subset !== null && (subset === undefined || subset.length)) return bootstrapAccuracy(o, { subset });
  const xs = evals.map((e) => aggregateValue(e, scope)).filter((v): v is number => v !== null);
  return xs.length ? meanCi(xs) : null;
}

/** Accuracy of A minus B with a 95% interval (paired on instances when outcomes exist). */
export function accuracyDiffCi(a: readonly SplitEval[], b: readonly SplitEval[], scope: InstanceScope = 'all', instances?: SplitEval['instances']): Ci | null {
  if (!a.length || !b.length) return null;
  const oa = outcomes(a);
  const ob = outcomes(b);
  const subset = subsetFor(scope, instances);
  if (oa && ob && oa[0]!.length === ob[0]!.length && subset !== null && (subset === undefined || subset.length)) {
    return bootstrapPairedDiff(oa, ob, { subset });
  }
  const xa = a.map((e) => aggregateValue(e, scope)).filter((v): v is number => v !== null);
  const xb = b.map((e) => aggregateValue(e, scope)).filter((v): v is number => v !== null);
  if (!xa.length || !xb.length) return null;
  // one base evaluation against seeds: the seeds' interval shifted by the base value
  if (xb.length === 1 && xa.length > 1) {
    const ci = meanCi(xa);
    return { mean: ci.mean - xb[0]!, ci_low: ci.ci_low - xb[0]!, ci_high: ci.ci_high - xb[0]!, n: ci.n };
  }
  return diffCi(xa, xb);
}

/** `summary[method][split]` of accuracy, as results.json stores it (intervals as above). */
export function summarizeAll(runs: readonly RunResult[]): Record<string, Record<SplitName, Ci>> {
  const out: Record<string, Record<SplitName, Ci>> = {};
  for (const [m, rs] of groupRuns(runs)) {
    out[m] = Object.fromEntries(SPLITS.map((s) => [s, accuracyCi(rs.map((r) => r.eval[s]))!])) as Record<SplitName, Ci>;
  }
  return out;
}
