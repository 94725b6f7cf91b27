// Every RL method reaches the trainer the same way: as the augmenter this table builds from
// its config. The GRPO family adds nothing; LUFFY adds the gold solution to each group;
// IVR-R1 adds rectified trajectories. The table lives here, above rl/ (which knows no
// method by name) and beside the IVR-R1 augmenter it builds.
import type { Augmenter } from '../rl/augment.js';
import type { RlMethod } from '../rl/config.js';
import type { TrainConfig } from './config.js';
import { luffyAugmenter } from '../rl/luffy.js';
import { ivrAugmenter } from './method.js';

export const METHOD_AUGMENTERS: Readonly<Record<RlMethod, ((cfg: TrainConfig) => Augmenter) | null>> = {
  grpo: null,
  drgrpo: null,
  dapo: null,
  luffy: () => luffyAugmenter,
  ivr: ivrAugmenter,
};

/** The augmenter of `cfg.method` (undefined for methods that add nothing). */
export function augmenterFor(cfg: TrainConfig): Augmenter | undefined {
  return METHOD_AUGMENTERS[cfg.method]?.(cfg) ?? undefined;
}
