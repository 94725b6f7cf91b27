// The SFT example stream: element k is a fresh train-split instance (family round-robin,
// horizon spread over the SFT range), so the data order is a pure function of the step
// and a resumed run sees exactly the batches the uninterrupted one would have.
import { generateInstance, getFamily, SPLITS, type FamilyId, type Instance } from '../tasks/index.js';

export function sftInstance(k: number, families: readonly FamilyId[], maxHorizon: Record<FamilyId, number>): Instance {
  const family = families[k % families.length]!;
  const j = Math.floor(k / families.length);
  const [lo, hi] = getFamily(family).horizons.train;
  const top = Math.max(lo, Math.min(hi, maxHorizon[family]));
  const span = top - lo + 1;
  return generateInstance(family, SPLITS.train.seedBase + j, lo + (j % span));
}
