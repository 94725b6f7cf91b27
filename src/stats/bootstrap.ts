// Intervals over instances AND seeds for accuracies evaluated on a fixed instance set.
//
// A bench evaluates every method and seed on the same instances, so accuracy varies for two
// reasons: which instances were drawn (the instance set is a sample of the task
// distribution) and which seed trained the policy. A seed-only t interval ignores the first
// and, with 3 seeds, is either enormous or zero-width. The two-level bootstrap below
// resamples instances (once per replicate, shared by both methods of a difference: that is
// the pairing) and, independently, each method's seeds. Percentile intervals, a fixed RNG
// seed, so a report is reproducible.
//
// Outcomes are 0/1 strings, one character per instance, one string per seed, all in the
// instance order of the evaluation (see `SplitEval.correct` in src/report/results.ts).
import { Rng } from '../util/rng.js';
import type { Ci } from './interval.js';

export interface BootstrapOptions {
  /** Instance indices to use (e.g. the long-horizon half); default all. */
  subset?: readonly number[];
  /** Bootstrap replicates. */
  reps?: number;
  seed?: number;
}

const DEFAULT_REPS = 2000;
const DEFAULT_SEED = 20261202;

function matrix(seeds: readonly string[], what: string): Uint8Array[] {
  if (seeds.length === 0) throw new RangeError(`${what}: no seeds`);
  const n = seeds[0]!.length;
  return seeds.map((s, k) => {
    if (s.length !== n) throw new RangeError(`${what}: seed ${k} has ${s.length} outcomes, seed 0 has ${n}`);
    const row = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const ch = s.charCodeAt(i);
      if (ch !== 48 && ch !== 49) throw new RangeError(`${what}: outcome ${i} of seed ${k} is "${s[i]}", not 0 or 1`);
      row[i] = ch - 48;
    }
    return row;
  });
}

/** Per-instance mean over seeds, seed k counted weights[k] times. */
function seedMean(rows: Uint8Array[], weights: Uint32Array, subset: readonly number[], out: Float64Array): void {
  let total = 0;
  for (let k = 0; k < rows.length; k++) total += weights[k]!;
  for (let j = 0; j < subset.length; j++) {
    const i = subset[j]!;
    let s = 0;
    for (let k = 0; k < rows.length; k++) if (weights[k]) s += weights[k]! * rows[k]![i]!;
    out[j] = s / total;
  }
}

function drawWeights(rng: Rng, m: number, w: Uint32Array): void {
  w.fill(0);
  for (let k = 0; k < m; k++) w[rng.nextU32() % m]!++;
}

function percentile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

function point(rows: Uint8Array[], subset: readonly number[]): number {
  let s = 0;
  for (const row of rows) for (const i of subset) s += row[i]!;
  return s / (rows.length * subset.length);
}

function run(groups: Uint8Array[][], sign: number[], opts: BootstrapOptions): Ci {
  const n = groups[0]![0]!.length;
  const subset = opts.subset ?? Array.from({ length: n }, (_, i) => i);
  if (subset.length === 0) throw new RangeError('bootstrap: empty instance subset');
  const reps = opts.reps ?? DEFAULT_REPS;
  const rng = new Rng(opts.seed ?? DEFAULT_SEED);
  const weights = groups.map((g) => new Uint32Array(g.length));
  const perInstance = groups.map(() => new Float64Array(subset.length));
  const stats = new Float64Array(reps);
  const draw = new Uint32Array(subset.length);
  for (let r = 0; r < reps; r++) {
    for (let j = 0; j < subset.length; j++) draw[j] = rng.nextU32() % subset.length;
    let value = 0;
    groups.forEach((rows, g) => {
      drawWeights(rng, rows.length, weights[g]!);
      seedMean(rows, weights[g]!, subset, perInstance[g]!);
      let s = 0;
      for (let j = 0; j < draw.length; j++) s += perInstance[g]![draw[j]!]!;
      value += sign[g]! * (s / draw.length);
    });
    stats[r] = value;
  }
  stats.sort();
  const mean = groups.reduce((a, rows, g) => a + sign[g]! * point(rows, subset), 0);
  return { mean, ci_low: percentile(stats, 0.025), ci_high: percentile(stats, 0.975), n: subset.length };
}

/** Mean accuracy over seeds and instances, with a 95% interval over both. */
export function bootstrapAccuracy(seeds: readonly string[], opts: BootstrapOptions = {}): Ci {
  return run([matrix(seeds, 'bootstrapAccuracy')], [1], opts);
}

/**
 * Accuracy of A minus accuracy of B on the same instances (paired: one instance resample per
 * replicate serves both), each method's seeds resampled independently.
 */
export function bootstrapPairedDiff(a: readonly string[], b: readonly string[], opts: BootstrapOptions = {}): Ci {
  const ma = matrix(a, 'bootstrapPairedDiff (first)');
  const mb = matrix(b, 'bootstrapPairedDiff (second)');
  if (ma[0]!.length !== mb[0]!.length) {
    throw new RangeError(`bootstrapPairedDiff: the two sides have ${ma[0]!.length} and ${mb[0]!.length} instances; a paired difference needs the same instances`);
  }
  return run([ma, mb], [1, -1], opts);
}
