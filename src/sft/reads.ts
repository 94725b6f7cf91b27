// Perception probe data: horizon-1 instances (one read of the image, then the answer) and
// what kind of read each one is. A read is a gold step that makes a visual claim, as the
// family's own verifier counts claims (TaskFamily.checkSteps), so the probe follows the
// families' step grammars instead of restating them:
//
//   grid    "R 24 o 24"  the start cell and the status of the cell the move leads to
//           kinds: open (the target is open), wall (a wall), edge (off the grid: the start only)
//   shapes  "rc@r2=3"    one count in one row or column; two kinds per read: the line (row,
//                        column) and the filter: colour+shape (rc), colour (r.), shape (.t), all (..)
//   chart   "r=5"        one bar's height; two kinds per read: its colour (colour r) and its
//                        value range (value 1-3, value 4-6, value 7-9)
//
// The read tokens (what a loss weight on reading applies to) are the characters of a read step
// that the image determines: the value after "=" (shapes, chart: "rc@r2=|3|", "r=|5|") and, in
// grid, all after the move ("R |24 o 24|": the target follows from the start cell).
//
// A step the classification does not recognise (a family whose grammar changed) is kind
// "other", so a probe still runs and says that its kinds need updating.
import { generateInstance, getFamily, SPLITS, type FamilyId, type Instance } from '../tasks/index.js';

/** The probe's horizon: one reasoning step, the read. */
export const READ_HORIZON = 1;

/** Splits the probe draws from: train for training, val for the fixed evaluation instances. */
export type ReadSplit = 'train' | 'val';

/** Instance `index` of the horizon-1 read task of a family (seeds of the split's range). */
export function readInstance(family: FamilyId, split: ReadSplit, index: number): Instance {
  return { ...generateInstance(family, SPLITS[split].seedBase + index, READ_HORIZON), split };
}

/** Training example k: families round-robin, each family's train seeds in order. */
export function readTrainInstance(k: number, families: readonly FamilyId[]): Instance {
  return readInstance(families[k % families.length]!, 'train', Math.floor(k / families.length));
}

/** The fixed evaluation instances: val seeds 0..n-1 of each family, family by family. */
export function readValidationSet(families: readonly FamilyId[], n: number): Instance[] {
  return families.flatMap((f) => Array.from({ length: n }, (_, i) => readInstance(f, 'val', i)));
}

/** Indices of the gold steps that make a visual claim (per the family's verifier). */
export function readStepIndices(inst: Instance): number[] {
  return getFamily(inst.family).checkSteps(inst, inst.steps).flatMap((c, i) => (c.visualClaims > 0 ? [i] : []));
}

const SHAPES_QUERY = /^([rgby.])([cst.])@([rc])[0-5]$/;

/** Kind of the read in gold step `step` (default: the first read step). One label per facet. */
export function readKinds(inst: Instance, step = readStepIndices(inst)[0] ?? 0): string[] {
  const text = inst.steps[step] ?? '';
  switch (inst.family) {
    case 'grid': {
      const m = /^[UDLR] (?:[0-9][0-9]|--) ([owx]) [0-9][0-9]$/.exec(text);
      return [m ? ({ o: 'open', w: 'wall', x: 'edge' } as const)[m[1] as 'o' | 'w' | 'x'] : 'other'];
    }
    case 'shapes': {
      const m = SHAPES_QUERY.exec(text.split('=')[0]!);
      if (!m || !/=[0-9]+$/.test(text)) return ['other'];
      const colour = m[1] !== '.', shape = m[2] !== '.';
      return [m[3] === 'r' ? 'row' : 'column', colour && shape ? 'colour+shape' : colour ? 'colour' : shape ? 'shape' : 'all'];
    }
    case 'chart': {
      const m = /^([a-z])=([0-9]+)$/.exec(text);
      if (!m) return ['other'];
      const lo = 3 * Math.floor((Number(m[2]) - 1) / 3) + 1; // 1-3, 4-6, 7-9, ...
      return [`colour ${m[1]}`, `value ${lo}-${lo + 2}`];
    }
    default:
      return ['other'];
  }
}

/** Character range [from, to) of a read step's text that the image determines (see the header). */
export function readValueRange(family: FamilyId, step: string): [number, number] {
  if (family === 'grid') return /^[UDLR] ./.test(step) ? [2, step.length] : [0, step.length];
  const eq = step.lastIndexOf('=');
  return eq >= 0 ? [eq + 1, step.length] : [0, step.length];
}
