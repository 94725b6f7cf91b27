// The bench report: one self-contained HTML page (inline CSS and inline SVG, no scripts, no
// external resources) rendered from a results.json.
//
// Sections (each a <section id=...>): headline, tables, tokens, horizon, grounding, erosion,
// ivr (only when runs carry IVR-R1 diagnostics) and provenance. This file is the markup
// alone: the numbers and series come from figures.ts (intervals as compare.ts chooses them),
// the colours and labels from palette.ts, the headline's sentences from claims.ts and the
// charts from charts.ts.
import { hasInterval } from '../stats/interval.js';
import { columnClaim, pts, verdictOf } from './claims.js';
import { barChart, lineChart, stackedBars, type LineSeries } from './charts.js';
import {
  BASE, benchOf, columnCi, columnDiff, columnFacts, EROSION_BUCKETS, erosionBuckets, erosionCurve, evaluationsOf, families, HEADLINE_COLUMNS,
  horizonInstanceRange, horizonPoint, horizons, ivrCurves, ivrMethods, IVR_PANELS, meanRolloutTokens, metricCi, runsOf, tokenCurve, withRuns,
  type Bench, type Point,
} from './figures.js';
import { reportStyles, type SeriesStyle } from './palette.js';
import { SPLITS, type AggregateMetric, type BenchResults, type SplitName } from './results.js';
import { CSS, GAP, PAGE_W } from './style.js';
import { compact, esc, legendSvg, pct, type LegendEntry } from './svg.js';

/** The ids of the report's sections, in page order ('ivr' only when there are diagnostics). */
export const SECTION_IDS = ['headline', 'tables', 'tokens', 'horizon', 'grounding', 'erosion', 'ivr', 'provenance'] as const;

export interface ReportOptions {
  /** The method every other is compared with (default: "ivr" when present). */
  reference?: string;
}

interface Ctx {
  b: Bench;
  styles: Map<string, SeriesStyle>;
  label: (m: string) => string;
}

const SPLIT_TITLE: Record<SplitName, string> = { test: 'Test (in-distribution horizons)', ood: 'OOD (longer horizons)' };

