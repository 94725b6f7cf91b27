// Means and 95% confidence intervals over seeds (Student's t), per-method summaries of a
// bench, and the shape check of a results.json.
import { show } from '../util/schema.js';
import { studentTQuantile } from './student-t.js';
import {
  AGGREGATE_METRICS, SPLITS,
  type AggregateMetric, type BenchResults, type Ci, type RunResult, type SplitName,
} from './results.js';

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

/**
 * Per method (in order of first appearance), the mean and 95% CI over seeds of one metric of
 * the final evaluation on `split` (accuracy by default).
 */
export function summarize(runs: readonly RunResult[], split: SplitName, metric: AggregateMetric = 'accuracy'): Record<string, Ci> {
  const by = groupRuns(runs);
  const out: Record<string, Ci> = {};
  for (const [method, rs] of by) out[method] = meanCi(rs.map((r) => r.eval[split][metric]));
  return out;
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

// ---------------------------------------------------------------------------------------
// results.json shape check

/** A results.json that does not have the expected shape; the message names every bad field. */
export class ResultsError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(problems.length === 1
      ? `${source}: ${problems[0]}`
      : `${source}: ${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ResultsError';
  }
}

const MAX_PROBLEMS = 20;

class Checker {
  readonly problems: string[] = [];
  private more = 0;

  bad(path: string, expected: string, value: unknown): void {
    if (this.problems.length >= MAX_PROBLEMS) { this.more++; return; }
    this.problems.push(`key "${path}" must be ${expected}, got ${show(value)}`);
  }

  note(path: string, detail: string): void {
    if (this.problems.length >= MAX_PROBLEMS) { this.more++; return; }
    this.problems.push(`key "${path}" ${detail}`);
  }

  finish(): string[] {
    return this.more ? [...this.problems, `... and ${this.more} more`] : this.problems;
  }

  object(v: unknown, path: string): v is Record<string, unknown> {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return true;
    this.bad(path, 'an object', v);
    return false;
  }

  array(v: unknown, path: string): v is unknown[] {
    if (Array.isArray(v)) return true;
    this.bad(path, 'an array', v);
    return false;
  }

  string(v: unknown, path: string): v is string {
    if (typeof v === 'string') return true;
    this.bad(path, 'a string', v);
    return false;
  }

  number(v: unknown, path: string, opts: { min?: number; max?: number; integer?: boolean } = {}): v is number {
    const { min, max, integer } = opts;
    const ok = typeof v === 'number' && Number.isFinite(v) && (!integer || Number.isInteger(v))
      && (min === undefined || v >= min) && (max === undefined || v <= max);
    if (ok) return true;
    let what = integer ? 'an integer' : 'a number';
    if (min !== undefined && max !== undefined) what += ` in [${min}, ${max}]`;
    else if (min !== undefined) what += ` >= ${min}`;
    this.bad(path, what, v);
    return false;
  }
}

const RATES: ReadonlySet<string> = new Set(['accuracy', 'pass_at_k', 'grounding_fidelity', 'format_validity']);

function checkAggregate(c: Checker, v: Record<string, unknown>, path: string): void {
  c.number(v.n, `${path}.n`, { min: 0, integer: true });
  for (const m of AGGREGATE_METRICS) {
    c.number(v[m], `${path}.${m}`, RATES.has(m) ? { min: 0, max: 1 } : { min: 0 });
  }
}

function checkHist(c: Checker, v: unknown, path: string): void {
  if (!c.object(v, path)) return;
  for (const [k, x] of Object.entries(v)) {
    if (k !== 'none' && !/^(0|[1-9][0-9]*)$/.test(k)) c.note(`${path}.${k}`, 'is not a step index or "none"');
    c.number(x, `${path}.${k}`, { min: 0 });
  }
}

function checkSplitEval(c: Checker, v: unknown, path: string): void {
  if (!c.object(v, path)) return;
  checkAggregate(c, v, path);
  checkHist(c, v.first_error_hist, `${path}.first_error_hist`);
  if (c.array(v.by_family, `${path}.by_family`)) {
    v.by_family.forEach((f, i) => {
      const p = `${path}.by_family[${i}]`;
      if (!c.object(f, p)) return;
      c.string(f.family, `${p}.family`);
      checkAggregate(c, f, p);
    });
  }
  if (v.correct !== undefined && c.string(v.correct, `${path}.correct`) && !/^[01]*$/.test(v.correct)) {
    c.note(`${path}.correct`, 'must hold only the characters 0 and 1');
  }
  if (v.instances !== undefined && c.array(v.instances, `${path}.instances`)) {
    v.instances.forEach((x, i) => {
      const p = `${path}.instances[${i}]`;
      if (!c.object(x, p)) return;
      c.string(x.id, `${p}.id`);
      c.string(x.family, `${p}.family`);
      c.number(x.horizon, `${p}.horizon`, { min: 0, integer: true });
    });
  }
  if (c.array(v.by_horizon, `${path}.by_horizon`)) {
    v.by_horizon.forEach((h, i) => {
      const p = `${path}.by_horizon[${i}]`;
      if (!c.object(h, p)) return;
      c.string(h.family, `${p}.family`);
      c.number(h.horizon, `${p}.horizon`, { min: 0, integer: true });
      checkHist(c, h.first_error_hist, `${p}.first_error_hist`);
      checkAggregate(c, h, p);
    });
  }
}

function checkEval(c: Checker, v: unknown, path: string): void {
  if (!c.object(v, path)) return;
  for (const s of SPLITS) checkSplitEval(c, v[s], `${path}.${s}`);
}

/** Per-instance outcomes must line up with the base's instance list, or pairing is meaningless. */
function checkOutcomeLengths(c: Checker, v: Record<string, unknown>): void {
  const base = (v.base as { eval?: Record<string, { instances?: unknown[]; correct?: unknown }> } | undefined)?.eval;
  for (const s of SPLITS) {
    const n = base?.[s]?.instances?.length;
    if (n === undefined) continue;
    const check = (e: { correct?: unknown } | undefined, path: string) => {
      if (typeof e?.correct === 'string' && e.correct.length !== n) c.note(path, `has ${e.correct.length} outcomes but base.eval.${s}.instances lists ${n} instances`);
    };
    check(base?.[s], `base.eval.${s}.correct`);
    if (Array.isArray(v.runs)) v.runs.forEach((r, i) => check((r as { eval?: Record<string, { correct?: unknown }> })?.eval?.[s], `runs[${i}].eval.${s}.correct`));
  }
}

const OPTIONAL_CURVE_NUMBERS = ['reward_mean', 'accuracy', 'val_accuracy', 'ivr_flagged', 'ivr_rectify_rate', 'ivr_demo_token_frac', 'ivr_loop_tokens'] as const;

function checkCi(c: Checker, v: unknown, path: string): void {
  if (!c.object(v, path)) return;
  for (const k of ['mean', 'ci_low', 'ci_high'] as const) c.number(v[k], `${path}.${k}`);
  c.number(v.n, `${path}.n`, { min: 0, integer: true });
}

/**
 * Checks that `json` has the shape of a results.json and returns it typed. Throws a
 * ResultsError whose message names `source` and the dotted path of every bad field, e.g.
 *   out/results.json: key "runs[2].eval.ood.accuracy" must be a number in [0, 1], got "0.5"
 * Optional curve fields may be null (JSON's rendering of NaN) and are then treated as missing.
 */
export function validateResults(json: unknown, source: string): BenchResults {
  const c = new Checker();
  if (!c.object(json, '(top level)')) throw new ResultsError(source, ['the file must hold a JSON object']);
  const v = json;
  if (v.kind !== 'bench' && v.kind !== 'ablations') c.bad('kind', '"bench" or "ablations"', v.kind);
  for (const k of ['created', 'command', 'commit', 'machine'] as const) c.string(v[k], k);
  c.number(v.budget_tokens, 'budget_tokens', { min: 0 });
  let methods: string[] = [];
  if (c.array(v.methods, 'methods')) {
    if (v.methods.length === 0) c.note('methods', 'must name at least one method');
    v.methods.forEach((m, i) => { if (c.string(m, `methods[${i}]`)) methods.push(m); });
    const dup = methods.find((m, i) => methods.indexOf(m) !== i);
    if (dup !== undefined) c.note('methods', `names "${dup}" twice`);
  } else methods = [];
  if (c.array(v.seeds, 'seeds')) v.seeds.forEach((s, i) => c.number(s, `seeds[${i}]`, { integer: true }));
  if (c.object(v.base, 'base')) checkEval(c, v.base.eval, 'base.eval');
  if (c.array(v.runs, 'runs')) {
    const seen = new Set<string>();
    v.runs.forEach((r, i) => {
      const p = `runs[${i}]`;
      if (!c.object(r, p)) return;
      if (c.string(r.method, `${p}.method`) && methods.length && !methods.includes(r.method)) {
        c.note(`${p}.method`, `is "${r.method}", which is not in "methods" (${methods.join(', ')})`);
      }
      c.number(r.seed, `${p}.seed`, { integer: true });
      const key = `${String(r.method)}/${String(r.seed)}`;
      if (seen.has(key)) c.note(p, `repeats method "${String(r.method)}" seed ${String(r.seed)}`);
      seen.add(key);
      c.string(r.run_dir, `${p}.run_dir`);
      c.number(r.wall_s, `${p}.wall_s`, { min: 0 });
      c.number(r.gen_tokens_total, `${p}.gen_tokens_total`, { min: 0 });
      if (c.array(r.curve, `${p}.curve`)) {
        r.curve.forEach((pt, j) => {
          const q = `${p}.curve[${j}]`;
          if (!c.object(pt, q)) return;
          c.number(pt.iter, `${q}.iter`, { min: 0 });
          c.number(pt.gen_tokens_total, `${q}.gen_tokens_total`, { min: 0 });
          for (const k of OPTIONAL_CURVE_NUMBERS) {
            if (pt[k] !== undefined && pt[k] !== null) c.number(pt[k], `${q}.${k}`);
          }
        });
      }
      checkEval(c, r.eval, `${p}.eval`);
    });
  }
  checkOutcomeLengths(c, v);
  if (c.object(v.summary, 'summary')) {
    for (const [m, s] of Object.entries(v.summary)) {
      if (!c.object(s, `summary.${m}`)) continue;
      for (const sp of SPLITS) checkCi(c, s[sp], `summary.${m}.${sp}`);
    }
  }
  const problems = c.finish();
  if (problems.length) throw new ResultsError(source, problems);
  return json as unknown as BenchResults;
}
