// The shape of a results.json (bench and ablations), as a zod schema, and its checker.
// Objects are loose: a results file may carry fields the report does not read (a newer
// writer's extras must not make an older report refuse the file).
import { z } from 'zod';
import { issue, toIssues, ValidationError, type Issue } from '../util/schema.js';
import { AGGREGATE_METRICS, SPLITS, type BenchResults } from './results.js';

const RATES: ReadonlySet<string> = new Set(['accuracy', 'pass_at_k', 'grounding_fidelity', 'format_validity']);
const count = z.int().min(0);

const aggregate: Record<string, z.ZodType<number>> = {
  n: count,
  ...Object.fromEntries(AGGREGATE_METRICS.map((m) => [m, RATES.has(m) ? z.number().min(0).max(1) : z.number().min(0)])),
};

/** First-error step histogram: step index (or "none") → count. */
const hist = z.record(z.string(), z.number().min(0)).superRefine((h, ctx) => {
  for (const k of Object.keys(h)) {
    if (k !== 'none' && !/^(0|[1-9][0-9]*)$/.test(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'is not a step index or "none"' });
  }
});

const splitEval = z.looseObject({
  ...aggregate,
  first_error_hist: hist,
  by_family: z.array(z.looseObject({ family: z.string(), ...aggregate })),
  /** One character per instance of the base's instance list: 1 = correct. */
  correct: z.string().refine((s) => /^[01]*$/.test(s), 'must hold only the characters 0 and 1').optional(),
  instances: z.array(z.looseObject({ id: z.string(), family: z.string(), horizon: count })).optional(),
  by_horizon: z.array(z.looseObject({ family: z.string(), horizon: count, first_error_hist: hist, ...aggregate })),
});

const evalBlock = z.looseObject(Object.fromEntries(SPLITS.map((s) => [s, splitEval])) as Record<'test' | 'ood', typeof splitEval>);

/** Optional curve numbers may be null: JSON's rendering of NaN, treated as missing. */
const optionalNumber = z.number().nullish();

const run = z.looseObject({
  method: z.string(),
  seed: z.int(),
  run_dir: z.string(),
  wall_s: z.number().min(0),
  peak_rss_mib: z.number().min(0).optional(),
  gen_tokens_total: z.number().min(0),
  curve: z.array(z.looseObject({
    iter: z.number().min(0),
    gen_tokens_total: z.number().min(0),
    reward_mean: optionalNumber, accuracy: optionalNumber, val_accuracy: optionalNumber, ivr_flagged: optionalNumber,
    ivr_rectify_rate: optionalNumber, ivr_demo_token_frac: optionalNumber, ivr_loop_tokens: optionalNumber,
  })),
  eval: evalBlock,
});

const ci = z.looseObject({ mean: z.number(), ci_low: z.number(), ci_high: z.number(), n: count });

export const resultsSchema = z.looseObject({
  kind: z.enum(['bench', 'ablations']),
  created: z.string(),
  command: z.string(),
  commit: z.string(),
  machine: z.string(),
  budget_tokens: z.number().min(0),
  methods: z.array(z.string()).min(1),
  seeds: z.array(z.int()),
  base: z.looseObject({ eval: evalBlock }),
  runs: z.array(run),
  summary: z.record(z.string(), z.looseObject(Object.fromEntries(SPLITS.map((s) => [s, ci])) as Record<'test' | 'ood', typeof ci>)),
});

/** Checks that relate fields (run on the raw value, so they are reported with shape problems). */
function crossChecks(v: Record<string, unknown>): Issue[] {
  const out: Issue[] = [];
  const methods = Array.isArray(v.methods) ? v.methods.filter((m): m is string => typeof m === 'string') : [];
  const dup = methods.find((m, i) => methods.indexOf(m) !== i);
  if (dup !== undefined) out.push(issue('methods', `names "${dup}" twice`));
  const runs = Array.isArray(v.runs) ? v.runs as Record<string, unknown>[] : [];
  const seen = new Set<string>();
  runs.forEach((r, i) => {
    if (typeof r !== 'object' || r === null) return;
    if (typeof r.method === 'string' && methods.length && !methods.includes(r.method)) {
      out.push(issue(`runs[${i}].method`, `is "${r.method}", which is not in "methods" (${methods.join(', ')})`));
    }
    const key = `${String(r.method)}/${String(r.seed)}`;
    if (seen.has(key)) out.push(issue(`runs[${i}]`, `repeats method "${String(r.method)}" seed ${String(r.seed)}`));
    seen.add(key);
  });
  // Per-instance outcomes must line up with the base's instance list, or pairing is meaningless.
  type Ev = Record<string, { instances?: unknown[]; correct?: unknown } | undefined> | undefined;
  const base = (v.base as { eval?: Ev } | undefined)?.eval;
  for (const s of SPLITS) {
    const n = base?.[s]?.instances?.length;
    if (n === undefined) continue;
    const check = (e: { correct?: unknown } | undefined, path: string) => {
      if (typeof e?.correct === 'string' && e.correct.length !== n) out.push(issue(path, `has ${e.correct.length} outcomes but base.eval.${s}.instances lists ${n} instances`));
    };
    check(base?.[s], `base.eval.${s}.correct`);
    runs.forEach((r, i) => check((r as { eval?: Ev } | null)?.eval?.[s], `runs[${i}].eval.${s}.correct`));
  }
  return out;
}

/**
 * Checks that `json` has the shape of a results.json and returns it typed. Throws a
 * ValidationError whose message names `source` and the dotted path of every bad field, e.g.
 *   out/results.json: key "runs[2].eval.ood.accuracy" must be a number in [0, 1], got "0.5"
 */
export function validateResults(json: unknown, source: string): BenchResults {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ValidationError(source, issue('', 'the file must hold a JSON object'));
  const r = resultsSchema.safeParse(json);
  const issues = [...(r.success ? [] : toIssues(resultsSchema, json, r.error.issues)), ...crossChecks(json as Record<string, unknown>)];
  if (issues.length) throw new ValidationError(source, issues);
  return json as BenchResults;
}

/** The error `validateResults` throws: the common ValidationError (ResultsError is its former name). */
export { ValidationError as ResultsError } from '../util/schema.js';
