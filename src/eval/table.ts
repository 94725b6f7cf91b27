// Plain-text tables of evaluation reports for the terminal and the README: accuracy with its
// 95% interval over instances, and the erosion curve (where chains first go wrong) by horizon.
import type { EvalReport } from './evaluate.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const acc = (a: { accuracy: number; accuracy_ci: [number, number] }) => `${pct(a.accuracy)} [${(100 * a.accuracy_ci[0]).toFixed(1)}, ${(100 * a.accuracy_ci[1]).toFixed(1)}]`;

export function formatEvalTable(reports: { split: string; report: EvalReport }[]): string {
  const lines: string[] = [];
  const k = reports[0]?.report.samples ?? 1;
  lines.push(`| split | family | horizons | n | accuracy [95% CI]${k > 1 ? ` | pass@${k}` : ''} | grounding | format | mean len |`);
  lines.push(`|---|---|---|---|---|${k > 1 ? '---|' : ''}---|---|---|`);
  for (const { split, report } of reports) {
    for (const f of report.by_family) {
      const hs = report.by_horizon.filter((h) => h.family === f.family).map((h) => h.horizon);
      lines.push(`| ${split} | ${f.family} | ${Math.min(...hs)}-${Math.max(...hs)} | ${f.n} | ${acc(f)}${k > 1 ? ` | ${pct(f.pass_at_k)}` : ''} | ${pct(f.grounding_fidelity)} | ${pct(f.format_validity)} | ${f.mean_length.toFixed(0)} |`);
    }
    lines.push(`| ${split} | **all** | | ${report.n} | **${acc(report)}**${k > 1 ? ` | ${pct(report.pass_at_k)}` : ''} | ${pct(report.grounding_fidelity)} | ${pct(report.format_validity)} | ${report.mean_length.toFixed(0)} |`);
  }
  return lines.join('\n');
}

/** Steps shown one by one in the erosion table; later first errors share the last column. */
const EROSION_STEPS = 4;

/**
 * The erosion curve by horizon: for each (split, family, horizon), the share of chains whose
 * first failing step is step k (0-based), the share failing later, and the share with none.
 * A base worth rectifying fails late on long chains, not at step 0.
 */
export function formatErosionTable(reports: { split: string; report: EvalReport }[]): string {
  const stepCols = Array.from({ length: EROSION_STEPS }, (_, k) => `step ${k}`);
  const lines = [
    `| split | family | horizon | n | accuracy | first error at: ${stepCols.join(' | ')} | step ${EROSION_STEPS}+ | none |`,
    `|---|---|---|---|---|${stepCols.map(() => '---|').join('')}---|---|`,
  ];
  for (const { split, report } of reports) {
    for (const h of report.by_horizon) {
      const share = (c: number) => pct(h.n ? c / h.n : 0);
      const at = (k: number) => h.first_error_hist[String(k)] ?? 0;
      const later = Object.entries(h.first_error_hist).filter(([s]) => s !== 'none' && Number(s) >= EROSION_STEPS).reduce((a, [, c]) => a + c, 0);
      const cells = stepCols.map((_, k) => share(at(k)));
      lines.push(`| ${split} | ${h.family} | ${h.horizon} | ${h.n} | ${pct(h.accuracy)} | ${cells.join(' | ')} | ${share(later)} | ${share(h.first_error_hist.none ?? 0)} |`);
    }
  }
  return lines.join('\n');
}
