// Files shipped inside the package, by absolute path, so that a program using the library
// (or `ivr` run from another directory) finds them wherever the package is installed.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: this file is dist/src/util/package-paths.js. */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** The committed base policy (checkpoints/base), shipped with the package. */
export const BASE_CHECKPOINT = path.join(PACKAGE_ROOT, 'checkpoints', 'base');

/**
 * The checkpoint a `--checkpoint` / `--init` value names: a checkpoint directory as given; a
 * run directory (what `ivr train`/`sft`/`demo` write) as its checkpoints/final, else its
 * checkpoints/latest; the default `checkpoints/base`, when the working directory has none
 * (an installed package, another directory), as the one shipped with the package.
 */
export function resolveCheckpoint(p: string, note: (msg: string) => void = (m) => console.error(`ivr: ${m}`)): string {
  if (p === 'checkpoints/base' && !fs.existsSync(p) && fs.existsSync(BASE_CHECKPOINT)) return BASE_CHECKPOINT;
  if (!fs.existsSync(p) || !fs.statSync(p).isDirectory() || fs.existsSync(path.join(p, 'model.safetensors'))) return p;
  for (const sub of ['final', 'latest']) {
    const ck = path.join(p, 'checkpoints', sub);
    if (fs.existsSync(path.join(ck, 'model.safetensors'))) {
      note(`${p} is a run directory: using its ${sub} checkpoint ${ck}`);
      return ck;
    }
  }
  throw new Error(`${p} is neither a checkpoint (no model.safetensors) nor a run directory with checkpoints/final or checkpoints/latest; pass a checkpoint such as checkpoints/base or runs/ivr/checkpoints/final, or a run directory such as runs/ivr`);
}
