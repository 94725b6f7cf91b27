// The report's palette: one colour, label and line style per method, the same in every
// figure of a page (Okabe & Ito's colour-blind-safe colours; IVR-R1 in vermillion, the base
// a dashed grey). Names only: nothing here draws.

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

/**
 * The styles of one report: `methodStyles` for the base and the methods, labelled for the
 * page ("base (start)"; in an ablation file the full method is "IVR-R1 (full)").
 */
export function reportStyles(base: string, methods: readonly string[], highlight: string, ablations: boolean): { styles: Map<string, SeriesStyle>; label: (m: string) => string } {
  const styles = methodStyles([base, ...methods], highlight);
  const label = (m: string) => (m === base ? 'base (start)' : ablations && m === 'ivr' ? 'IVR-R1 (full)' : methodLabel(m));
  for (const [m, s] of styles) s.label = label(m);
  return { styles, label };
}
