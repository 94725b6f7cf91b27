// Public API of the embedded benchmark (DESIGN.md §5). Other layers import only from here.
//
// Families (ids grid, shapes, chart) are seeded procedural multimodal reasoning tasks whose
// difficulty is the horizon (number of reasoning steps). Each instance carries its scene
// prior (JSON), a 48×48 image for the compact model and the same image scaled ×8 (384×384)
// for external VLMs, a terse question, gold steps and the answer.
// Response format: "<think>\n<step>\n…\n</think><answer>A</answer>" (format.ts).
export type { FamilyId, SplitId, RgbImage, Instance, StepKind, StepCheck, StepVerdict, HorizonRange, TaskFamily } from './types.js';
export { FAMILY_IDS, SPLIT_IDS, FieldError } from './types.js';
export { getFamily, isFamilyId, generateInstance } from './registry.js';
export { SPLITS, getSplit, splitEntry, splitHorizons, isSplitId, type SplitSpec } from './splits.js';
export { parseResponse, formatResponse, responsePrefix, type ParsedResponse } from './format.js';
export { promptText, goldResponse, instructionPrompt, verifyResponse, reward, oracleStep, FORMAT_BONUS, type Verification } from './verify.js';
export { encodePng, decodePng } from './render/png.js';
export { exportInstances, loadInstances, readJsonlRecords, parseInstanceRecord, imagePaths, TaskFileError, type InstanceRecord } from './io.js';
export { asciiRender, asciiRaster } from './ascii.js';
export { renderSmall, renderLarge, SMALL_SIZE, LARGE_SCALE } from './images.js';
export { Rng, deriveSeed, hashString } from '../util/rng.js';
export type { GridScene } from './families/grid.js';
export type { ShapesScene, ShapeObject } from './families/shapes.js';
export type { ChartScene, Bar } from './families/chart.js';

import type { Instance } from './types.js';
import { getFamily } from './registry.js';
import type { Rng } from '../util/rng.js';

/** Corrupt gold step k (see TaskFamily.corruptStep); null when that kind of error is impossible at step k. */
export function corruptStep(inst: Instance, k: number, kind: 'visual' | 'logical' | 'format', rng: Rng): string | null {
  return getFamily(inst.family).corruptStep(inst, k, kind, rng);
}
