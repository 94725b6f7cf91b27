// The vocabulary shared by every task family: instances, images, step verdicts and the
// `TaskFamily` interface that each family (src/tasks/families/*) implements.
import type { Rng } from '../util/rng.js';

/** Identifier of a task family. */
export type FamilyId = 'grid' | 'shapes' | 'chart';

/** All family ids, in a fixed order. */
export const FAMILY_IDS: readonly FamilyId[] = Object.freeze(['grid', 'shapes', 'chart'] as FamilyId[]);

/** Identifier of a split: train/val/test at training horizons, ood at longer horizons. */
export type SplitId = 'train' | 'val' | 'test' | 'ood';

/** All split ids, in a fixed order. */
export const SPLIT_IDS: readonly SplitId[] = Object.freeze(['train', 'val', 'test', 'ood'] as SplitId[]);

/** An 8-bit RGB raster, row-major, channels interleaved: `data[(y * width + x) * 3 + c]`. */
export interface RgbImage {
  width: number;
  height: number;
  /** HWC RGB bytes, length `width * height * 3`. */
  data: Uint8Array;
}

/**
 * One task instance. `question` and `scene` are the source of truth: the plan (which
 * moves / sub-queries / bars, in which order) is parsed from `question`, and the image is
 * rendered from `scene`. `steps` and `answer` are the gold solution.
 */
export interface Instance {
  /** `${family}-${seed}-${horizon}`; unique and reproducible. */
  id: string;
  family: FamilyId;
  /** The seed `generate` was called with (-1 when loaded from a file record without a seed). */
  seed: number;
  /** Number of reasoning steps in the gold solution (the difficulty). */
  horizon: number;
  /** Terse question text; never contains what only the image shows. */
  question: string;
  /** Family-specific JSON scene: the pristine visual prior the images are rendered from. */
  scene: unknown;
  /** Gold steps in the family's step grammar, one per reasoning step. */
  steps: string[];
  /** Gold answer in canonical form. */
  answer: string;
  /** Set by `getSplit` and by the loader when known. */
  split?: SplitId;
  /** Absolute paths of exported images; set by `loadInstances`. */
  images?: { small: string; large: string };
}

/** Verdict kinds: `visual` = a claim contradicts the scene; `logical` = the visual claims
 * hold but the state/arithmetic update (or the plan) is wrong given the preceding steps;
 * `format` = the step (or the response structure) cannot be read. */
export type StepKind = 'ok' | 'visual' | 'logical' | 'format';

/** What a family's checker says about one step. */
export interface StepCheck {
  kind: StepKind;
  /** Number of visual claims the step makes (claims about what the image shows). */
  visualClaims: number;
  /** How many of them hold in the scene. */
  visualClaimsHeld: number;
  /** Why the step is not ok (absent when ok). */
  reason?: string;
}

/** A step verdict inside a `Verification`. */
export interface StepVerdict extends StepCheck {
  /** 0-based step index. */
  index: number;
  /** The step text as parsed (trimmed). */
  text: string;
}

/** An inclusive horizon range `[min, max]`. */
export type HorizonRange = readonly [number, number];

/** An error in a field of a scene/question/instance record; `field` is a dotted path. */
export class FieldError extends Error {
  constructor(readonly field: string, readonly detail: string) {
    super(`field "${field}": ${detail}`);
    this.name = 'FieldError';
  }
}

/**
 * A task family. Families are stateless; every method is a pure function of its inputs.
 */
export interface TaskFamily {
  readonly id: FamilyId;
  /** One-line human description. */
  readonly title: string;
  /** Training horizons (train/val/test splits) and longer out-of-distribution horizons (ood split). */
  readonly horizons: { readonly train: HorizonRange; readonly ood: HorizonRange };
  /** Smallest and largest horizon `generate` accepts. */
  readonly horizonLimits: HorizonRange;
  /** Natural-language description of the question and step grammar (for external models and docs). */
  readonly grammar: string;
  /** Build an instance; deterministic in (seed, horizon). Throws on a horizon outside `horizonLimits`. */
  generate(seed: number, horizon: number): Instance;
  /**
   * 48×48 RGB image for the compact model; 8×8 patches are meaningful units (one cell / one
   * bar). The only drawing of the scene: the 384×384 image is this one scaled ×8 (images.ts).
   */
  renderSmall(inst: Instance): RgbImage;
  /** Text rendering of the scene (for terminals and logs). */
  ascii(inst: Instance): string;
  /**
   * Judge the steps of a response in order. Step k is checked against the scene and against
   * the model's OWN earlier steps (its claimed state), so every step gets a verdict even after
   * an error. After an unreadable step the checker assumes that step did the correct update
   * from the model's previous state. Steps beyond the question's plan are `logical` errors.
   */
  checkSteps(inst: Instance, steps: readonly string[]): StepCheck[];
  /**
   * A correct next step after a prefix whose steps all verify (checkSteps ok), continuing in
   * the prefix's own order (chains accept several orders: chain.ts); null when the prefix is
   * complete. The oracle rewrite of IVR-R1 (verify.ts oracleStep), which checks the prefix.
   */
  nextStep(inst: Instance, verifiedPrefix: readonly string[]): string | null;
  /** Gold steps and answer for a (valid) question and scene. */
  solve(question: string, scene: unknown): { steps: string[]; answer: string };
  /** Canonical form of an answer string (lenient about spacing/punctuation); null if unreadable. */
  normalizeAnswer(text: string): string | null;
  /** Validate an untrusted scene; throws FieldError (field paths start with "scene"). */
  validateScene(scene: unknown): void;
  /** Validate an untrusted question against a (valid) scene and horizon; throws FieldError. */
  validateQuestion(question: string, scene: unknown, horizon: number): void;
  /**
   * Replace gold step k by a corrupted one whose first problem is of the given kind: 'visual'
   * (a visual claim made false, the rest of the step consistent with it), 'logical' (visual
   * claims true, the update or plan wrong) or 'format' (unreadable in the grammar). Returns
   * null when step k has no such corruption (e.g. a grid step with no visual claim). For tests,
   * synthetic flawed rollouts and ablations.
   */
  corruptStep(inst: Instance, k: number, kind: 'visual' | 'logical' | 'format', rng: Rng): string | null;
  /** Coarse question type (the question with scene-independent details abstracted), for blind baselines. */
  questionType(inst: Instance): string;
}
