// The headline's sentences: what the numbers of one comparison column say, in words.
// Pure: facts in (intervals already computed by compare.ts), plain text out. Two rules:
// every method is placed against the base it started from ("below the base" where its
// mean is below), and no method is called best when its mean does not beat the base.
import type { Ci } from './results.js';

export interface Standing {
  label: string;
  ci: Ci;
  /** Method minus base (null when there is no base evaluation). */
  vsBase: Ci | null;
}

export interface ColumnFacts {
  title: string;
  base: Ci | null;
  /** Every method with runs, any order. */
  standings: Standing[];
  /** The method under study against the strongest other method (by mean), if any. */
  reference: { label: string; vs: { label: string; d: Ci } | null } | null;
}

export type Verdict = 'above' | 'below' | 'not separated';

/** Sign of a difference, from its 95% interval. */
export function verdictOf(d: Ci): Verdict {
  if (d.ci_low > 0) return 'above';
  if (d.ci_high < 0) return 'below';
  return 'not separated';
}

export const pts = (v: number) => `${v >= 0 ? '+' : '−'}${Math.abs(v * 100).toFixed(1)}`;
const pc = (v: number) => `${(v * 100).toFixed(1)}%`;
const interval = (ci: Ci) => `95% CI ${pc(ci.ci_low)}–${pc(ci.ci_high)}`;
const diffText = (d: Ci) => `${pts(d.mean)} pts [${pts(d.ci_low)}, ${pts(d.ci_high)}]`;

/** Where a method stands against the base, as a phrase. */
export function againstBase(s: Standing): string {
  const d = s.vsBase;
  if (!d) return '';
  const v = verdictOf(d);
  if (v === 'above') return `above the base, ${diffText(d)}`;
  if (v === 'below') return `below the base, ${diffText(d)}`;
  return d.mean < 0 ? `below the base by mean, not separated, ${diffText(d)}` : `above the base by mean, not separated, ${diffText(d)}`;
}

export function columnClaim(f: ColumnFacts): string {
  const parts: string[] = [];
  const ranked = [...f.standings].sort((a, b) => b.ci.mean - a.ci.mean);
  parts.push(f.base ? `base ${pc(f.base.mean)} (${interval(f.base)})` : 'no base evaluation');
  if (ranked.length) {
    const best = ranked[0]!;
    const beatsBase = !f.base || best.ci.mean > f.base.mean;
    parts.push(beatsBase
      ? `best mean ${best.label} ${pc(best.ci.mean)} (${interval(best.ci)})`
      : `no method reaches the base by mean (the best, ${best.label}, has ${pc(best.ci.mean)})`);
    if (f.base) parts.push(ranked.map((s) => `${s.label}: ${againstBase(s)}`).join('; '));
  }
  if (f.reference?.vs) {
    const { d, label } = f.reference.vs;
    const v = verdictOf(d);
    const word = v === 'above' ? 'ahead' : v === 'below' ? 'behind' : 'not separated';
    parts.push(`${f.reference.label} against the strongest other method, ${label}: ${diffText(d)}, ${word}`);
  }
  return `${f.title}: ${parts.join('. ')}.`;
}
