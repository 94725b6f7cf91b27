// The bench report: one self-contained HTML page (inline CSS and inline SVG, no scripts, no
// external resources) rendered from a results.json.
//
// Sections (each a <section id=...>): headline, tables, tokens, horizon, grounding, erosion,
// ivr (only when runs carry IVR-R1 diagnostics) and provenance. Every claim in the headline
// is computed from the numbers: IVR-R1 (or, for ablations, full IVR-R1) against each other
// method, per split, as a difference of mean accuracy with a Welch 95% confidence interval
// over seeds.
import {
  SPLITS,
  type AggregateMetric, type BenchResults, type Ci, type CurvePoint, type RunResult, type SplitEval, type SplitName,
} from './results.js';
import { groupRuns, hasInterval, meanCi } from './stats.js';
import { accuracyCi, accuracyDiffCi, type InstanceScope } from './compare.js';
import { columnClaim, pts, verdictOf, type ColumnFacts } from './claims.js';
import {
  barChart, compact, esc, legendSvg, lineChart, methodLabel, methodStyles, pct, stackedBars,
  type LegendEntry, type LinePoint, type LineSeries, type SeriesStyle,
} from './svg.js';

/** The ids of the report's sections, in page order ('ivr' only when there are diagnostics). */
export const SECTION_IDS = ['headline', 'tables', 'tokens', 'horizon', 'grounding', 'erosion', 'ivr', 'provenance'] as const;

const PAGE_W = 1120;
const GAP = 20;
const BASE = 'base';

export interface ReportOptions {
  /** The method every other is compared with (default: "ivr" when present). */
  reference?: string;
}

interface Ctx {
  r: BenchResults;
  methods: string[];
  byMethod: Map<string, RunResult[]>;
  ref: string | null;
  styles: Map<string, SeriesStyle>;
  label: (m: string) => string;
  /** Bootstrap intervals are not free: each (method, column) pair is computed once. */
  memo: Map<string, Ci | null>;
}

const SPLIT_TITLE: Record<SplitName, string> = { test: 'Test (in-distribution horizons)', ood: 'OOD (longer horizons)' };

