// The report's charts as strings of inline SVG (no scripts, no external resources), sized in
// CSS pixels, with text >= 12px: line charts (several series, optional error bars, shaded x
// regions), grouped bar charts with error bars, and 100%-stacked horizontal bars. Value
// labels are drawn only where they fit. The pieces they share are in svg.ts.
import {
  c, compact, esc, legendColumn, legendRows, niceTicks, padDomain, pct, shareDomain, svgOpen, text, textWidth, tickFormatter, yAxis,
  LABEL_PX, SWATCH, TICK_PX, TITLE_PX,
  type AxisOptions, type Frame, type LegendEntry,
} from './svg.js';

// ---------------------------------------------------------------------------------------
// line chart

export interface LinePoint { x: number; y: number | null; lo?: number; hi?: number }
export interface LineSeries {
  name: string; label?: string; color: string; points: LinePoint[];
  width?: number; dash?: string; markers?: boolean; highlight?: boolean;
  /** Stroke opacity (faint per-seed lines); default 1. */
  opacity?: number;
  /** Leave out of the legend (default false). */
  noLegend?: boolean;
}
export interface LineChartOptions {
  title: string; xLabel: string; yLabel: string; series: LineSeries[];
  width?: number; height?: number;
  x?: AxisOptions; y?: AxisOptions;
  /** 'right' (default), 'top' (wrapping rows under the title) or 'none'. */
  legend?: 'right' | 'top' | 'none';
  /** Draw whiskers from lo to hi where given. */
  errorBars?: boolean;
  /** Horizontal offset in px between series' whiskers and markers, to keep them apart. */
  dodge?: number;
  /** Shaded x ranges with a label (e.g. the OOD horizons). */
  regions?: { from: number; to: number; label: string }[];
  /** A note under the title, in grey. */
  subtitle?: string;
}

