// Small, plain SVG plotting helpers for the report: line charts (several series, optional
// error bars, shaded x regions), grouped bar charts with error bars, 100%-stacked horizontal
// bars, and a standalone legend. Everything is a string of inline SVG (no scripts, no
// external resources), sized in CSS pixels, with text >= 12px.
//
// Layout rules that keep charts readable: tick counts follow the space available for their
// labels, legends sit beside or above the plot (never on it), value labels are drawn only
// where they fit, and every coordinate is a finite number rounded to 0.1 px.

// ---------------------------------------------------------------------------------------
// colours

/** Okabe & Ito's colour-blind-safe palette. */
export const OKABE_ITO = {
  black: '#000000', orange: '#E69F00', skyBlue: '#56B4E9', green: '#009E73',
  yellow: '#F0E442', blue: '#0072B2', vermillion: '#D55E00', purple: '#CC79A7',
} as const;

export const GREY = '#6b6b6b';

export interface SeriesStyle { label: string; color: string; width: number; dash?: string; highlight: boolean }

const KNOWN: Record<string, { label: string; color: string }> = {
  ivr: { label: 'IVR-R1', color: OKABE_ITO.vermillion },
  grpo: { label: 'GRPO', color: OKABE_ITO.blue },
  drgrpo: { label: 'Dr. GRPO', color: OKABE_ITO.skyBlue },
  dapo: { label: 'DAPO', color: OKABE_ITO.green },
  luffy: { label: 'LUFFY', color: OKABE_ITO.purple },
  sft: { label: 'SFT', color: OKABE_ITO.orange },
  base: { label: 'base', color: GREY },
};
/** Colours handed to names without a fixed one, in order (yellow last: weak on white). */
const POOL = [OKABE_ITO.blue, OKABE_ITO.skyBlue, OKABE_ITO.green, OKABE_ITO.purple, OKABE_ITO.orange, OKABE_ITO.black, '#999999', '#B59F00'];

/** A display name: IVR-R1, GRPO, Dr. GRPO, DAPO, LUFFY, SFT; other names as they are. */
export function methodLabel(name: string): string {
  return KNOWN[name]?.label ?? name;
}

/**
 * One style per name, the same in every plot of a report: known methods keep their fixed
 * colour, other names take the pool's colours in order. `highlight` (IVR-R1 by default) is
 * drawn thicker in vermillion; "base" is a dashed grey line.
 */