export function renderReport(results: BenchResults, opts: ReportOptions = {}): string {
  const byMethod = groupRuns(results.runs);
  // methods in the declared order, then any extra ones that have runs
  const methods = [...results.methods, ...[...byMethod.keys()].filter((m) => !results.methods.includes(m))];
  const ref = opts.reference ?? (methods.includes('ivr') ? 'ivr' : null);
  const styles = methodStyles([BASE, ...methods], ref ?? '');
  const ablations = results.kind === 'ablations';
  const label = (m: string) => (m === BASE ? 'base (start)' : ablations && m === 'ivr' ? 'IVR-R1 (full)' : methodLabel(m));
  for (const [m, s] of styles) s.label = label(m);
  const ctx: Ctx = { r: results, methods, byMethod, ref, styles, label, memo: new Map() };

  const title = ablations ? 'IVR-R1 ablations' : 'IVR-R1 vs RL baselines';
  const sections = [
    headlineSection(ctx),
    tablesSection(ctx),
    tokensSection(ctx),
    horizonSection(ctx, 'accuracy', 'horizon', 'Accuracy by horizon', 'accuracy'),
    horizonSection(ctx, 'grounding_fidelity', 'grounding', 'Grounding fidelity by horizon', 'grounding fidelity'),
    erosionSection(ctx),
    ivrSection(ctx),
    provenanceSection(ctx),
  ].filter((s) => s !== '');
  const seeds = results.seeds.length;
  const sub = `${results.methods.length} ${ablations ? 'variants' : 'methods'} × ${seeds} seed${seeds === 1 ? '' : 's'} · equal rollout-token budget ${compact(results.budget_tokens)} per run · ${esc(results.created)}`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header><h1>${esc(title)}</h1><p class="sub">${sub}</p></header>
${sections.join('\n')}
</main>
</body>
</html>
`;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1a1a1a;font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}
main{max-width:${PAGE_W + 40}px;margin:0 auto;padding:24px 20px 48px}
h1{font-size:28px;margin:0 0 4px}
h2{font-size:21px;margin:36px 0 6px;padding-top:12px;border-top:1px solid #e2e2e2}
h3{font-size:16px;margin:18px 0 6px}
p{margin:6px 0}
.sub,.note{color:#555}
.note{font-size:13.5px;max-width:${PAGE_W}px}
.row{display:flex;flex-wrap:wrap;gap:${GAP}px;margin:10px 0}
.row svg{display:block}
figure{margin:10px 0}
table{border-collapse:collapse;margin:8px 0 14px;font-size:14px;font-variant-numeric:tabular-nums}
th,td{padding:5px 12px;border-bottom:1px solid #e6e6e6;text-align:right;white-space:nowrap}
th{background:#f6f6f6;font-weight:600;border-bottom:1px solid #cfcfcf}
th:first-child,td:first-child{text-align:left}
tr.ref td{background:#fff4ec}
tr.base td{color:#555;font-style:italic}
td .ci{color:#666;font-size:12.5px}
td.best{font-weight:700}
.sw{display:inline-block;width:11px;height:11px;margin-right:7px;vertical-align:baseline;border-radius:2px}
.verdict{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12.5px;font-weight:600}
.v-better{background:#d7efe6;color:#00573f}
.v-worse{background:#fbe0d0;color:#8a3300}
.v-tie{background:#ececec;color:#444}
ul.claims{margin:6px 0 10px;padding-left:22px}
ul.claims li{margin:3px 0}
pre{background:#f6f6f6;padding:10px 12px;border-radius:4px;white-space:pre-wrap;word-break:break-all;font-size:13px;margin:6px 0}
dl.prov{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:8px 0}
dl.prov dt{color:#555}
dl.prov dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13.5px;word-break:break-all}
details summary{cursor:pointer;color:#333;margin:8px 0}
`;

// ---------------------------------------------------------------------------------------
// numbers

/** Per-run values of `f` for method m (base: the single base evaluation). */
function values(ctx: Ctx, m: string, f: (e: { test: SplitEval; ood: SplitEval }) => number | null): number[] {
  const evs = m === BASE ? [ctx.r.base.eval] : (ctx.byMethod.get(m) ?? []).map((r) => r.eval);
  return evs.map(f).filter((v): v is number => v !== null && Number.isFinite(v));
}

function ciOf(xs: number[]): Ci | null {
  return xs.length ? meanCi(xs) : null;
}

/** One evaluation per seed of method m on `split` (base: its single evaluation). */
function evalsOf(ctx: Ctx, m: string, split: SplitName): SplitEval[] {
  return m === BASE ? [ctx.r.base.eval[split]] : (ctx.byMethod.get(m) ?? []).map((r) => r.eval[split]);
}

type Column = { id: string; title: string; split: SplitName; scope: InstanceScope };
const HEADLINE_COLUMNS: Column[] = [
  { id: 'test', title: 'test', split: 'test', scope: 'all' },
  { id: 'test-long', title: 'test, long half of horizons', split: 'test', scope: 'long' },
  { id: 'ood', title: 'OOD (longer horizons)', split: 'ood', scope: 'all' },
];

function memo(ctx: Ctx, key: string, f: () => Ci | null): Ci | null {
  if (!ctx.memo.has(key)) ctx.memo.set(key, f());
  return ctx.memo.get(key)!;
}

function colCi(ctx: Ctx, m: string, col: Column): Ci | null {
  return memo(ctx, `ci/${m}/${col.id}`, () => accuracyCi(evalsOf(ctx, m, col.split), col.scope, ctx.r.base.eval[col.split].instances));
}

function colDiff(ctx: Ctx, a: string, b: string, col: Column): Ci | null {
  return memo(ctx, `diff/${a}/${b}/${col.id}`, () => accuracyDiffCi(evalsOf(ctx, a, col.split), evalsOf(ctx, b, col.split), col.scope, ctx.r.base.eval[col.split].instances));
}

const pc1 = (v: number) => pct(v, 1);

// ---------------------------------------------------------------------------------------
// sections

function headlineSection(ctx: Ctx): string {
  const { ref, methods, label } = ctx;
  const withRuns = methods.filter((m) => (ctx.byMethod.get(m) ?? []).length > 0);
  const parts: string[] = ['<section id="headline">', '<h2>Headline</h2>'];
  const hasRef = ref !== null && withRuns.includes(ref);
  const claims = HEADLINE_COLUMNS.map((col) => {
    const base = colCi(ctx, BASE, col);
    const standings = withRuns.map((m) => ({ m, ci: colCi(ctx, m, col) }))
      .filter((x): x is { m: string; ci: Ci } => x.ci !== null)
      .map((x) => ({ m: x.m, label: label(x.m), ci: x.ci, vsBase: base ? colDiff(ctx, x.m, BASE, col) : null }));
    let reference: ColumnFacts['reference'] = null;
    if (hasRef && ref) {
      const strongest = standings.filter((x) => x.m !== ref).sort((a, b) => b.ci.mean - a.ci.mean)[0];
      const d = strongest ? colDiff(ctx, ref, strongest.m, col) : null;
      reference = { label: label(ref), vs: strongest && d ? { label: strongest.label, d } : null };
    }
    return `<li>${esc(columnClaim({ title: col.title, base, standings, reference }))}</li>`;
  });
  parts.push(`<ul class="claims">${claims.join('')}</ul>`);

  if (hasRef && ref) {
    parts.push(`<h3>${esc(label(ref))} minus each other ${ctx.r.kind === 'ablations' ? 'variant' : 'method'}: accuracy difference in points, 95% CI</h3>`);
    const head = `<tr><th>vs</th>${HEADLINE_COLUMNS.map((c) => `<th>${esc(c.title)}</th>`).join('')}</tr>`;
    const rows = [BASE, ...withRuns.filter((m) => m !== ref)].map((m) => {
      const cells = HEADLINE_COLUMNS.map((col) => {
        const d = colDiff(ctx, ref, m, col);
        if (!d) return '<td>–</td>';
        const v = hasInterval(d) ? verdictOf(d) : null;
        const word = v === 'above' ? 'ahead' : v === 'below' ? 'behind' : v ? 'not separated' : 'one seed';
        const cls = v === 'above' ? 'v-better' : v === 'below' ? 'v-worse' : 'v-tie';
        return `<td>${pts(d.mean)} <span class="ci">[${pts(d.ci_low)}, ${pts(d.ci_high)}]</span> <span class="verdict ${cls}">${word}</span></td>`;
      });
      return `<tr${m === BASE ? ' class="base"' : ''}><td>${swatch(ctx, m)}${esc(label(m))}</td>${cells.join('')}</tr>`;
    });
    parts.push(`<table class="diff">${head}${rows.join('')}</table>`);
  } else if (!ref) {
    parts.push('<p class="note">No IVR-R1 runs in this file: methods are compared with the base only.</p>');
  }
  parts.push(`<p class="note">${esc(INTERVAL_NOTE)} "Long half of horizons": per family, the horizons at or above the median horizon of the split.</p>`);

  // the main plot
  const series = [BASE, ...withRuns].map((m) => {
    const st = ctx.styles.get(m)!;
    return {
      name: m, label: label(m), color: st.color, highlight: st.highlight, hatch: m === BASE,
      values: HEADLINE_COLUMNS.map((col) => {
        const ci = colCi(ctx, m, col);
        return ci ? { mean: ci.mean, lo: ci.ci_low, hi: ci.ci_high } : null;
      }),
    };
  });
  parts.push(`<figure>${barChart({
    title: 'Final accuracy: mean over seeds with 95% CI',
    yLabel: 'accuracy', groups: HEADLINE_COLUMNS.map((c) => c.title), series,
    width: PAGE_W, height: 380, y: { kind: 'share', domain: [0, 1] },
  })}</figure>`);
  parts.push('</section>');
  return parts.join('\n');
}

const INTERVAL_NOTE = 'Intervals: with per-instance outcomes, a 95% bootstrap over instances and seeds (differences paired on the same instances; the base is one evaluation, so only its instances are resampled); for files without them, a Student-t interval over seeds and Welch intervals for differences.';

function swatch(ctx: Ctx, m: string): string {
  const st = ctx.styles.get(m);
  return st ? `<span class="sw" style="background:${st.color}"></span>` : '';
}

const TABLE_METRICS: { key: AggregateMetric; title: string; share: boolean }[] = [
  { key: 'accuracy', title: 'accuracy', share: true },
  { key: 'pass_at_k', title: 'pass@k', share: true },
  { key: 'grounding_fidelity', title: 'grounding fidelity', share: true },
  { key: 'format_validity', title: 'format validity', share: true },
  { key: 'mean_length', title: 'mean length', share: false },
];

function tablesSection(ctx: Ctx): string {
  const parts = ['<section id="tables">', '<h2>Results per split: mean ± 95% CI over seeds</h2>'];
  const rows = [BASE, ...ctx.methods];
  for (const split of SPLITS) {
    parts.push(`<h3>${esc(SPLIT_TITLE[split])}</h3>`);
    const cis = new Map(rows.map((m) => [m, TABLE_METRICS.map((t) => (t.key === 'accuracy'
      ? accuracyCi(evalsOf(ctx, m, split))
      : ciOf(values(ctx, m, (e) => e[split][t.key]))))]));
    const bestAcc = Math.max(...ctx.methods.map((m) => cis.get(m)![0]?.mean ?? -Infinity));
    const head = `<tr><th>method</th><th>seeds</th>${TABLE_METRICS.map((t) => `<th>${t.title}</th>`).join('')}<th>rollout tokens</th><th>instances</th></tr>`;
    const body = rows.map((m) => {
      const runs = m === BASE ? [] : ctx.byMethod.get(m) ?? [];
      const n = m === BASE ? 1 : runs.length;
      const cells = cis.get(m)!.map((ci, i) => {
        if (!ci) return '<td>–</td>';
        const t = TABLE_METRICS[i]!;
        const f = (v: number) => (t.share ? pc1(v) : v.toFixed(1));
        const half = (ci.ci_high - ci.ci_low) / 2;
        const best = i === 0 && m !== BASE && ci.mean === bestAcc;
        return `<td${best ? ' class="best"' : ''}>${f(ci.mean)}${hasInterval(ci) ? ` <span class="ci">± ${t.share ? (half * 100).toFixed(1) : half.toFixed(1)}</span>` : ''}</td>`;
      });
      const tokens = runs.length ? compact(runs.reduce((a, r) => a + r.gen_tokens_total, 0) / runs.length) : '–';
      const inst = m === BASE ? ctx.r.base.eval[split].n : runs[0]?.eval[split].n;
      const cls = m === BASE ? ' class="base"' : m === ctx.ref ? ' class="ref"' : '';
      return `<tr${cls}><td>${swatch(ctx, m)}${esc(ctx.label(m))}</td><td>${n || '–'}</td>${runs.length || m === BASE ? cells.join('') : TABLE_METRICS.map(() => '<td>–</td>').join('')}<td>${tokens}</td><td>${inst ?? '–'}</td></tr>`;
    });
    parts.push(`<table>${head}${body.join('')}</table>`);
  }
  parts.push('<p class="note">± is the half-width of the 95% interval (in points for shares). Accuracy: see the interval note under the headline. Other metrics: Student-t over seeds; a method with one seed has no interval there. The best mean accuracy per split is bold. Rollout tokens: generated tokens per run, mean over seeds, including the Re-Reasoning Loop\'s tokens for IVR-R1.</p>');
  parts.push('</section>');
  return parts.join('\n');
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
export function meanCurve(curves: { x: number; y: number }[][]): LinePoint[] {
  const cs = curves.map((c) => [...c].sort((a, b) => a.x - b.x)).filter((c) => c.length > 0);
  if (!cs.length) return [];
  if (cs.length === 1) return cs[0]!.map((p) => ({ x: p.x, y: p.y }));
  let lo = Math.max(...cs.map((c) => c[0]!.x));
  let hi = Math.min(...cs.map((c) => c[c.length - 1]!.x));
  if (!(hi > lo)) { lo = Math.min(...cs.map((c) => c[0]!.x)); hi = Math.max(...cs.map((c) => c[c.length - 1]!.x)); }
  if (!(hi > lo)) return [{ x: lo, y: cs.reduce((a, c) => a + c[0]!.y, 0) / cs.length }];
  const k = Math.max(2, Math.min(80, Math.max(...cs.map((c) => c.length))));
  const out: LinePoint[] = [];
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

function tokensSection(ctx: Ctx): string {
  const panels: string[] = [];
  const specs = [
    { key: 'val_accuracy', title: 'Validation accuracy vs rollout tokens', y: 'validation accuracy' },
    { key: 'accuracy', title: 'Training-rollout accuracy vs rollout tokens', y: 'rollout accuracy' },
  ];
  for (const s of specs) {
    const series: LineSeries[] = [];
    for (const m of ctx.methods) {
      const runs = ctx.byMethod.get(m) ?? [];
      const pts = meanCurve(runs.map((r) => curveOf(r, s.key)));
      if (!pts.length) continue;
      const st = ctx.styles.get(m)!;
      series.push({ name: m, label: st.label, color: st.color, width: st.width, highlight: st.highlight, points: pts, markers: pts.length <= 12 });
    }
    if (!series.length) continue;
    panels.push(lineChart({
      title: s.title, xLabel: 'rollout tokens generated (all seeds aligned, mean)', yLabel: s.y,
      series, width: (PAGE_W - GAP) / 2, height: 360, y: { kind: 'share' }, legend: 'none',
      x: { kind: 'number', domain: [0, Math.max(ctx.r.budget_tokens, ...series.flatMap((q) => q.points.map((p) => p.x)))] },
    }));
  }
  const parts = ['<section id="tokens">', '<h2>Accuracy vs rollout tokens</h2>'];
  if (!panels.length) {
    parts.push('<p class="note">No run has a training curve with validation or rollout accuracy.</p>');
  } else {
    parts.push(`<figure>${legendSvg(legendEntries(ctx, ctx.methods), PAGE_W)}<div class="row">${panels.join('')}</div></figure>`);
    parts.push(`<p class="note">Each line is the mean over seeds, interpolated on a common token grid; the x axis runs to the per-run budget of ${compact(ctx.r.budget_tokens)} rollout tokens (the Re-Reasoning Loop's tokens count for IVR-R1). Validation accuracy is measured on the val split during training; the final test and OOD numbers are in the tables above.</p>`);
  }
  parts.push('</section>');
  return parts.join('\n');
}

function legendEntries(ctx: Ctx, names: string[]): LegendEntry[] {
  return names.filter((m) => ctx.styles.has(m)).map((m) => {
    const st = ctx.styles.get(m)!;
    return { label: st.label, color: st.color, width: st.width, dash: st.dash };
  });
}

// ---------------------------------------------------------------------------------------
// by horizon

function families(ctx: Ctx): string[] {
  const out: string[] = [];
  const add = (e: SplitEval) => { for (const h of e.by_horizon) if (!out.includes(h.family)) out.push(h.family); };
  for (const s of SPLITS) add(ctx.r.base.eval[s]);
  for (const r of ctx.r.runs) for (const s of SPLITS) add(r.eval[s]);
  return out;
}

function horizons(ctx: Ctx, family: string, split: SplitName): number[] {
  const hs = new Set<number>();
  const evs = [ctx.r.base.eval[split], ...ctx.r.runs.map((r) => r.eval[split])];
  for (const e of evs) for (const h of e.by_horizon) if (h.family === family) hs.add(h.horizon);
  return [...hs].sort((a, b) => a - b);
}

function horizonValue(e: SplitEval, family: string, horizon: number, metric: AggregateMetric): number | null {
  const h = e.by_horizon.find((x) => x.family === family && x.horizon === horizon);
  return h && h.n > 0 ? h[metric] : null;
}

function horizonSection(ctx: Ctx, metric: AggregateMetric, id: string, title: string, yLabel: string): string {
  const fams = families(ctx);
  const parts = [`<section id="${id}">`, `<h2>${esc(title)}: in-distribution test and OOD</h2>`];
  if (!fams.length) {
    parts.push('<p class="note">No per-horizon evaluation in this file.</p></section>');
    return parts.join('\n');
  }
  const names = [BASE, ...ctx.methods.filter((m) => (ctx.byMethod.get(m) ?? []).length)];
  const specs: { allH: number[]; render: (width: number) => string }[] = [];
  const all: number[] = [];
  for (const fam of fams) {
    const test = horizons(ctx, fam, 'test');
    const ood = horizons(ctx, fam, 'ood');
    const overlap = test.length && ood.length && ood[0]! <= test[test.length - 1]!;
    const panelSplits: { splits: SplitName[]; label: string }[] = overlap
      ? [{ splits: ['test'], label: `${fam} · test` }, { splits: ['ood'], label: `${fam} · OOD` }]
      : [{ splits: ['test', 'ood'], label: fam }];
    for (const ps of panelSplits) {
      const series: LineSeries[] = names.map((m) => {
        const st = ctx.styles.get(m)!;
        const points: LinePoint[] = [];
        for (const s of ps.splits) {
          for (const h of (s === 'test' ? test : ood)) {
            const evs = m === BASE ? [ctx.r.base.eval[s]] : (ctx.byMethod.get(m) ?? []).map((r) => r.eval[s]);
            const xs = evs.map((e) => horizonValue(e, fam, h, metric)).filter((v): v is number => v !== null);
            if (!xs.length) { points.push({ x: h, y: null }); continue; }
            const ci = meanCi(xs);
            points.push({ x: h, y: ci.mean, lo: ci.ci_low, hi: ci.ci_high });
          }
        }
        return { name: m, label: st.label, color: st.color, width: st.highlight ? 3 : st.width, dash: st.dash, highlight: st.highlight, points, markers: true };
      });
      // the gap between test and OOD: a null point at the boundary breaks the line
      if (ps.splits.length === 2 && test.length && ood.length) {
        const mid = (test[test.length - 1]! + ood[0]!) / 2;
        for (const s of series) {
          const i = s.points.findIndex((p) => p.x > mid);
          if (i > 0) s.points.splice(i, 0, { x: mid, y: null });
        }
      }
      const regions = ps.splits.includes('ood') && ood.length
        ? [{ from: ps.splits.length === 2 && test.length ? (test[test.length - 1]! + ood[0]!) / 2 : ood[0]! - 0.5, to: ood[ood.length - 1]! + 0.5, label: 'OOD' }]
        : [];
      const allH = ps.splits.flatMap((s) => (s === 'test' ? test : ood));
      for (const x of series) for (const p of x.points) if (p.y !== null) all.push(p.lo ?? p.y, p.y);
      specs.push({
        allH,
        render: (width) => lineChart({
          title: ps.label, xLabel: 'horizon (reasoning steps)', yLabel, series,
          width, height: 320, legend: 'none', errorBars: true, dodge: Math.min(3, (width / (allH.length + 1)) / (series.length + 2)),
          x: { kind: 'integer', domain: [Math.min(...allH) - 0.5, Math.max(...allH) + 0.5] },
          y: { kind: 'share', domain }, regions,
        }),
      });
    }
  }
  // accuracy from 0; fidelity (high and flat) from a floor below its lowest whisker
  const domain: [number, number] = metric === 'accuracy' ? [0, 1] : [Math.max(0, Math.floor((Math.min(...all) - 0.05) * 10) / 10), 1];
  // a family with many horizons gets a row of its own; the others share rows (up to 3)
  const rows: string[] = [];
  const narrow = specs.filter((x) => x.allH.length <= 14);
  for (const x of specs) if (x.allH.length > 14) rows.push(x.render(PAGE_W));
  for (let i = 0; i < narrow.length;) {
    const left = narrow.length - i;
    const k = left === 4 ? 2 : Math.min(3, left);
    const w = (PAGE_W - GAP * (k - 1)) / k;
    rows.push(narrow.slice(i, i + k).map((x) => x.render(w)).join(''));
    i += k;
  }
  parts.push(`<figure>${legendSvg(legendEntries(ctx, names), PAGE_W)}${rows.map((r) => `<div class="row">${r}</div>`).join('')}</figure>`);
  parts.push(`<p class="note">Mean over seeds per horizon with 95% CI whiskers (methods are offset sideways a little so that whiskers do not hide each other). The shaded band holds the OOD horizons, longer than any seen in training.${metric === 'grounding_fidelity' ? ' Grounding fidelity is the share of steps whose visual claims hold in the image.' : ''}</p>`);
  parts.push('</section>');
  return parts.join('\n');
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
function firstErrors(evs: SplitEval[]): { rel: number | null; count: number }[] {
  const out: { rel: number | null; count: number }[] = [];
  for (const e of evs) {
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
export function erosionBuckets(evs: SplitEval[]): number[] {
  const b = EROSION_BUCKETS.map(() => 0);
  for (const { rel, count } of firstErrors(evs)) {
    const i = rel === null ? 5 : rel >= 1 ? 4 : Math.min(3, Math.floor(rel * 4));
    b[i]! += count;
  }
  const total = b.reduce((a, x) => a + x, 0);
  return total ? b.map((x) => x / total) : b;
}

/** Survival: share of responses whose first error comes at or after relative position p. */
export function erosionCurve(evs: SplitEval[], steps = 20): LinePoint[] {
  const fe = firstErrors(evs);
  const total = fe.reduce((a, x) => a + x.count, 0);
  if (!total) return [];
  const out: LinePoint[] = [];
  for (let i = 0; i <= steps; i++) {
    const p = i / steps;
    const alive = fe.reduce((a, x) => a + (x.rel === null || x.rel >= p - 1e-9 ? x.count : 0), 0);
    out.push({ x: p, y: alive / total });
  }
  // the last point: no error at all
  out.push({ x: 1.12, y: fe.reduce((a, x) => a + (x.rel === null ? x.count : 0), 0) / total });
  return out;
}

function erosionSection(ctx: Ctx): string {
  const names = [BASE, ...ctx.methods.filter((m) => (ctx.byMethod.get(m) ?? []).length)];
  const evsOf = (m: string, s: SplitName) => (m === BASE ? [ctx.r.base.eval[s]] : (ctx.byMethod.get(m) ?? []).map((r) => r.eval[s]));
  const parts = ['<section id="erosion">', '<h2>Erosion curves: where reasoning first goes wrong</h2>'];
  const curves: string[] = [];
  for (const s of SPLITS) {
    const series: LineSeries[] = names.map((m) => {
      const st = ctx.styles.get(m)!;
      return { name: m, label: st.label, color: st.color, width: st.highlight ? 3 : st.width, dash: st.dash, highlight: st.highlight, points: erosionCurve(evsOf(m, s)), markers: false };
    }).filter((x) => x.points.length);
    if (!series.length) continue;
    curves.push(lineChart({
      title: `${SPLIT_TITLE[s]}`, xLabel: 'progress through the gold steps (first-error step / horizon)', yLabel: 'share still error-free',
      series, width: (PAGE_W - GAP) / 2, height: 340, legend: 'none', y: { kind: 'share', domain: [0, 1] },
      x: { domain: [0, 1.18], ticks: [0, 0.2, 0.4, 0.6, 0.8, 1, 1.12], format: (v) => (v > 1.05 ? 'none' : pct(v)) },
      regions: [{ from: 1.06, to: 1.18, label: '' }],
    }));
  }
  if (!curves.length) {
    parts.push('<p class="note">No first-error histograms per horizon in this file.</p></section>');
    return parts.join('\n');
  }
  parts.push(`<figure>${legendSvg(legendEntries(ctx, names), PAGE_W)}<div class="row">${curves.join('')}</div></figure>`);
  parts.push('<p class="note">A point (p, y): a share y of the responses has every step before relative position p of the gold solution verified correct. Horizons differ across instances, so positions are relative (first error index divided by the horizon); seeds, families and horizons are pooled. The last point is the share with no error anywhere (steps and answer).</p>');
  for (const s of SPLITS) {
    const rows = names.map((m) => {
      const evs = evsOf(m, s);
      const n = evs.reduce((a, e) => a + e.n, 0);
      return { name: m, label: ctx.label(m), values: erosionBuckets(evs), highlight: m === ctx.ref, note: `n=${n}` };
    });
    const rowColors = new Map(names.map((m) => [m, ctx.styles.get(m)!.color]));
    parts.push(`<figure>${stackedBars({
      title: `Where the first error falls: ${SPLIT_TITLE[s]}`, categories: EROSION_BUCKETS.map((b) => ({ ...b })), rows, width: PAGE_W, rowColors,
    })}</figure>`);
  }
  parts.push('<p class="note">Each bar is one method\'s distribution of the first erroneous step, normalized to 100% (seeds pooled): darker segments are earlier failures; "after the last step" means every gold-length step held but the answer (or an extra step) went wrong.</p>');
  parts.push('</section>');
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------
// IVR-R1 diagnostics

const IVR_PANELS = [
  { key: 'ivr_flagged', title: 'Rollouts flagged for re-reasoning', y: 'flagged per iteration', share: false },
  { key: 'ivr_rectify_rate', title: 'Rectification success rate', y: 'rectified / attempted', share: true },
  { key: 'ivr_demo_token_frac', title: 'Demonstration-token share of the update', y: 'demo tokens / all tokens', share: true },
  { key: 'ivr_loop_tokens', title: 'Re-Reasoning Loop tokens', y: 'tokens per iteration', share: false },
] as const;

function ivrSection(ctx: Ctx): string {
  const withDiag = ctx.methods.filter((m) => (ctx.byMethod.get(m) ?? []).some((r) => r.curve.some((p) => IVR_PANELS.some((k) => typeof p[k.key] === 'number'))));
  if (!withDiag.length) return '';
  const panels: string[] = [];
  for (const k of IVR_PANELS) {
    const series: LineSeries[] = [];
    for (const m of withDiag) {
      const st = ctx.styles.get(m)!;
      const runs = ctx.byMethod.get(m) ?? [];
      const perIter = new Map<number, number[]>();
      for (const r of runs) {
        const pts = r.curve.flatMap((p) => (typeof p[k.key] === 'number' && Number.isFinite(p[k.key]) ? [{ x: p.iter, y: p[k.key] as number }] : []));
        if (runs.length > 1 && withDiag.length <= 3 && pts.length) series.push({ name: `${m}#${r.seed}`, color: st.color, width: 1, opacity: 0.25, markers: false, noLegend: true, points: pts });
        for (const p of pts) perIter.set(p.x, [...(perIter.get(p.x) ?? []), p.y]);
      }
      const mean = [...perIter.entries()].sort((a, b) => a[0] - b[0]).map(([x, ys]) => ({ x, y: ys.reduce((a, b) => a + b, 0) / ys.length }));
      if (mean.length) series.push({ name: m, label: st.label, color: st.color, width: st.highlight ? 3 : st.width, highlight: st.highlight, points: mean, markers: mean.length <= 20 });
    }
    if (!series.length) continue;
    panels.push(lineChart({
      title: k.title, xLabel: 'training iteration', yLabel: k.y, series, width: (PAGE_W - GAP) / 2, height: 300,
      legend: 'none', y: k.share ? { kind: 'share' } : { kind: 'number' }, x: { kind: 'integer' },
    }));
  }
  const parts = ['<section id="ivr">', '<h2>IVR-R1 diagnostics over training</h2>'];
  parts.push(`<figure>${legendSvg(legendEntries(ctx, withDiag), PAGE_W)}<div class="row">${panels.join('')}</div></figure>`);
  parts.push(`<p class="note">Thick lines: mean over seeds per iteration${withDiag.length <= 3 ? '; faint lines: single seeds' : ''}. Flagged: rollouts the reward screen sends to the Re-Reasoning Loop. Rectification success: share of attempted rollouts whose rewritten response is correct. Demonstration-token share: rewritten (off-policy) response tokens over all response tokens in the update. Loop tokens count against the rollout-token budget.</p>`);
  parts.push('</section>');
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------
// provenance

function provenanceSection(ctx: Ctx): string {
  const r = ctx.r;
  const wall = r.runs.reduce((a, x) => a + x.wall_s, 0);
  const fmtS = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);
  const parts = ['<section id="provenance">', '<h2>Provenance</h2>'];
  parts.push(`<p>Produced by:</p><pre>${esc(r.command)}</pre>`);
  parts.push(`<dl class="prov"><dt>commit</dt><dd>${esc(r.commit)}</dd><dt>machine</dt><dd>${esc(r.machine)}</dd><dt>created</dt><dd>${esc(r.created)}</dd><dt>kind</dt><dd>${esc(r.kind)}</dd><dt>${r.kind === 'ablations' ? 'variants' : 'methods'}</dt><dd>${esc(r.methods.join(', '))}</dd><dt>seeds</dt><dd>${esc(r.seeds.join(', '))}</dd><dt>budget per run</dt><dd>${compact(r.budget_tokens)} rollout tokens (${r.budget_tokens})</dd><dt>runs</dt><dd>${r.runs.length} · ${fmtS(wall)} of run time in total</dd></dl>`);
  const rows = r.runs.map((x) => `<tr><td>${swatch(ctx, x.method)}${esc(ctx.label(x.method))}</td><td>${x.seed}</td><td>${pc1(x.eval.test.accuracy)}</td><td>${pc1(x.eval.ood.accuracy)}</td><td>${compact(x.gen_tokens_total)}</td><td>${x.curve.length}</td><td>${fmtS(x.wall_s)}</td><td>${x.peak_rss_mib ? `${x.peak_rss_mib.toFixed(0)} MiB` : '–'}</td><td>${esc(x.run_dir)}</td></tr>`);
  parts.push(`<details><summary>Every run (${r.runs.length})</summary><table><tr><th>method</th><th>seed</th><th>test acc.</th><th>OOD acc.</th><th>rollout tokens</th><th>curve points</th><th>wall time</th><th>peak RSS</th><th>run directory</th></tr>${rows.join('')}</table></details>`);
  parts.push('</section>');
  return parts.join('\n');
}
