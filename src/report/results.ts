// The shape of a bench's results.json (written by `ivr bench`, read by `ivr report`).
//
// One file holds every run of a bench (method × seed), each run's training curve and its
// evaluation on the test and OOD splits, the base checkpoint's evaluation, and a summary of
// accuracy (mean and 95% CI over seeds) per method and split. `kind: 'ablations'` files hold
// IVR-R1 variants in place of methods; everything else is the same.
//
// Aggregates follow src/eval/evaluate.ts: rates are shares in [0, 1]; `first_error_hist`
// maps the 0-based index of the first non-ok step (or "none") to a count, where an index
// >= the instance's horizon means every gold-length step held but the answer (or an extra
// step) went wrong. Every method and seed is evaluated on the same instances; `correct`
// holds each evaluation's per-instance outcomes so that intervals can resample instances
// and differences can be paired (src/stats/bootstrap.ts).
import type { Ci } from '../stats/interval.js';

export type { Ci };
export interface Aggregate { n: number; accuracy: number; pass_at_k: number; grounding_fidelity: number; format_validity: number; mean_length: number }
export interface SplitEval extends Aggregate {
  first_error_hist: Record<string, number>;
  by_family: ({ family: string } & Aggregate)[];
  by_horizon: ({ family: string; horizon: number; first_error_hist: Record<string, number> } & Aggregate)[];
  /** Per-instance outcomes ('1' correct), in the order of the base evaluation's `instances`. */
  correct?: string;
  /** The evaluated instances, in outcome order (kept on the base evaluation only). */
  instances?: { id: string; family: string; horizon: number }[];
}
export interface CurvePoint { iter: number; gen_tokens_total: number; reward_mean?: number; accuracy?: number; val_accuracy?: number; ivr_flagged?: number; ivr_rectify_rate?: number; ivr_demo_token_frac?: number; ivr_loop_tokens?: number; [k: string]: unknown }
export interface RunResult { method: string; seed: number; run_dir: string; wall_s: number; /** Largest peak RSS of the run's processes (MiB), where measured. */ peak_rss_mib?: number; gen_tokens_total: number; curve: CurvePoint[]; eval: { test: SplitEval; ood: SplitEval } }
export interface BenchResults { kind: 'bench' | 'ablations'; created: string; command: string; commit: string; machine: string; budget_tokens: number; methods: string[]; seeds: number[]; base: { eval: { test: SplitEval; ood: SplitEval } }; runs: RunResult[]; summary: Record<string, Record<'test' | 'ood', Ci>> }

export type SplitName = 'test' | 'ood';
export const SPLITS: readonly SplitName[] = ['test', 'ood'];
/** The numeric fields of an Aggregate, in table order. */
export const AGGREGATE_METRICS = ['accuracy', 'pass_at_k', 'grounding_fidelity', 'format_validity', 'mean_length'] as const;
export type AggregateMetric = (typeof AGGREGATE_METRICS)[number];

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