export function methodStyles(names: readonly string[], highlight = 'ivr'): Map<string, SeriesStyle> {
  const out = new Map<string, SeriesStyle>();
  const used = new Set<string>();
  for (const n of names) {
    const k = KNOWN[n];
    if (n === highlight) { out.set(n, { label: methodLabel(n), color: OKABE_ITO.vermillion, width: 3.5, highlight: true }); used.add(OKABE_ITO.vermillion); }
    else if (k && !(n !== 'ivr' && k.color === OKABE_ITO.vermillion)) {
      if (n === 'ivr') continue; // a non-highlighted "ivr" gets a pool colour below
      out.set(n, { label: k.label, color: k.color, width: 2, dash: n === 'base' ? '6 4' : undefined, highlight: false });
      used.add(k.color);
    }
  }
  let next = 0;
  for (const n of names) {
    if (out.has(n)) continue;
    const free = POOL.filter((c) => !used.has(c));
    const color = free.length ? free[0]! : POOL[next++ % POOL.length]!;
    used.add(color);
    out.set(n, { label: methodLabel(n), color, width: 2, highlight: false });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// text and numbers

export const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
const TICK_PX = 12;
const LABEL_PX = 13;
const TITLE_PX = 15;

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A coordinate: finite, rounded to 0.1 px. */
function c(v: number): string {
  if (!Number.isFinite(v)) throw new RangeError(`svg: non-finite coordinate ${v}`);
  const r = Math.round(v * 10) / 10;
  return String(Object.is(r, -0) ? 0 : r);
}

/** Rough width of a text in px (sans-serif averages ~0.58 em per character). */
export function textWidth(s: string, px: number): number {
  let w = 0;
  for (const ch of s) w += /[il.,:;|'!1 ]/.test(ch) ? 0.32 : /[mwMW%]/.test(ch) ? 0.85 : /[A-Z0-9]/.test(ch) ? 0.64 : 0.55;
  return w * px;
}

/** 0.423 → "42%" (decimals as needed for `step`). */
export function pct(v: number, decimals = 0): string {
  return `${(v * 100).toFixed(decimals)}%`;
}

/** 1234567 → "1.2M", 45000 → "45k". */
export function compact(v: number): string {
  const a = Math.abs(v);
  const trim = (s: string) => s.replace(/\.0$/, '');
  if (a >= 1e9) return `${trim((v / 1e9).toFixed(1))}G`;
  if (a >= 1e6) return `${trim((v / 1e6).toFixed(a >= 1e7 ? 0 : 1))}M`;
  if (a >= 1e3) return `${trim((v / 1e3).toFixed(a >= 1e4 ? 0 : 1))}k`;
  return trim(v.toFixed(a < 10 && !Number.isInteger(v) ? 2 : 0));
}

function niceStep(range: number, count: number, integer: boolean): number {
  const raw = range / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const r = raw / mag;
  let step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
  if (integer) step = Math.max(1, Math.round(step));
  return step;
}

/** Round tick values covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count: number, integer = false): number[] {
  if (!(hi > lo)) return [lo];
  const step = niceStep(hi - lo, count, integer);
  const out: number[] = [];
  const start = Math.ceil(lo / step - 1e-9) * step;
  const decimals = Math.max(0, Math.min(12, 2 - Math.floor(Math.log10(step))));
  for (let v = start; v <= hi + step * 1e-9; v += step) out.push(Number((Math.round(v / step) * step).toFixed(decimals)) + 0);
  return out;
}

/** A domain [0, top] for shares: top is the next nice step above the data (at most 1). */
export function shareDomain(values: readonly number[]): [number, number] {
  const max = Math.max(0, ...values.filter(Number.isFinite));
  if (max <= 0) return [0, 1];
  const steps = [0.05, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1];
  return [0, steps.find((s) => s >= max * 1.05) ?? 1];
}

function padDomain(values: number[], zero: boolean): [number, number] {
  const f = values.filter(Number.isFinite);
  if (!f.length) return [0, 1];
  let lo = Math.min(...f);
  let hi = Math.max(...f);
  if (zero) lo = Math.min(0, lo);
  if (hi === lo) { hi = lo + (Math.abs(lo) || 1); if (!zero) lo -= (Math.abs(lo) || 1) * 0.1; }
  const step = niceStep(hi - lo, 5, false);
  return [zero && lo === 0 ? 0 : Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

function tickFormatter(ticks: number[], kind: 'share' | 'number' | 'integer'): (v: number) => string {
  const step = ticks.length > 1 ? Math.abs(ticks[1]! - ticks[0]!) : 1;
  if (kind === 'share') {
    const d = Math.max(0, -Math.floor(Math.log10(step * 100) + 1e-9));
    return (v) => pct(v, d);
  }
  if (kind === 'integer') return (v) => String(Math.round(v));
  return numberTicks(ticks);
}

/** Tick labels in one unit (k, M, G) with as few decimals as represent every tick exactly. */
export function numberTicks(ticks: readonly number[]): (v: number) => string {
  const max = Math.max(0, ...ticks.map(Math.abs));
  const [unit, suffix] = max >= 1e9 ? [1e9, 'G'] : max >= 1e6 ? [1e6, 'M'] : max >= 1e4 ? [1e3, 'k'] : [1, ''];
  let d = 0;
  while (d < 4 && ticks.some((v) => Math.abs(Number((v / unit).toFixed(d)) - v / unit) > 1e-9 * Math.max(1, Math.abs(v / unit)))) d++;
  return (v) => (v === 0 ? '0' : `${(v / unit).toFixed(d)}${suffix}`);
}

// ---------------------------------------------------------------------------------------
// shared pieces

function svgOpen(width: number, height: number, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${c(width)}" height="${c(height)}" viewBox="0 0 ${c(width)} ${c(height)}" role="img" aria-label="${esc(label)}" font-family="${esc(FONT)}">`
    + `<title>${esc(label)}</title>`;
}

function text(x: number, y: number, s: string, attrs: Record<string, string | number> = {}): string {
  const a = Object.entries(attrs).map(([k, v]) => ` ${k}="${typeof v === 'number' ? c(v) : esc(v)}"`).join('');
  return `<text x="${c(x)}" y="${c(y)}"${a}>${esc(s)}</text>`;
}

export interface LegendEntry { label: string; color: string; width?: number; dash?: string; kind?: 'line' | 'box' }

function legendSwatch(x: number, y: number, e: LegendEntry): string {
  if (e.kind === 'box') return `<rect x="${c(x)}" y="${c(y - 6)}" width="14" height="12" fill="${e.color}" stroke="#333" stroke-width="0.5"/>`;
  const w = e.width ?? 2;
  return `<line x1="${c(x)}" y1="${c(y)}" x2="${c(x + 22)}" y2="${c(y)}" stroke="${e.color}" stroke-width="${c(w)}"${e.dash ? ` stroke-dasharray="${e.dash}"` : ''}/>`
    + `<circle cx="${c(x + 11)}" cy="${c(y)}" r="${c(w > 2 ? 4 : 3)}" fill="${e.color}"/>`;
}

const SWATCH = 28;
const LEGEND_ROW = 20;

/** Legend entries laid out in rows that wrap at `width`; returns the markup and its height. */
function legendRows(entries: readonly LegendEntry[], x0: number, y0: number, width: number): { svg: string; height: number } {
  let x = x0;
  let y = y0 + LEGEND_ROW / 2;
  const parts: string[] = [];
  for (const e of entries) {
    const w = SWATCH + textWidth(e.label, LABEL_PX) + 18;
    if (x > x0 && x + w > x0 + width) { x = x0; y += LEGEND_ROW; }
    parts.push(`<g class="legend-entry">${legendSwatch(x, y, e)}${text(x + SWATCH, y + 4.5, e.label, { 'font-size': LABEL_PX, fill: '#222' })}</g>`);
    x += w;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: entries.length ? y - y0 + LEGEND_ROW / 2 : 0 };
}

/** A standalone legend (for a figure of several panels that share one). */
export function legendSvg(entries: readonly LegendEntry[], width: number, title = 'legend'): string {
  const { svg, height } = legendRows(entries, 4, 2, width - 8);
  return `${svgOpen(width, height + 4, title)}${svg}</svg>`;
}

interface Frame { left: number; top: number; width: number; height: number }

function yAxis(f: Frame, lo: number, hi: number, ticks: number[], fmt: (v: number) => string, label: string): string {
  const y = (v: number) => f.top + f.height - ((v - lo) / (hi - lo)) * f.height;
  const parts: string[] = [];
  for (const t of ticks) {
    const yy = y(t);
    parts.push(`<line x1="${c(f.left)}" y1="${c(yy)}" x2="${c(f.left + f.width)}" y2="${c(yy)}" stroke="#e3e3e3" stroke-width="1"/>`);
    parts.push(text(f.left - 6, yy + 4, fmt(t), { 'font-size': TICK_PX, 'text-anchor': 'end', fill: '#444' }));
  }
  parts.push(`<line x1="${c(f.left)}" y1="${c(f.top)}" x2="${c(f.left)}" y2="${c(f.top + f.height)}" stroke="#888" stroke-width="1"/>`);
  parts.push(text(0, 0, label, { 'font-size': LABEL_PX, 'text-anchor': 'middle', fill: '#222', transform: `translate(${c(14)},${c(f.top + f.height / 2)}) rotate(-90)` }));
  return `<g class="y-axis">${parts.join('')}</g>`;
}

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
export interface AxisOptions { domain?: [number, number]; kind?: 'share' | 'number' | 'integer'; format?: (v: number) => string; zero?: boolean; /** Fixed tick values (x axis of line charts). */ ticks?: number[] }
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

function legendColumn(entries: readonly LegendEntry[], x: number, y: number): string {
  return `<g class="legend">${entries.map((e, i) => {
    const yy = y + 8 + i * LEGEND_ROW;
    return `<g class="legend-entry">${legendSwatch(x, yy, e)}${text(x + SWATCH, yy + 4.5, e.label, { 'font-size': LABEL_PX, fill: '#222' })}</g>`;
  }).join('')}</g>`;
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
