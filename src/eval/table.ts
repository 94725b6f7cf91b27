// Plain-text tables of evaluation reports for the terminal and the README.
import type { EvalReport } from './evaluate.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

export function formatEvalTable(reports: { split: string; report: EvalReport }[]): string {
  const lines: string[] = [];
  const k = reports[0]?.report.samples ?? 1;
  lines.push(`| split | family | horizons | n | accuracy${k > 1 ? ` | pass@${k}` : ''} | grounding | format | mean len |`);
  lines.push(`|---|---|---|---|---|${k > 1 ? '---|' : ''}---|---|---|`);
  for (const { split, report } of reports) {
    for (const f of report.by_family) {
      const hs = report.by_horizon.filter((h) => h.family === f.family).map((h) => h.horizon);
      lines.push(`| ${split} | ${f.family} | ${Math.min(...hs)}-${Math.max(...hs)} | ${f.n} | ${pct(f.accuracy)}${k > 1 ? ` | ${pct(f.pass_at_k)}` : ''} | ${pct(f.grounding_fidelity)} | ${pct(f.format_validity)} | ${f.mean_length.toFixed(0)} |`);
    }
    lines.push(`| ${split} | **all** | | ${report.n} | **${pct(report.accuracy)}**${k > 1 ? ` | ${pct(report.pass_at_k)}` : ''} | ${pct(report.grounding_fidelity)} | ${pct(report.format_validity)} | ${report.mean_length.toFixed(0)} |`);
  }
  return lines.join('\n');
}
