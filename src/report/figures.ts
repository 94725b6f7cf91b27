// The report's figures as data: a bench's results in, the numbers and series each section of
// the page shows out (intervals, curves, per-horizon points, erosion shares, diagnostics).
// No markup here: html.ts lays these out, palette.ts colours them, and every accuracy
// interval comes from compare.ts, the one place that chooses how an interval is computed.
import { meanCi } from '../stats/interval.js';
import type { ColumnFacts } from './claims.js';
import { accuracyCi, accuracyDiffCi, type InstanceScope } from './compare.js';
import {
  groupRuns, SPLITS,
  type AggregateMetric, type BenchResults, type Ci, type CurvePoint, type RunResult, type SplitEval, type SplitName,
} from './results.js';

/** The name the base checkpoint's evaluation goes by among the methods. */
export const BASE = 'base';

/** A point of a series: y null breaks a line; lo/hi are its 95% interval where there is one. */
export interface Point { x: number; y: number | null; lo?: number; hi?: number }

/** A bench's results with its runs grouped by method and the reference method chosen. */
export interface Bench {
  results: BenchResults;
  /** The declared methods, then any others that have runs. */
  methods: string[];
  byMethod: Map<string, RunResult[]>;
  /** The method every other is compared with (null: none, compare with the base only). */
  ref: string | null;
  /** Bootstrap intervals are not free: each (method, column) pair is computed once. */
  memo: Map<string, Ci | null>;
}

export function benchOf(results: BenchResults, reference?: string): Bench {
  const byMethod = groupRuns(results.runs);
  const methods = [...results.methods, ...[...byMethod.keys()].filter((m) => !results.methods.includes(m))];
  const ref = reference ?? (methods.includes('ivr') ? 'ivr' : null);
  return { results, methods, byMethod, ref, memo: new Map() };
}

export function runsOf(b: Bench, m: string): RunResult[] {
  return m === BASE ? [] : b.byMethod.get(m) ?? [];
}

/** The methods that have runs, in page order. */
export function withRuns(b: Bench): string[] {
  return b.methods.filter((m) => runsOf(b, m).length > 0);
}

/** The evaluations of method m on one split: one per seed (the base: its single evaluation). */
export function evaluationsOf(b: Bench, m: string, split: SplitName): SplitEval[] {
  return m === BASE ? [b.results.base.eval[split]] : runsOf(b, m).map((r) => r.eval[split]);
}

function memo(b: Bench, key: string, f: () => Ci | null): Ci | null {
  if (!b.memo.has(key)) b.memo.set(key, f());
  return b.memo.get(key)!;
}

// ---------------------------------------------------------------------------------------
// headline and tables

export interface Column { id: string; title: string; split: SplitName; scope: InstanceScope }
export const HEADLINE_COLUMNS: readonly Column[] = [
  { id: 'test', title: 'test', split: 'test', scope: 'all' },
  { id: 'test-long', title: 'test, long half of horizons', split: 'test', scope: 'long' },
  { id: 'ood', title: 'OOD (longer horizons)', split: 'ood', scope: 'all' },
];

/** Mean accuracy of method m in a headline column, with its 95% interval. */
export function columnCi(b: Bench, m: string, col: Column): Ci | null {
  return memo(b, `ci/${m}/${col.id}`, () => accuracyCi(evaluationsOf(b, m, col.split), col.scope, b.results.base.eval[col.split].instances));
}

/** Accuracy of method a minus method b in a headline column, with its 95% interval. */
export function columnDiff(b: Bench, a: string, other: string, col: Column): Ci | null {
  return memo(b, `diff/${a}/${other}/${col.id}`, () => accuracyDiffCi(evaluationsOf(b, a, col.split), evaluationsOf(b, other, col.split), col.scope, b.results.base.eval[col.split].instances));
}

/**
 * What the headline says of one column: the base, every method with runs placed against it,
 * and the reference method against the strongest other method (by mean).
 */
export function columnFacts(b: Bench, col: Column, label: (m: string) => string): ColumnFacts {
  const base = columnCi(b, BASE, col);
  const standings = withRuns(b).map((m) => ({ m, ci: columnCi(b, m, col) }))
    .filter((x): x is { m: string; ci: Ci } => x.ci !== null)
    .map((x) => ({ m: x.m, label: label(x.m), ci: x.ci, vsBase: base ? columnDiff(b, x.m, BASE, col) : null }));
  let reference: ColumnFacts['reference'] = null;
  const ref = b.ref;
  if (ref !== null && withRuns(b).includes(ref)) {
    const strongest = standings.filter((x) => x.m !== ref).sort((p, q) => q.ci.mean - p.ci.mean)[0];
    const d = strongest ? columnDiff(b, ref, strongest.m, col) : null;
    reference = { label: label(ref), vs: strongest && d ? { label: strongest.label, d } : null };
  }
  return { title: col.title, base, standings, reference };
}

