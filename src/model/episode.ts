// How a task instance becomes model input: the small image as patch vectors, and the text
// as [<bos>, prompt..., response..., <eos>]. The one place that knows this layout.
import * as fs from 'node:fs';
import { decodePng, getFamily, promptText, type Instance } from '../tasks/index.js';
import type { VlmConfig } from './config.js';
import { patchify } from './image.js';
import type { Tokenizer } from './tokenizer.js';

const patchCache = new Map<string, Float32Array>();

/** Patch vectors of the instance's small image (memoised: rendering is deterministic). */
export function instancePatches(inst: Instance, cfg: VlmConfig): Float32Array {
  const key = `${inst.id}|${cfg.imageSize}|${cfg.patch}`;
  let p = patchCache.get(key);
  if (!p) {
    // An instance loaded from an exported file is evaluated on its image file, so edited or
    // externally produced images are used as given; otherwise render from the scene.
    const img = inst.images?.small ? decodePng(fs.readFileSync(inst.images.small)) : getFamily(inst.family).renderSmall(inst);
    p = patchify(img, cfg);
    if (patchCache.size > 20000) patchCache.clear();
    patchCache.set(key, p);
  }
  return p;
}

export function promptIds(inst: Instance, tok: Tokenizer): number[] {
  return [tok.bos, ...tok.encode(promptText(inst))];
}

/** Full training text for a response and the number of prompt tokens before it. */
export function exampleIds(inst: Instance, response: string, tok: Tokenizer): { text: number[]; promptLen: number } {
  const prompt = promptIds(inst, tok);
  return { text: [...prompt, ...tok.encode(response), tok.eos], promptLen: prompt.length };
}
