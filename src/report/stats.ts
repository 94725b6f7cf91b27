// Means and 95% confidence intervals over seeds (Student's t) and the grouping of a bench's runs by
// method (the shape check of a results.json is re-exported from results-schema.ts).
import { studentTQuantile } from './student-t.js';
import type { Ci, RunResult } from './results.js';

/**
 * t_{0.975, df}, exact for every df (fractional Welch df included): the two-sided 95%
 * quantile of Student's t.
 */
export function t975(df: number): number {
  if (!(df >= 1)) throw new RangeError(`t975: degrees of freedom must be >= 1, got ${df}`);
  return studentTQuantile(0.975, df);
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new RangeError('mean of no values');
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Sample variance (n - 1 in the denominator); 0 for a single value. */
export function variance(xs: readonly number[]): number {
  if (xs.length < 2) return 0;
  const m = mean(xs);
  return xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1);
}

/**
 * Mean and 95% CI `mean ± t_{0.975, n-1} · s / √n`. With a single value there is no spread to
 * estimate: the interval is [mean, mean] and `n: 1` says so (`hasInterval` is false; the report prints "single seed, no interval").
 */
export function meanCi(xs: readonly number[]): Ci {
  const n = xs.length;
  const m = mean(xs);
  if (n === 1) return { mean: m, ci_low: m, ci_high: m, n };
  const half = t975(n - 1) * Math.sqrt(variance(xs) / n);
  return { mean: m, ci_low: m - half, ci_high: m + half, n };
}

/**
 * Mean difference mean(a) − mean(b) with a Welch 95% CI (unequal variances,
 * Welch–Satterthwaite df). When either side has one value, or neither varies, the interval
 * collapses to the difference. `n` is the smaller sample size.
 */
export function diffCi(a: readonly number[], b: readonly number[]): Ci {
  const d = mean(a) - mean(b);
  const n = Math.min(a.length, b.length);
  if (a.length < 2 || b.length < 2) return { mean: d, ci_low: d, ci_high: d, n };
  const va = variance(a) / a.length;
  const vb = variance(b) / b.length;
  const se2 = va + vb;
  if (se2 === 0) return { mean: d, ci_low: d, ci_high: d, n };
  const df = se2 ** 2 / ((va ** 2) / (a.length - 1) + (vb ** 2) / (b.length - 1));
  const half = t975(Math.max(1, df)) * Math.sqrt(se2);
  return { mean: d, ci_low: d - half, ci_high: d + half, n };
}

/** Whether an interval has an actual width to show (n >= 2). */
export function hasInterval(ci: Ci): boolean {
  return ci.n >= 2;
}

/** Runs grouped by method, in order of first appearance, each group sorted by seed. */
export function groupRuns(runs: readonly RunResult[]): Map<string, RunResult[]> {
  const by = new Map<string, RunResult[]>();
  for (const r of runs) {
    const g = by.get(r.method);
    if (g) g.push(r); else by.set(r.method, [r]);
  }
  for (const g of by.values()) g.sort((a, b) => a.seed - b.seed);
  return by;
}

// The shape check of a results.json lives in results-schema.ts; its error is the common
// ValidationError (ResultsError is its former name).
export { validateResults } from './results-schema.js';
export { ValidationError as ResultsError } from '../util/schema.js';