/** A metric of method m on a split: accuracy as compare.ts intervals it, others Student t over seeds. */
export function metricCi(b: Bench, m: string, split: SplitName, metric: AggregateMetric): Ci | null {
  const evals = evaluationsOf(b, m, split);
  if (metric === 'accuracy') return accuracyCi(evals);
  const xs = evals.map((e) => e[metric]).filter((v) => Number.isFinite(v));
  return xs.length ? meanCi(xs) : null;
}

/** Generated rollout tokens per run of method m, mean over seeds (null: no runs). */
export function meanRolloutTokens(b: Bench, m: string): number | null {
  const runs = runsOf(b, m);
  return runs.length ? runs.reduce((a, r) => a + r.gen_tokens_total, 0) / runs.length : null;
}

// ---------------------------------------------------------------------------------------
// accuracy vs rollout tokens

function interp(pts: { x: number; y: number }[], x: number): number {
  if (x <= pts[0]!.x) return pts[0]!.y;
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!;
    const b = pts[i]!;
    if (x <= b.x) return b.x === a.x ? b.y : a.y + ((x - a.x) / (b.x - a.x)) * (b.y - a.y);
  }
  return pts[pts.length - 1]!.y;
}

/**
 * The mean over seeds of curves sampled at different x: each seed is linearly interpolated on
 * a common grid spanning the x range all seeds cover (falling back to the whole range when
 * they do not overlap).
 */
export function meanCurve(curves: { x: number; y: number }[][]): Point[] {
  const cs = curves.map((c) => [...c].sort((a, b) => a.x - b.x)).filter((c) => c.length > 0);
  if (!cs.length) return [];
  if (cs.length === 1) return cs[0]!.map((p) => ({ x: p.x, y: p.y }));
  let lo = Math.max(...cs.map((c) => c[0]!.x));
  let hi = Math.min(...cs.map((c) => c[c.length - 1]!.x));
  if (!(hi > lo)) { lo = Math.min(...cs.map((c) => c[0]!.x)); hi = Math.max(...cs.map((c) => c[c.length - 1]!.x)); }
  if (!(hi > lo)) return [{ x: lo, y: cs.reduce((a, c) => a + c[0]!.y, 0) / cs.length }];
  const k = Math.max(2, Math.min(80, Math.max(...cs.map((c) => c.length))));
  const out: Point[] = [];
  for (let i = 0; i < k; i++) {
    const x = lo + ((hi - lo) * i) / (k - 1);
    out.push({ x, y: cs.reduce((a, c) => a + interp(c, x), 0) / cs.length });
  }
  return out;
}

function curveOf(r: RunResult, key: string): { x: number; y: number }[] {
  return r.curve.flatMap((p: CurvePoint) => {
    const v = p[key];
    return typeof v === 'number' && Number.isFinite(v) ? [{ x: p.gen_tokens_total, y: v }] : [];
  });
}

/** A training-curve metric of method m against rollout tokens, mean over seeds. */
export function tokenCurve(b: Bench, m: string, key: string): Point[] {
  return meanCurve(runsOf(b, m).map((r) => curveOf(r, key)));
}

// ---------------------------------------------------------------------------------------
// by horizon

/** Every family with per-horizon rows, in order of first appearance. */
export function families(b: Bench): string[] {
  const out: string[] = [];
  const add = (e: SplitEval) => { for (const h of e.by_horizon) if (!out.includes(h.family)) out.push(h.family); };
  for (const s of SPLITS) add(b.results.base.eval[s]);
  for (const r of b.results.runs) for (const s of SPLITS) add(r.eval[s]);
  return out;
}

/** The horizons of a family on a split, ascending. */
export function horizons(b: Bench, family: string, split: SplitName): number[] {
  const hs = new Set<number>();
  const evals = [b.results.base.eval[split], ...b.results.runs.map((r) => r.eval[split])];
  for (const e of evals) for (const h of e.by_horizon) if (h.family === family) hs.add(h.horizon);
  return [...hs].sort((a, b) => a - b);
}

function horizonValue(e: SplitEval, family: string, horizon: number, metric: AggregateMetric): number | null {
  const h = e.by_horizon.find((x) => x.family === family && x.horizon === horizon);
  return h && h.n > 0 ? h[metric] : null;
}

/**
 * Instances behind one panel's points: the smallest and largest n of any (horizon, evaluation)
 * of the family on the given splits. A per-horizon point over a dozen instances jumps by 8
 * points per instance, so each panel says how few there are.
 */
export function horizonInstanceRange(b: Bench, family: string, splits: readonly SplitName[]): [number, number] | null {
  const ns: number[] = [];
  for (const m of [BASE, ...b.methods]) {
    for (const s of splits) for (const e of evaluationsOf(b, m, s)) for (const h of e.by_horizon) if (h.family === family && h.n > 0) ns.push(h.n);
  }
  return ns.length ? [Math.min(...ns), Math.max(...ns)] : null;
}

