// The pieces every SVG chart of the report is made of: escaping, text widths, number
// formats, round ticks and domains, the <svg> element, text, the y axis and legends (in rows
// that wrap, in a column, or standalone). The charts themselves are in charts.ts.
//
// Layout rules that keep charts readable: tick counts follow the space available for their
// labels, legends sit beside or above the plot (never on it), and every coordinate is a
// finite number rounded to 0.1 px.

// ---------------------------------------------------------------------------------------
// text and numbers

export const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif";
export const TICK_PX = 12;
export const LABEL_PX = 13;
export const TITLE_PX = 15;

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A coordinate: finite, rounded to 0.1 px. */
export function c(v: number): string {
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

export function padDomain(values: number[], zero: boolean): [number, number] {
  const f = values.filter(Number.isFinite);
  if (!f.length) return [0, 1];
  let lo = Math.min(...f);
  let hi = Math.max(...f);
  if (zero) lo = Math.min(0, lo);
  if (hi === lo) { hi = lo + (Math.abs(lo) || 1); if (!zero) lo -= (Math.abs(lo) || 1) * 0.1; }
  const step = niceStep(hi - lo, 5, false);
  return [zero && lo === 0 ? 0 : Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

export function tickFormatter(ticks: number[], kind: 'share' | 'number' | 'integer'): (v: number) => string {
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

export function svgOpen(width: number, height: number, label: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${c(width)}" height="${c(height)}" viewBox="0 0 ${c(width)} ${c(height)}" role="img" aria-label="${esc(label)}" font-family="${esc(FONT)}">`
    + `<title>${esc(label)}</title>`;
}

export function text(x: number, y: number, s: string, attrs: Record<string, string | number> = {}): string {
  const a = Object.entries(attrs).map(([k, v]) => ` ${k}="${typeof v === 'number' ? c(v) : esc(v)}"`).join('');
  return `<text x="${c(x)}" y="${c(y)}"${a}>${esc(s)}</text>`;
}

export interface LegendEntry { label: string; color: string; width?: number; dash?: string; kind?: 'line' | 'box' }

export function legendSwatch(x: number, y: number, e: LegendEntry): string {
  if (e.kind === 'box') return `<rect x="${c(x)}" y="${c(y - 6)}" width="14" height="12" fill="${e.color}" stroke="#333" stroke-width="0.5"/>`;
  const w = e.width ?? 2;
  return `<line x1="${c(x)}" y1="${c(y)}" x2="${c(x + 22)}" y2="${c(y)}" stroke="${e.color}" stroke-width="${c(w)}"${e.dash ? ` stroke-dasharray="${e.dash}"` : ''}/>`
    + `<circle cx="${c(x + 11)}" cy="${c(y)}" r="${c(w > 2 ? 4 : 3)}" fill="${e.color}"/>`;
}

export const SWATCH = 28;
export const LEGEND_ROW = 20;

/** Legend entries laid out in rows that wrap at `width`; returns the markup and its height. */
export function legendRows(entries: readonly LegendEntry[], x0: number, y0: number, width: number): { svg: string; height: number } {
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

export interface Frame { left: number; top: number; width: number; height: number }

export function yAxis(f: Frame, lo: number, hi: number, ticks: number[], fmt: (v: number) => string, label: string): string {
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

export interface AxisOptions { domain?: [number, number]; kind?: 'share' | 'number' | 'integer'; format?: (v: number) => string; zero?: boolean; /** Fixed tick values (x axis of line charts). */ ticks?: number[] }

export function legendColumn(entries: readonly LegendEntry[], x: number, y: number): string {
  return `<g class="legend">${entries.map((e, i) => {
    const yy = y + 8 + i * LEGEND_ROW;
    return `<g class="legend-entry">${legendSwatch(x, yy, e)}${text(x + SWATCH, yy + 4.5, e.label, { 'font-size': LABEL_PX, fill: '#222' })}</g>`;
  }).join('')}</g>`;
}
