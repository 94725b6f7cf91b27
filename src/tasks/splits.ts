// Splits: disjoint seed ranges, fixed horizon schedules. A split is a pure function of
// (family, split, index), so every machine sees the same instances.
//
//   split  seeds (instance i has seed seedBase + i)   capacity       horizons
//   train  0 + i                                     1,000,000,000  family.horizons.train
//   val    1,000,000,000 + i                         100,000,000    family.horizons.train
//   test   1,100,000,000 + i                         100,000,000    family.horizons.train
//   ood    1,200,000,000 + i                         100,000,000    family.horizons.ood
//
// The generator mixes the family id and horizon into the seed, so the same seed in two
// families gives unrelated scenes. Horizons: instance i of a split whose horizon range has
// `span` values gets horizon lo + ((i · stride) mod span), with `stride` coprime to span
// (close to span / golden ratio): every block of `span` consecutive instances holds each
// horizon exactly once, and even a short prefix covers the range evenly.
// Default sizes (used by the CLI when --n is not given): train 10000, val 500, test 1000, ood 1000.
import type { FamilyId, HorizonRange, Instance, SplitId } from './types.js';
import { SPLIT_IDS } from './types.js';
import { getFamily } from './registry.js';

export interface SplitSpec {
  readonly id: SplitId;
  /** Seed of instance 0. */
  readonly seedBase: number;
  /** Number of distinct instances (seeds) the split can hold. */
  readonly capacity: number;
  /** Suggested size for evaluation / export. */
  readonly defaultSize: number;
  /** Which of the family's horizon ranges the split uses. */
  readonly horizons: 'train' | 'ood';
}

export const SPLITS: Readonly<Record<SplitId, SplitSpec>> = Object.freeze({
  train: { id: 'train', seedBase: 0, capacity: 1_000_000_000, defaultSize: 10_000, horizons: 'train' },
  val: { id: 'val', seedBase: 1_000_000_000, capacity: 100_000_000, defaultSize: 500, horizons: 'train' },
  test: { id: 'test', seedBase: 1_100_000_000, capacity: 100_000_000, defaultSize: 1000, horizons: 'train' },
  ood: { id: 'ood', seedBase: 1_200_000_000, capacity: 100_000_000, defaultSize: 1000, horizons: 'ood' },
});

export function isSplitId(id: unknown): id is SplitId {
  return typeof id === 'string' && (SPLIT_IDS as readonly string[]).includes(id);
}

/** The inclusive horizon range of a split for a family. */
export function splitHorizons(family: FamilyId, split: SplitId): HorizonRange {
  return getFamily(family).horizons[SPLITS[split].horizons];
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function strideFor(span: number): number {
  let s = Math.max(1, Math.round(span / 1.618033988749895));
  while (gcd(s, span) !== 1) s++;
  return s;
}

/** Seed and horizon of instance `index` of a split. */
export function splitEntry(family: FamilyId, split: SplitId, index: number): { seed: number; horizon: number } {
  const spec = SPLITS[split];
  if (!spec) throw new Error(`unknown split ${JSON.stringify(split)} (known: ${SPLIT_IDS.join(', ')})`);
  if (!Number.isInteger(index) || index < 0 || index >= spec.capacity) throw new RangeError(`split ${split}: index must be an integer in 0..${spec.capacity - 1}, got ${index}`);
  const [lo, hi] = splitHorizons(family, split);
  const span = hi - lo + 1;
  return { seed: spec.seedBase + index, horizon: lo + ((index % span) * strideFor(span)) % span };
}

/**
 * Instances offset … offset+n-1 of a split, identical on every machine. Each carries
 * `split`. Throws a RangeError when the range exceeds the split's capacity.
 */
export function getSplit(family: FamilyId, split: SplitId, n: number, offset = 0): Instance[] {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`getSplit: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`getSplit: offset must be a non-negative integer, got ${offset}`);
  const spec = SPLITS[split];
  if (!spec) throw new Error(`unknown split ${JSON.stringify(split)} (known: ${SPLIT_IDS.join(', ')})`);
  if (offset + n > spec.capacity) throw new RangeError(`getSplit: split ${split} holds ${spec.capacity} instances; asked for ${offset}..${offset + n - 1}`);
  const fam = getFamily(family);
  const out: Instance[] = [];
  for (let i = offset; i < offset + n; i++) {
    const { seed, horizon } = splitEntry(family, split, i);
    out.push({ ...fam.generate(seed, horizon), split });
  }
  return out;
}