export function lineChart(o: LineChartOptions): string {
  const width = o.width ?? 560;
  const height = o.height ?? 340;
  const labelOf = (s: LineSeries) => s.label ?? s.name;
  const legendMode = o.legend ?? 'right';
  const entries: LegendEntry[] = o.series.filter((s) => !s.noLegend).map((s) => ({ label: labelOf(s), color: s.color, width: s.width, dash: s.dash }));
  const legendW = legendMode === 'right' ? Math.min(220, Math.max(...entries.map((e) => SWATCH + textWidth(e.label, LABEL_PX)), 60) + 20) : 0;
  let top = 28 + (o.subtitle ? 18 : 0);
  let legendTop = '';
  if (legendMode === 'top') {
    const l = legendRows(entries, 56, top - 4, width - 64);
    legendTop = l.svg;
    top += l.height + 6;
  }
  const xs = o.series.flatMap((s) => s.points.map((p) => p.x));
  const ys = o.series.flatMap((s) => s.points.flatMap((p) => (p.y === null ? [] : [p.y, ...(o.errorBars ? [p.lo ?? p.y, p.hi ?? p.y] : [])])));
  const xKind = o.x?.kind ?? 'number';
  const yKind = o.y?.kind ?? 'number';
  const [x0, x1] = o.x?.domain ?? (xs.length ? [Math.min(...xs), Math.max(...xs)] as [number, number] : [0, 1]);
  const [y0, y1] = o.y?.domain ?? (yKind === 'share' ? shareDomain(ys) : padDomain(ys, o.y?.zero ?? true));
  const xlo = x0;
  const xhi = x1 > x0 ? x1 : x0 + 1;
  const ylo = y0;
  const yhi = y1 > y0 ? y1 : y0 + 1;

  // y ticks first: their label width sets the left margin
  const yTicks = niceTicks(ylo, yhi, Math.max(2, Math.min(6, Math.floor((height - top - 50) / 40))), yKind === 'integer');
  const yFmt = o.y?.format ?? tickFormatter(yTicks, yKind);
  const left = 30 + Math.max(...yTicks.map((t) => textWidth(yFmt(t), TICK_PX))) + 8;
  // x ticks: as many as their labels allow (at most 6 on a continuous axis)
  const probe = o.x?.ticks ?? niceTicks(xlo, xhi, 6, xKind === 'integer');
  const probeFmt = o.x?.format ?? tickFormatter(probe, xKind);
  const maxLabel = Math.max(...probe.map((t) => textWidth(probeFmt(t), TICK_PX)), 10);
  // room on the right for the last tick's label when it sits at the end of the axis
  const right = Math.max(14, maxLabel / 2 + 6);
  const f: Frame = { left, top, width: width - left - right - legendW, height: height - top - 48 };
  const xCount = Math.max(2, Math.min(xKind === 'integer' ? 12 : 6, Math.floor(f.width / (maxLabel + 24))));
  let xTicks = o.x?.ticks ?? niceTicks(xlo, xhi, xCount, xKind === 'integer');
  const xFmt = o.x?.format ?? tickFormatter(xTicks, xKind);
  // drop ticks until neighbours' labels cannot touch
  const X = (v: number) => f.left + ((v - xlo) / (xhi - xlo)) * f.width;
  const Y = (v: number) => f.top + f.height - ((Math.min(Math.max(v, ylo), yhi) - ylo) / (yhi - ylo)) * f.height;
  if (!o.x?.ticks) for (let i = 0; i < 4 && overlaps(xTicks, X, xFmt); i++) xTicks = xTicks.filter((_, j) => j % 2 === 0);

  const parts: string[] = [svgOpen(width, height, o.title)];
  parts.push(text(4, 18, o.title, { 'font-size': TITLE_PX, 'font-weight': 600, fill: '#111' }));
  if (o.subtitle) parts.push(text(4, 36, o.subtitle, { 'font-size': TICK_PX, fill: '#555' }));
  for (const r of o.regions ?? []) {
    const a = X(Math.max(r.from, xlo));
    const b = X(Math.min(r.to, xhi));
    if (b <= a) continue;
    parts.push(`<rect class="region" x="${c(a)}" y="${c(f.top)}" width="${c(b - a)}" height="${c(f.height)}" fill="#f1f1f1"/>`);
    parts.push(text(a + 5, f.top + 15, r.label, { 'font-size': TICK_PX, fill: '#555', 'font-style': 'italic' }));
  }
  parts.push(yAxis(f, ylo, yhi, yTicks, yFmt, o.yLabel));
  // x axis
  const xa: string[] = [`<line x1="${c(f.left)}" y1="${c(f.top + f.height)}" x2="${c(f.left + f.width)}" y2="${c(f.top + f.height)}" stroke="#888" stroke-width="1"/>`];
  for (const t of xTicks) {
    const xx = X(t);
    xa.push(`<line x1="${c(xx)}" y1="${c(f.top + f.height)}" x2="${c(xx)}" y2="${c(f.top + f.height + 5)}" stroke="#888" stroke-width="1"/>`);
    xa.push(text(xx, f.top + f.height + 19, xFmt(t), { 'font-size': TICK_PX, 'text-anchor': 'middle', fill: '#444' }));
  }
  xa.push(text(f.left + f.width / 2, height - 8, o.xLabel, { 'font-size': LABEL_PX, 'text-anchor': 'middle', fill: '#222' }));
  parts.push(`<g class="x-axis">${xa.join('')}</g>`);

  // series: highlighted ones last so they sit on top
  const order = o.series.map((s, i) => ({ s, i })).sort((a, b) => Number(!!a.s.highlight) - Number(!!b.s.highlight));
  const k = o.series.length;
  for (const { s, i } of order) {
    const off = (o.dodge ?? 0) * (i - (k - 1) / 2);
    const w = s.width ?? 2;
    const pts = s.points.filter((p) => Number.isFinite(p.x) && p.x >= xlo && p.x <= xhi);
    const g: string[] = [];
    // paths broken at null / non-finite y
    let d = '';
    let pen = false;
    for (const p of pts) {
      if (p.y === null || !Number.isFinite(p.y)) { pen = false; continue; }
      d += `${pen ? 'L' : 'M'}${c(X(p.x) + off)},${c(Y(p.y))}`;
      pen = true;
    }
    if (d) g.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="${c(w)}" stroke-linejoin="round" stroke-linecap="round"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}${s.opacity !== undefined ? ` stroke-opacity="${s.opacity}"` : ''}/>`);
    if (o.errorBars) {
      for (const p of pts) {
        if (p.y === null || p.lo === undefined || p.hi === undefined || !Number.isFinite(p.lo) || !Number.isFinite(p.hi) || p.hi - p.lo <= 0) continue;
        const xx = X(p.x) + off;
        g.push(`<path d="M${c(xx)},${c(Y(p.lo))}L${c(xx)},${c(Y(p.hi))}M${c(xx - 3)},${c(Y(p.lo))}L${c(xx + 3)},${c(Y(p.lo))}M${c(xx - 3)},${c(Y(p.hi))}L${c(xx + 3)},${c(Y(p.hi))}" stroke="${s.color}" stroke-width="1.3" fill="none" opacity="0.7"/>`);
      }
    }
    const showMarkers = s.markers ?? pts.length <= 30;
    if (showMarkers) {
      for (const p of pts) {
        if (p.y === null || !Number.isFinite(p.y)) continue;
        g.push(`<circle cx="${c(X(p.x) + off)}" cy="${c(Y(p.y))}" r="${c(s.highlight ? 4 : 3)}" fill="${s.color}" stroke="#fff" stroke-width="0.8"/>`);
      }
    }
    parts.push(`<g class="series" data-series="${esc(s.name)}">${g.join('')}</g>`);
  }
  if (legendMode === 'right') parts.push(legendColumn(entries, width - legendW + 4, f.top + 4));
  if (legendMode === 'top') parts.push(legendTop);
  parts.push('</svg>');
  return parts.join('');
}

function overlaps(ticks: number[], X: (v: number) => number, fmt: (v: number) => string): boolean {
  for (let i = 1; i < ticks.length; i++) {
    const a = X(ticks[i - 1]!) + textWidth(fmt(ticks[i - 1]!), TICK_PX) / 2;
    const b = X(ticks[i]!) - textWidth(fmt(ticks[i]!), TICK_PX) / 2;
    if (b - a < 8) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// grouped bar chart

export interface BarValue { mean: number; lo?: number; hi?: number }
export interface BarSeries { name: string; label?: string; color: string; values: (BarValue | null)[]; highlight?: boolean; hatch?: boolean }
export interface BarChartOptions {
  title: string; yLabel: string; groups: string[]; series: BarSeries[];
  width?: number; height?: number; y?: AxisOptions;
  legend?: 'right' | 'top' | 'none';
  /** Print each bar's value above it where it fits (default true). */
  valueLabels?: boolean;
  subtitle?: string;
}

export function barChart(o: BarChartOptions): string {
  const width = o.width ?? 560;
  const height = o.height ?? 340;
  const legendMode = o.legend ?? 'top';
  const entries: LegendEntry[] = o.series.map((s) => ({ label: s.label ?? s.name, color: s.color, kind: 'box' }));
  const legendW = legendMode === 'right' ? Math.min(220, Math.max(...entries.map((e) => SWATCH + textWidth(e.label, LABEL_PX)), 60) + 20) : 0;
  let top = 28 + (o.subtitle ? 18 : 0);
  let legendTop = '';
  if (legendMode === 'top') {
    const l = legendRows(entries, 56, top - 4, width - 64);
    legendTop = l.svg;
    top += l.height + 10;
  }
  const yKind = o.y?.kind ?? 'number';
  const vals = o.series.flatMap((s) => s.values.flatMap((v) => (v ? [v.mean, v.hi ?? v.mean] : [])));
  const [ylo, yhiRaw] = o.y?.domain ?? (yKind === 'share' ? shareDomain(vals) : padDomain(vals, true));
  const yhi = yhiRaw > ylo ? yhiRaw : ylo + 1;
  const yTicks = niceTicks(ylo, yhi, Math.max(2, Math.min(6, Math.floor((height - top - 50) / 40))), yKind === 'integer');
  const yFmt = o.y?.format ?? tickFormatter(yTicks, yKind);
  const left = 30 + Math.max(...yTicks.map((t) => textWidth(yFmt(t), TICK_PX))) + 8;
  const valueLabels = o.valueLabels ?? true;
  const f: Frame = { left, top: top + (valueLabels ? 14 : 0), width: width - left - 14 - legendW, height: height - top - 48 - (valueLabels ? 14 : 0) };
  const Y = (v: number) => f.top + f.height - ((Math.min(Math.max(v, ylo), yhi) - ylo) / (yhi - ylo)) * f.height;
  const groupW = f.width / Math.max(1, o.groups.length);
  const inner = groupW * 0.8;
  const barW = inner / Math.max(1, o.series.length);
  const valueFmt = (v: number) => (yKind === 'share' ? pct(v, barW >= 40 ? 1 : 0) : compact(v));

  const parts: string[] = [svgOpen(width, height, o.title)];
  parts.push(text(4, 18, o.title, { 'font-size': TITLE_PX, 'font-weight': 600, fill: '#111' }));
  if (o.subtitle) parts.push(text(4, 36, o.subtitle, { 'font-size': TICK_PX, fill: '#555' }));
  parts.push(yAxis(f, ylo, yhi, yTicks, yFmt, o.yLabel));
  const xa: string[] = [`<line x1="${c(f.left)}" y1="${c(f.top + f.height)}" x2="${c(f.left + f.width)}" y2="${c(f.top + f.height)}" stroke="#888" stroke-width="1"/>`];
  o.groups.forEach((g, gi) => {
    xa.push(text(f.left + groupW * (gi + 0.5), f.top + f.height + 20, g, { 'font-size': LABEL_PX, 'text-anchor': 'middle', fill: '#222', 'font-weight': 600 }));
  });
  parts.push(`<g class="x-axis">${xa.join('')}</g>`);
  o.series.forEach((s, si) => {
    const g: string[] = [];
    s.values.forEach((v, gi) => {
      if (!v || !Number.isFinite(v.mean)) return;
      const x = f.left + groupW * gi + (groupW - inner) / 2 + barW * si;
      const yTop = Y(v.mean);
      const base = Y(Math.max(ylo, 0));
      g.push(`<rect x="${c(x + 1)}" y="${c(Math.min(yTop, base))}" width="${c(Math.max(1, barW - 2))}" height="${c(Math.abs(base - yTop))}" fill="${s.color}"${s.highlight ? ' stroke="#222" stroke-width="1.5"' : ''}${s.hatch ? ' fill-opacity="0.55"' : ''}/>`);
      let labelY = yTop;
      if (v.lo !== undefined && v.hi !== undefined && Number.isFinite(v.lo) && Number.isFinite(v.hi) && v.hi > v.lo) {
        const xx = x + barW / 2;
        const cap = Math.min(6, barW / 3);
        g.push(`<path class="error-bar" d="M${c(xx)},${c(Y(v.lo))}L${c(xx)},${c(Y(v.hi))}M${c(xx - cap)},${c(Y(v.lo))}L${c(xx + cap)},${c(Y(v.lo))}M${c(xx - cap)},${c(Y(v.hi))}L${c(xx + cap)},${c(Y(v.hi))}" stroke="#222" stroke-width="1.4" fill="none"/>`);
        labelY = Math.min(labelY, Y(v.hi));
      }
      const label = valueFmt(v.mean);
      if (valueLabels && textWidth(label, TICK_PX) <= barW + 2) {
        g.push(text(x + barW / 2, labelY - 5, label, { 'font-size': TICK_PX, 'text-anchor': 'middle', fill: '#222' }));
      }
    });
    parts.push(`<g class="series" data-series="${esc(s.name)}">${g.join('')}</g>`);
  });
  if (legendMode === 'right') parts.push(legendColumn(entries, width - legendW + 4, f.top + 4));
  if (legendMode === 'top') parts.push(legendTop);
  parts.push('</svg>');
  return parts.join('');
}

// ---------------------------------------------------------------------------------------
// 100%-stacked horizontal bars (distributions)

export interface StackedRow { name: string; label?: string; values: number[]; highlight?: boolean; note?: string }
export interface StackedBarsOptions {
  title: string; categories: { label: string; color: string }[]; rows: StackedRow[];
  width?: number; subtitle?: string;
  /** Colour of the row labels' swatches (method colours), by row name. */
  rowColors?: Map<string, string>;
}

function luminance(hex: string): number {
  const n = parseInt(hex.slice(1), 16);
  const ch = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * ch[0]! + 0.7152 * ch[1]! + 0.0722 * ch[2]!;
}

/** Each row is normalized to 100%; segments wide enough carry their share as a label. */
export function stackedBars(o: StackedBarsOptions): string {
  const width = o.width ?? 1100;
  let top = 28 + (o.subtitle ? 18 : 0);
  const legend = legendRows(o.categories.map((k) => ({ label: k.label, color: k.color, kind: 'box' as const })), 4, top - 4, width - 8);
  top += legend.height + 10;
  const rowH = 26;
  const gap = 8;
  const labelW = Math.max(...o.rows.map((r) => textWidth(r.label ?? r.name, LABEL_PX)), 40) + (o.rowColors ? 22 : 8);
  const noteW = Math.max(0, ...o.rows.map((r) => (r.note ? textWidth(r.note, TICK_PX) + 10 : 0)));
  const f: Frame = { left: labelW + 8, top, width: width - labelW - 16 - noteW, height: o.rows.length * (rowH + gap) };
  const height = top + f.height + 30;
  const parts: string[] = [svgOpen(width, height, o.title)];
  parts.push(text(4, 18, o.title, { 'font-size': TITLE_PX, 'font-weight': 600, fill: '#111' }));
  if (o.subtitle) parts.push(text(4, 36, o.subtitle, { 'font-size': TICK_PX, fill: '#555' }));
  parts.push(legend.svg);
  o.rows.forEach((r, ri) => {
    const y = top + ri * (rowH + gap);
    const g: string[] = [];
    const swatch = o.rowColors?.get(r.name);
    if (swatch) g.push(`<rect x="4" y="${c(y + rowH / 2 - 6)}" width="12" height="12" fill="${swatch}"/>`);
    g.push(text(swatch ? 22 : 4, y + rowH / 2 + 4.5, r.label ?? r.name, { 'font-size': LABEL_PX, fill: '#222', 'font-weight': r.highlight ? 700 : 400 }));
    const total = r.values.reduce((a, b) => a + (Number.isFinite(b) && b > 0 ? b : 0), 0);
    let x = f.left;
    r.values.forEach((v, ci) => {
      if (!(total > 0) || !(v > 0)) return;
      const w = (v / total) * f.width;
      const col = o.categories[ci]?.color ?? '#999';
      g.push(`<rect x="${c(x)}" y="${c(y)}" width="${c(w)}" height="${rowH}" fill="${col}" stroke="#fff" stroke-width="1"/>`);
      const label = pct(v / total);
      if (textWidth(label, TICK_PX) + 6 <= w) {
        g.push(text(x + w / 2, y + rowH / 2 + 4.5, label, { 'font-size': TICK_PX, 'text-anchor': 'middle', fill: luminance(col) > 0.35 ? '#111' : '#fff' }));
      }
      x += w;
    });
    if (!(total > 0)) g.push(text(f.left + 4, y + rowH / 2 + 4.5, 'no data', { 'font-size': TICK_PX, fill: '#777' }));
    if (r.note) g.push(text(f.left + f.width + 8, y + rowH / 2 + 4.5, r.note, { 'font-size': TICK_PX, fill: '#555' }));
    parts.push(`<g class="row" data-row="${esc(r.name)}">${g.join('')}</g>`);
  });
  // a 0–100% scale under the rows
  const ya = top + f.height;
  for (const t of [0, 0.25, 0.5, 0.75, 1]) {
    const xx = f.left + t * f.width;
    parts.push(`<line x1="${c(xx)}" y1="${c(ya - 4)}" x2="${c(xx)}" y2="${c(ya + 2)}" stroke="#888"/>`);
    parts.push(text(xx, ya + 16, pct(t), { 'font-size': TICK_PX, 'text-anchor': 'middle', fill: '#444' }));
  }
  parts.push('</svg>');
  return parts.join('');
}
