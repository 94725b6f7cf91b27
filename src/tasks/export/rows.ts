// What every external dataset format (TRL, verl, LLaMA-Factory) needs from an instance: the
// user text, the gold response and answer, and the 384×384 PNG. External trainers fine-tune
// full-size VLMs, so they get the large rendering (the 48×48 one is for the compact model).
// The default prompt is the self-contained instruction (family grammar + response format +
// question): a VLM that has never seen these tasks cannot produce the step grammar from the
// bare question. `question` gives the bare question + "\n", as the compact model sees it.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFile } from '../../util/fs.js';
import { encodePng } from '../render/png.js';
import { renderLarge } from '../images.js';
import type { Instance } from '../types.js';
import { goldResponse, instructionPrompt, promptText } from '../verify.js';

export type PromptStyle = 'instruction' | 'question';
export const PROMPT_STYLES: readonly PromptStyle[] = ['instruction', 'question'];

export interface ExportOptions {
  /** User text: the self-contained instruction (default) or the bare question. */
  prompt?: PromptStyle;
}

/** One instance, flattened for a dataset writer. */
export interface ExportRow {
  inst: Instance;
  /** The user turn's text, without any image placeholder. */
  prompt: string;
  /** The gold response in the shared `<think>…</think><answer>…</answer>` format. */
  response: string;
  /** The 384×384 PNG. */
  png: Buffer;
  /** Its path relative to the export directory. */
  image: string;
}

/** Names that are safe as a single path component (no separators, no leading dot). */
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export function checkFileName(what: string, name: string): void {
  if (!SAFE_NAME.test(name)) throw new Error(`${what} ${JSON.stringify(name)} cannot be used as a file name (letters, digits, . _ - only, not starting with a dot)`);
}

/** Relative path of an instance's large PNG; the same file the default JSONL export writes, so formats exported into one directory share it. */
export function largeImagePath(id: string): string {
  return `images/${id}.large.png`;
}

export function promptFor(inst: Instance, style: PromptStyle = 'instruction'): string {
  if (style === 'question') return promptText(inst);
  if (style === 'instruction') return instructionPrompt(inst);
  throw new Error(`unknown prompt style ${JSON.stringify(style)} (known: ${PROMPT_STYLES.join(', ')})`);
}

/** Render every instance once; rejects duplicate ids (they would share one image file and one dataset key). */
export function exportRows(instances: readonly Instance[], options: ExportOptions = {}): ExportRow[] {
  const seen = new Set<string>();
  return instances.map((inst) => {
    checkFileName('instance id', inst.id);
    if (seen.has(inst.id)) throw new Error(`duplicate instance id ${inst.id}`);
    seen.add(inst.id);
    return {
      inst,
      prompt: promptFor(inst, options.prompt),
      response: goldResponse(inst),
      png: encodePng(renderLarge(inst)),
      image: largeImagePath(inst.id),
    };
  });
}

/**
 * Write each row's PNG under `dir`. A file that already holds the same bytes is left alone:
 * exporting several formats into one directory then costs one write (and fsync) per image.
 */
export function writeRowImages(rows: readonly ExportRow[], dir: string): void {
  mkdirSync(join(dir, 'images'), { recursive: true });
  for (const r of rows) {
    const file = join(dir, r.image);
    if (existsSync(file) && readFileSync(file).equals(r.png)) continue;
    atomicWriteFile(file, r.png);
  }
}