/** A metric of method m at one (family, horizon): mean over seeds with its 95% interval. */
export function horizonPoint(b: Bench, m: string, split: SplitName, family: string, horizon: number, metric: AggregateMetric): Point {
  const xs = evaluationsOf(b, m, split).map((e) => horizonValue(e, family, horizon, metric)).filter((v): v is number => v !== null);
  if (!xs.length) return { x: horizon, y: null };
  const ci = meanCi(xs);
  return { x: horizon, y: ci.mean, lo: ci.ci_low, hi: ci.ci_high };
}

// ---------------------------------------------------------------------------------------
// erosion curves

export const EROSION_BUCKETS = [
  { label: 'first error in steps 0–25%', color: '#3f007d' },
  { label: '25–50%', color: '#6a51a3' },
  { label: '50–75%', color: '#9e9ac8' },
  { label: '75–100%', color: '#cbc9e2' },
  { label: 'after the last step (answer or extra step)', color: '#F0E442' },
  { label: 'no error', color: '#009E73' },
] as const;

/** Counts of (first-error index / horizon, or none) pooled over evaluations, as [relative position, count]. */
function firstErrors(evals: SplitEval[]): { rel: number | null; count: number }[] {
  const out: { rel: number | null; count: number }[] = [];
  for (const e of evals) {
    for (const h of e.by_horizon) {
      for (const [k, n] of Object.entries(h.first_error_hist)) {
        if (!(n > 0)) continue;
        out.push({ rel: k === 'none' ? null : Number(k) / Math.max(1, h.horizon), count: n });
      }
    }
  }
  return out;
}

/** Shares of the EROSION_BUCKETS (relative position of the first error). */
export function erosionBuckets(evals: SplitEval[]): number[] {
  const b = EROSION_BUCKETS.map(() => 0);
  for (const { rel, count } of firstErrors(evals)) {
    const i = rel === null ? 5 : rel >= 1 ? 4 : Math.min(3, Math.floor(rel * 4));
    b[i]! += count;
  }
  const total = b.reduce((a, x) => a + x, 0);
  return total ? b.map((x) => x / total) : b;
}

/** Survival: share of responses whose first error comes at or after relative position p. */
export function erosionCurve(evals: SplitEval[], steps = 20): Point[] {
  const fe = firstErrors(evals);
  const total = fe.reduce((a, x) => a + x.count, 0);
  if (!total) return [];
  const out: Point[] = [];
  for (let i = 0; i <= steps; i++) {
    const p = i / steps;
    const alive = fe.reduce((a, x) => a + (x.rel === null || x.rel >= p - 1e-9 ? x.count : 0), 0);
    out.push({ x: p, y: alive / total });
  }
  // the last point: no error at all
  out.push({ x: 1.12, y: fe.reduce((a, x) => a + (x.rel === null ? x.count : 0), 0) / total });
  return out;
}

// ---------------------------------------------------------------------------------------
// IVR-R1 diagnostics

export const IVR_PANELS = [
  { key: 'ivr_flagged', title: 'Rollouts flagged for re-reasoning', y: 'flagged per iteration', share: false },
  { key: 'ivr_rectify_rate', title: 'Rectification success rate', y: 'rectified / attempted', share: true },
  { key: 'ivr_demo_token_frac', title: 'Demonstration-token share of the update', y: 'demo tokens / all tokens', share: true },
  { key: 'ivr_loop_tokens', title: 'Re-Reasoning Loop tokens', y: 'tokens per iteration', share: false },
] as const;
export type IvrKey = (typeof IVR_PANELS)[number]['key'];

/** The methods whose runs log IVR-R1 diagnostics. */
export function ivrMethods(b: Bench): string[] {
  return b.methods.filter((m) => runsOf(b, m).some((r) => r.curve.some((p) => IVR_PANELS.some((k) => typeof p[k.key] === 'number'))));
}

/** One diagnostic of method m per training iteration: each seed's curve and their mean. */
export function ivrCurves(b: Bench, m: string, key: IvrKey): { seeds: { seed: number; points: Point[] }[]; mean: Point[] } {
  const seeds: { seed: number; points: Point[] }[] = [];
  const perIter = new Map<number, number[]>();
  for (const r of runsOf(b, m)) {
    const pts = r.curve.flatMap((p) => (typeof p[key] === 'number' && Number.isFinite(p[key]) ? [{ x: p.iter, y: p[key] as number }] : []));
    if (pts.length) seeds.push({ seed: r.seed, points: pts });
    for (const p of pts) perIter.set(p.x, [...(perIter.get(p.x) ?? []), p.y]);
  }
  const mean = [...perIter.entries()].sort((a, b) => a[0] - b[0]).map(([x, ys]) => ({ x, y: ys.reduce((a, b) => a + b, 0) / ys.length }));
  return { seeds, mean };
}