export function renderReport(results: BenchResults, opts: ReportOptions = {}): string {
  const b = benchOf(results, opts.reference);
  const ablations = results.kind === 'ablations';
  const ctx: Ctx = { b, ...reportStyles(BASE, b.methods, b.ref ?? '', ablations) };

  const title = reportTitle(results, ctx.label);
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
  const nm = results.methods.length;
  const sub = `${nm} ${ablations ? (nm === 1 ? 'variant' : 'variants') : nm === 1 ? 'method' : 'methods'} × ${seeds} seed${seeds === 1 ? '' : 's'} · equal rollout-token budget ${compact(results.budget_tokens)} per run · ${esc(results.created)}`;
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


/**
 * What the page compares: "IVR-R1 vs RL baselines" only when it holds IVR-R1 and at least one
 * other method; a single method (the demo) is compared with the base it started from.
 */
function reportTitle(results: BenchResults, label: (m: string) => string): string {
  if (results.kind === 'ablations') return 'IVR-R1 ablations';
  const others = results.methods.filter((m) => m !== 'ivr');
  if (results.methods.includes('ivr') && others.length) return 'IVR-R1 vs RL baselines';
  return `${results.methods.map(label).join(', ')} vs the base policy`;
}

const pc1 = (v: number) => pct(v, 1);

// ---------------------------------------------------------------------------------------
// sections

function headlineSection(ctx: Ctx): string {
  const { b, label } = ctx;
  const ref = b.ref;
  const methods = withRuns(b);
  const parts: string[] = ['<section id="headline">', '<h2>Headline</h2>'];
  const hasRef = ref !== null && methods.includes(ref);
  const claims = HEADLINE_COLUMNS.map((col) => `<li>${esc(columnClaim(columnFacts(b, col, label)))}</li>`);
  parts.push(`<ul class="claims">${claims.join('')}</ul>`);

  if (hasRef && ref) {
    parts.push(`<h3>${esc(label(ref))} minus each other ${b.results.kind === 'ablations' ? 'variant' : 'method'}: accuracy difference in points, 95% CI</h3>`);
    const head = `<tr><th>vs</th>${HEADLINE_COLUMNS.map((c) => `<th>${esc(c.title)}</th>`).join('')}</tr>`;
    const rows = [BASE, ...methods.filter((m) => m !== ref)].map((m) => {
      const cells = HEADLINE_COLUMNS.map((col) => {
        const d = columnDiff(b, ref, m, col);
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
  const series = [BASE, ...methods].map((m) => {
    const st = ctx.styles.get(m)!;
    return {
      name: m, label: label(m), color: st.color, highlight: st.highlight, hatch: m === BASE,
      values: HEADLINE_COLUMNS.map((col) => {
        const ci = columnCi(b, m, col);
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
  const { b } = ctx;
  const rows = [BASE, ...b.methods];
  for (const split of SPLITS) {
    parts.push(`<h3>${esc(SPLIT_TITLE[split])}</h3>`);
    const cis = new Map(rows.map((m) => [m, TABLE_METRICS.map((t) => metricCi(b, m, split, t.key))]));
    const bestAcc = Math.max(...b.methods.map((m) => cis.get(m)![0]?.mean ?? -Infinity));
    const head = `<tr><th>method</th><th>seeds</th>${TABLE_METRICS.map((t) => `<th>${t.title}</th>`).join('')}<th>rollout tokens</th><th>instances</th></tr>`;
    const body = rows.map((m) => {
      const runs = runsOf(b, m);
      const n = m === BASE ? 1 : runs.length;
      const cells = cis.get(m)!.map((ci, i) => {
        if (!ci) return '<td>–</td>';
        const t = TABLE_METRICS[i]!;
        const f = (v: number) => (t.share ? pc1(v) : v.toFixed(1));
        const half = (ci.ci_high - ci.ci_low) / 2;
        const best = i === 0 && m !== BASE && ci.mean === bestAcc;
        return `<td${best ? ' class="best"' : ''}>${f(ci.mean)}${hasInterval(ci) ? ` <span class="ci">± ${t.share ? (half * 100).toFixed(1) : half.toFixed(1)}</span>` : ''}</td>`;
      });
      const tokens = meanRolloutTokens(b, m);
      const inst = evaluationsOf(b, m, split)[0]?.n;
      const cls = m === BASE ? ' class="base"' : m === b.ref ? ' class="ref"' : '';
      return `<tr${cls}><td>${swatch(ctx, m)}${esc(ctx.label(m))}</td><td>${n || '–'}</td>${runs.length || m === BASE ? cells.join('') : TABLE_METRICS.map(() => '<td>–</td>').join('')}<td>${tokens === null ? '–' : compact(tokens)}</td><td>${inst ?? '–'}</td></tr>`;
    });
    parts.push(`<table>${head}${body.join('')}</table>`);
  }
  parts.push('<p class="note">± is the half-width of the 95% interval (in points for shares). Accuracy: see the interval note under the headline. Other metrics: Student-t over seeds; a method with one seed has no interval there. The best mean accuracy per split is bold. Rollout tokens: generated tokens per run, mean over seeds, including the Re-Reasoning Loop\'s tokens for IVR-R1.</p>');
  parts.push('</section>');
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------
// accuracy vs rollout tokens

function tokensSection(ctx: Ctx): string {
  const { b } = ctx;
  const panels: string[] = [];
  const specs = [
    { key: 'val_accuracy', title: 'Validation accuracy vs rollout tokens', y: 'validation accuracy' },
    { key: 'accuracy', title: 'Training-rollout accuracy vs rollout tokens', y: 'rollout accuracy' },
  ];
  for (const s of specs) {
    const series: LineSeries[] = [];
    for (const m of b.methods) {
      const pts = tokenCurve(b, m, s.key);
      if (!pts.length) continue;
      const st = ctx.styles.get(m)!;
      series.push({ name: m, label: st.label, color: st.color, width: st.width, highlight: st.highlight, points: pts, markers: pts.length <= 12 });
    }
    if (!series.length) continue;
    panels.push(lineChart({
      title: s.title, xLabel: 'rollout tokens generated (all seeds aligned, mean)', yLabel: s.y,
      series, width: (PAGE_W - GAP) / 2, height: 360, y: { kind: 'share' }, legend: 'none',
      x: { kind: 'number', domain: [0, Math.max(b.results.budget_tokens, ...series.flatMap((q) => q.points.map((p) => p.x)))] },
    }));
  }
  const parts = ['<section id="tokens">', '<h2>Accuracy vs rollout tokens</h2>'];
  if (!panels.length) {
    parts.push('<p class="note">No run has a training curve with validation or rollout accuracy.</p>');
  } else {
    parts.push(`<figure>${legendSvg(legendEntries(ctx, b.methods), PAGE_W)}<div class="row">${panels.join('')}</div></figure>`);
    parts.push(`<p class="note">Each line is the mean over seeds, interpolated on a common token grid; the x axis runs to the per-run budget of ${compact(b.results.budget_tokens)} rollout tokens (the Re-Reasoning Loop's tokens count for IVR-R1). Validation accuracy is measured on the val split during training; the final test and OOD numbers are in the tables above.</p>`);
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

function horizonSection(ctx: Ctx, metric: AggregateMetric, id: string, title: string, yLabel: string): string {
  const { b } = ctx;
  const fams = families(b);
  const parts = [`<section id="${id}">`, `<h2>${esc(title)}: in-distribution test and OOD</h2>`];
  if (!fams.length) {
    parts.push('<p class="note">No per-horizon evaluation in this file.</p></section>');
    return parts.join('\n');
  }
  const names = [BASE, ...withRuns(b)];
  const specs: { allH: number[]; render: (width: number) => string }[] = [];
  const all: number[] = [];
  for (const fam of fams) {
    const test = horizons(b, fam, 'test');
    const ood = horizons(b, fam, 'ood');
    const overlap = test.length && ood.length && ood[0]! <= test[test.length - 1]!;
    const panelSplits: { splits: SplitName[]; label: string }[] = overlap
      ? [{ splits: ['test'], label: `${fam} · test` }, { splits: ['ood'], label: `${fam} · OOD` }]
      : [{ splits: ['test', 'ood'], label: fam }];
    for (const ps of panelSplits) {
      const series: LineSeries[] = names.map((m) => {
        const st = ctx.styles.get(m)!;
        const points: Point[] = ps.splits.flatMap((s) => (s === 'test' ? test : ood).map((h) => horizonPoint(b, m, s, fam, h, metric)));
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
      const nRange = horizonInstanceRange(b, fam, ps.splits);
      const nNote = nRange ? ` (n ${nRange[0] === nRange[1] ? nRange[0] : `${nRange[0]}–${nRange[1]}`} per horizon)` : '';
      for (const x of series) for (const p of x.points) if (p.y !== null) all.push(p.lo ?? p.y, p.y);
      specs.push({
        allH,
        render: (width) => lineChart({
          title: ps.label + nNote, xLabel: 'horizon (reasoning steps)', yLabel, series,
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

function erosionSection(ctx: Ctx): string {
  const { b } = ctx;
  const names = [BASE, ...withRuns(b)];
  const parts = ['<section id="erosion">', '<h2>Erosion curves: where reasoning first goes wrong</h2>'];
  const curves: string[] = [];
  for (const s of SPLITS) {
    const series: LineSeries[] = names.map((m) => {
      const st = ctx.styles.get(m)!;
      return { name: m, label: st.label, color: st.color, width: st.highlight ? 3 : st.width, dash: st.dash, highlight: st.highlight, points: erosionCurve(evaluationsOf(b, m, s)), markers: false };
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
      const evals = evaluationsOf(b, m, s);
      const n = evals.reduce((a, e) => a + e.n, 0);
      return { name: m, label: ctx.label(m), values: erosionBuckets(evals), highlight: m === b.ref, note: `n=${n}` };
    });
    const rowColors = new Map(names.map((m) => [m, ctx.styles.get(m)!.color]));
    parts.push(`<figure>${stackedBars({
      title: `Where the first error falls: ${SPLIT_TITLE[s]}`, categories: EROSION_BUCKETS.map((k) => ({ ...k })), rows, width: PAGE_W, rowColors,
    })}</figure>`);
  }
  parts.push('<p class="note">Each bar is one method\'s distribution of the first erroneous step, normalized to 100% (seeds pooled): darker segments are earlier failures; "after the last step" means every gold-length step held but the answer (or an extra step) went wrong.</p>');
  parts.push('</section>');
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------
// IVR-R1 diagnostics

function ivrSection(ctx: Ctx): string {
  const { b } = ctx;
  const withDiag = ivrMethods(b);
  if (!withDiag.length) return '';
  const panels: string[] = [];
  for (const k of IVR_PANELS) {
    const series: LineSeries[] = [];
    for (const m of withDiag) {
      const st = ctx.styles.get(m)!;
      const { seeds, mean } = ivrCurves(b, m, k.key);
      if (runsOf(b, m).length > 1 && withDiag.length <= 3) {
        for (const x of seeds) series.push({ name: `${m}#${x.seed}`, color: st.color, width: 1, opacity: 0.25, markers: false, noLegend: true, points: x.points });
      }
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
  const r = ctx.b.results;
  const wall = r.runs.reduce((a, x) => a + x.wall_s, 0);
  const fmtS = (s: number) => (s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${(s / 60).toFixed(1)} min` : `${s.toFixed(0)} s`);
  const parts = ['<section id="provenance">', '<h2>Provenance</h2>'];
  parts.push(`<p>Produced by:</p><pre>${esc(r.command)}</pre>`);
  parts.push(`<dl class="prov"><dt>commit</dt><dd>${esc(r.commit)}</dd><dt>machine</dt><dd>${esc(r.machine)}</dd><dt>created</dt><dd>${esc(r.created)}</dd><dt>results kind</dt><dd>${esc(r.kind)}</dd><dt>${r.kind === 'ablations' ? 'variants' : 'methods'}</dt><dd>${esc(r.methods.join(', '))}</dd><dt>seeds</dt><dd>${esc(r.seeds.join(', '))}</dd><dt>budget per run</dt><dd>${compact(r.budget_tokens)} rollout tokens (${r.budget_tokens})</dd><dt>runs</dt><dd>${r.runs.length} · ${fmtS(wall)} of run time in total</dd></dl>`);
  const rows = r.runs.map((x) => `<tr><td>${swatch(ctx, x.method)}${esc(ctx.label(x.method))}</td><td>${x.seed}</td><td>${pc1(x.eval.test.accuracy)}</td><td>${pc1(x.eval.ood.accuracy)}</td><td>${compact(x.gen_tokens_total)}</td><td>${x.curve.length}</td><td>${fmtS(x.wall_s)}</td><td>${x.peak_rss_mib ? `${x.peak_rss_mib.toFixed(0)} MiB` : '–'}</td><td>${esc(x.run_dir)}</td></tr>`);
  parts.push(`<details><summary>Every run (${r.runs.length})</summary><table><tr><th>method</th><th>seed</th><th>test acc.</th><th>OOD acc.</th><th>rollout tokens</th><th>curve points</th><th>wall time</th><th>peak RSS</th><th>run directory</th></tr>${rows.join('')}</table></details>`);
  parts.push('</section>');
  return parts.join('\n');
}
