// `ivr report` on a single training run: a run directory (config.json + metrics.jsonl, as
// `ivr train`, `ivr sft` and `ivr demo`'s run/ write) or a metrics.jsonl file. A
// self-contained HTML page: what the run was (method, init, iterations, tokens, last
// validation accuracy) and one inline SVG line chart per logged metric that matters.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface RunInput {
  /** The run directory (or the metrics file's directory). */
  dir: string;
  config: Record<string, unknown>;
  rows: Record<string, unknown>[];
  hasFinal: boolean;
}

/** The metrics file a path names: `<dir>/metrics.jsonl` for a directory, or the file itself. */
export function metricsFileOf(p: string): string | null {
  if (fs.existsSync(p) && fs.statSync(p).isDirectory()) return fs.existsSync(path.join(p, 'metrics.jsonl')) ? path.join(p, 'metrics.jsonl') : null;
  return p.endsWith('.jsonl') ? p : null;
}

export function readRun(p: string): RunInput {
  const file = metricsFileOf(p);
  if (file === null) throw new Error(`${p} is a directory without metrics.jsonl: not a run directory (ivr report reads a bench results.json, a run directory or its metrics.jsonl)`);
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file`);
  const rows = fs.readFileSync(file, 'utf8').split('\n').flatMap((l, i) => {
    if (!l.trim()) return [];
    try { return [JSON.parse(l) as Record<string, unknown>]; } catch (e) {
      throw new Error(`${file}: line ${i + 1} is not JSON (${(e as Error).message})`);
    }
  });
  if (rows.length === 0) throw new Error(`${file}: no metric rows yet`);
  const dir = path.dirname(file);
  let config: Record<string, unknown> = {};
  try { config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>; } catch { /* a bare metrics file */ }
  return { dir, config, rows, hasFinal: fs.existsSync(path.join(dir, 'checkpoints', 'final', 'config.json')) };
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[c]!));
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Metrics shown first when present; then other numeric ones, up to MAX_CHARTS. */
const PREFERRED = ['val_accuracy', 'accuracy', 'reward_mean', 'loss', 'val_loss', 'kl', 'entropy', 'ivr_rectify_rate', 'grad_norm', 'gen_tokens_total'];
const SKIP = new Set(['iter', 'step', 'lr', 'rss_mib', 'peak_rss_mib']);
const MAX_CHARTS = 8;

function chart(key: string, pts: { x: number; y: number }[], xLabel: string): string {
  const W = 560, H = 260, L = 56, R = 12, T = 28, B = 40;
  const xs = pts.map((p) => p.x), ys = pts.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) { y0 -= 0.5; y1 += 0.5; }
  const sx = (x: number) => L + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const line = pts.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ');
  const fmt = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(3)).toString());
  return `<svg role="img" aria-label="${esc(key)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg">
<text x="${L}" y="16" font-size="13" font-weight="600">${esc(key)} (n = ${pts.length} rows)</text>
<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#888"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#888"/>
<text x="${L - 6}" y="${sy(y1) + 4}" font-size="11" text-anchor="end">${fmt(y1)}</text><text x="${L - 6}" y="${sy(y0) + 4}" font-size="11" text-anchor="end">${fmt(y0)}</text>
<text x="${L}" y="${H - B + 16}" font-size="11">${fmt(x0)}</text><text x="${W - R}" y="${H - B + 16}" font-size="11" text-anchor="end">${fmt(x1)}</text>
<text x="${(L + W - R) / 2}" y="${H - 6}" font-size="11" text-anchor="middle">${esc(xLabel)}</text>
<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${line}"/>
${pts.length <= 60 ? pts.map((p) => `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="2.5" fill="#1f77b4"/>`).join('') : ''}
</svg>`;
}

export function renderRunReport(run: RunInput): string {
  const xKey = run.rows.some((r) => num(r.iter)) ? 'iter' : 'step';
  const kind = String(run.config.run_kind ?? (xKey === 'iter' ? 'rl' : 'sft'));
  const method = typeof run.config.method === 'string' ? run.config.method : kind === 'sft' ? 'SFT' : 'RL';
  const title = `Training run ${run.dir} (${method})`;
  const keys = new Set<string>();
  for (const r of run.rows) for (const [k, v] of Object.entries(r)) if (num(v) && !SKIP.has(k) && !k.startsWith('t_')) keys.add(k);
  const ordered = [...PREFERRED.filter((k) => keys.has(k)), ...[...keys].filter((k) => !PREFERRED.includes(k)).sort()].slice(0, MAX_CHARTS);
  const charts = ordered.map((k) => chart(k, run.rows.flatMap((r) => (num(r[xKey]) && num(r[k]) ? [{ x: r[xKey] as number, y: r[k] as number }] : [])), xKey === 'iter' ? 'iteration' : 'step'))
    .filter((_, i) => ordered[i] !== undefined);
  const last = run.rows.at(-1)!;
  const lastVal = [...run.rows].reverse().find((r) => num(r.val_accuracy));
  const facts: [string, string][] = [
    ['kind', kind === 'rl' ? `RL (${method})` : 'SFT'],
    ['started from', typeof run.config.init === 'string' ? run.config.init : '(not recorded)'],
    [xKey === 'iter' ? 'iterations logged' : 'steps logged', `${num(last[xKey]) ? last[xKey] : run.rows.length}${num(run.config.iterations) ? ` of ${run.config.iterations}` : num(run.config.steps) ? ` of ${run.config.steps}` : ''}`],
    ['finished', run.hasFinal ? 'yes (checkpoints/final)' : 'no (no checkpoints/final yet)'],
  ];
  if (num(last.gen_tokens_total)) facts.push(['rollout tokens generated', last.gen_tokens_total.toLocaleString('en-US')]);
  if (lastVal) facts.push(['last validation accuracy', `${(100 * (lastVal.val_accuracy as number)).toFixed(1)}% (${xKey} ${lastVal[xKey]})`]);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:24px;max-width:1180px}table{border-collapse:collapse}td{padding:2px 12px 2px 0}.charts{display:flex;flex-wrap:wrap;gap:12px}</style></head>
<body><header><h1>${esc(title)}</h1><p>One training run, from its metrics.jsonl (${run.rows.length} rows). Compare methods with <code>ivr bench</code>; evaluate the run with <code>ivr eval --checkpoint ${esc(run.dir)}</code>.</p></header>
<section id="summary"><table>${facts.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join('')}</table></section>
<section id="curves"><h2>Metrics by ${xKey === 'iter' ? 'iteration' : 'step'}</h2><div class="charts">${charts.join('\n')}</div></section>
</body></html>
`;
}
