// What `ivr eval` needs of a loaded task instance beyond its record being valid: images the
// model can read, and a gold answer that fits its text context (an instance whose gold
// answer cannot fit is scored 0 whatever the model does). `ivr tasks validate` runs these.
import * as fs from 'node:fs';
import { decodePng, goldResponse, type Instance } from '../tasks/index.js';
import type { VlmConfig } from './config.js';
import { exampleIds } from './episode.js';
import type { Tokenizer } from './tokenizer.js';

export interface InstanceProblem { field: string; detail: string }

function checkImage(file: string, field: string, side: number | null): InstanceProblem | null {
  let img;
  try {
    img = decodePng(fs.readFileSync(file));
  } catch (e) {
    return { field, detail: `does not decode as a PNG (${(e as Error).message}): ${file}` };
  }
  if (side !== null && (img.width !== side || img.height !== side)) {
    return { field, detail: `is ${img.width}x${img.height} but the model reads ${side}x${side} images: ${file}` };
  }
  return null;
}

/** Tokens of prompt + gold response (with <bos>/<eos>), as the model would hold them. */
export function goldTokens(inst: Instance, tok: Tokenizer): number {
  return exampleIds(inst, goldResponse(inst), tok).text.length;
}

/** Every problem that would make `ivr eval` reject or silently mis-score `inst`. */
export function checkInstanceForModel(inst: Instance, cfg: VlmConfig, tok: Tokenizer): InstanceProblem[] {
  const out: InstanceProblem[] = [];
  if (inst.images) {
    const small = checkImage(inst.images.small, 'images.small', cfg.imageSize);
    if (small) out.push(small);
    const large = checkImage(inst.images.large, 'images.large', null);
    if (large) out.push(large);
  }
  const n = goldTokens(inst, tok);
  if (n > cfg.maxText) out.push({ field: 'answer', detail: `the prompt and gold response take ${n} tokens but the model's text context holds ${cfg.maxText}: no answer can be scored correct` });
  return out;
}
