// The family table: the one place that knows every family implementation.
import type { FamilyId, Instance, TaskFamily } from './types.js';
import { FAMILY_IDS } from './types.js';
import { gridFamily } from './families/grid.js';
import { shapesFamily } from './families/shapes.js';
import { chartFamily } from './families/chart.js';

const FAMILIES: Readonly<Record<FamilyId, TaskFamily>> = Object.freeze({ grid: gridFamily, shapes: shapesFamily, chart: chartFamily });

/** Whether `id` names a family. */
export function isFamilyId(id: unknown): id is FamilyId {
  return typeof id === 'string' && (FAMILY_IDS as readonly string[]).includes(id);
}

/** The family with this id; throws an Error listing the known ids otherwise. */
export function getFamily(id: FamilyId): TaskFamily {
  if (!isFamilyId(id)) throw new Error(`unknown task family ${JSON.stringify(id)} (known: ${FAMILY_IDS.join(', ')})`);
  return FAMILIES[id];
}

/** Build one instance: `getFamily(family).generate(seed, horizon)`. */
export function generateInstance(family: FamilyId, seed: number, horizon: number): Instance {
  return getFamily(family).generate(seed, horizon);
}
