// Means and 95% confidence intervals: Student's t for a mean, Welch for a difference of
// means, Wilson for a proportion. Plain numbers in, intervals out; nothing here knows a
// bench or an evaluation (the report and eval both import it).
import { studentTQuantile } from './student-t.js';

/** A mean with its 95% interval; `n` is the sample size it rests on. */
export interface Ci { mean: number; ci_low: number; ci_high: number; n: number }

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

/** Wilson score 95% interval of a proportion (one policy, `n` independent instances). */
export function wilson95(correct: number, n: number): { low: number; high: number } {
  if (n === 0) return { low: 0, high: 0 };
  const z = 1.959963984540054;
  const p = correct / n;
  const den = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / den;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / den;
  // Clamped to contain p: at p = 0 or 1 rounding can leave the bound a hair on the wrong side.
  return { low: Math.min(p, Math.max(0, centre - half)), high: Math.max(p, Math.min(1, centre + half)) };
}
