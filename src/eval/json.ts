// The JSON shape of `ivr eval --json` (also read back by the bench): overall aggregates,
// by_horizon rows tagged with their split, and a by_split breakdown with per-instance outcomes.
import { aggregate, firstErrorHist, outcomeString, type EvalReport } from './evaluate.js';

export function evalJson(reports: { split: string; report: EvalReport }[], withResults = false): Record<string, unknown> {
  const all = reports.flatMap((r) => r.report.results);
  const samples = reports[0]?.report.samples ?? 1;
  return {
    samples,
    temperature: reports[0]?.report.temperature ?? 0,
    ...aggregate(all),
    first_error_hist: firstErrorHist(all),
    by_horizon: reports.flatMap((r) => r.report.by_horizon.map((h) => ({ split: r.split, ...h }))),
    // `correct` and `instances` (same order) let a bench pair methods instance by instance
    by_split: Object.fromEntries(reports.map((r) => [r.split, {
      ...strip(r.report), by_family: r.report.by_family,
      correct: outcomeString(r.report.results),
      instances: r.report.results.map((x) => ({ id: x.id, family: x.family, horizon: x.horizon })),
    }])),
    ...(withResults ? { results: reports.flatMap((r) => r.report.results.map((x) => ({ split: r.split, ...x }))) } : {}),
  };
}

function strip(r: EvalReport): Omit<EvalReport, 'results' | 'by_horizon' | 'by_family'> {
  const { results: _r, by_horizon: _h, by_family: _f, ...rest } = r;
  return rest;
}
