// Recovery after a crash inside saveCheckpoint. A save writes <dir>.tmp-* completely (config.json
// last), renames <dir> to <dir>.old-*, renames the temporary to <dir> and deletes the old copy.
// A crash can therefore leave: a half-written <dir>.tmp-* (garbage), or, between the two renames,
// no <dir> but a complete <dir>.old-* (the previous save) and a complete <dir>.tmp-* (the new one).
// Only call these while nobody else saves into the same parent (a run directory's lock ensures it).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_FILE, WEIGHTS_CHECKSUM_KEY, loadCheckpoint } from './checkpoint.js';
import { fsyncDir, readJsonFile } from '../util/fs.js';

export interface Leftovers { tmp: string[]; old: string[] }

/** The <dir>.tmp-* and <dir>.old-* siblings an interrupted save of `dir` can leave. */
export function checkpointLeftovers(dir: string): Leftovers {
  const target = path.resolve(dir);
  const base = path.basename(target);
  let names: string[] = [];
  try { names = fs.readdirSync(path.dirname(target)); } catch { /* no parent: nothing left over */ }
  const pick = (tag: string) => names.filter((f) => f.startsWith(`${base}.${tag}-`)).map((f) => path.join(path.dirname(target), f));
  return { tmp: pick('tmp'), old: pick('old') };
}

/** Why `dir` is not a complete, intact checkpoint, or null when it is. A temporary must carry the
 *  weights checksum (written by every save since it exists); an old copy without one was a
 *  committed checkpoint of an older version and only needs to load. */
export function checkpointDefect(dir: string, needChecksum: boolean): string | null {
  try {
    const config = readJsonFile(path.join(dir, CONFIG_FILE), 'checkpoint config');
    if (needChecksum && !(typeof config === 'object' && config !== null && WEIGHTS_CHECKSUM_KEY in config)) return `${CONFIG_FILE} has no ${WEIGHTS_CHECKSUM_KEY}`;
    loadCheckpoint(dir);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Newest first, by when each copy's config.json (written last) was written. */
function newestFirst(dirs: string[]): string[] {
  const t = (d: string) => fs.statSync(path.join(d, CONFIG_FILE), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  return [...dirs].sort((a, b) => t(b) - t(a));
}

/** The copy that recoverCheckpoint would restore when `dir` is missing, or null. Read-only. */
export function restorableCopy(dir: string): string | null {
  const { tmp, old } = checkpointLeftovers(dir);
  for (const d of newestFirst(tmp)) if (!checkpointDefect(d, true)) return d;
  for (const d of newestFirst(old)) if (!checkpointDefect(d, false)) return d;
  return null;
}

export interface Recovery {
  /** The leftover copy renamed back to `dir`, if `dir` was missing. */
  restored: string | null;
  /** Leftovers deleted (half-written temporaries, copies superseded by `dir`). */
  removed: string[];
}

/**
 * Brings `dir` back to a single checkpoint: when it is missing, the newest complete leftover
 * (a finished temporary is newer than the old copy it was replacing) is renamed back; every
 * other leftover is deleted. Refuses, naming each copy and its defect, when `dir` is missing
 * and previous checkpoints (old copies) exist but none of them is intact, so that a caller
 * never silently starts over while a checkpoint existed.
 */
export function recoverCheckpoint(dir: string): Recovery {
  const target = path.resolve(dir);
  const { tmp, old } = checkpointLeftovers(target);
  let restored: string | null = null;
  if (!fs.existsSync(target) && tmp.length + old.length > 0) {
    restored = restorableCopy(target);
    if (!restored && old.length) {
      const why = old.map((d) => `${d}: ${checkpointDefect(d, false)}`).join('\n  ');
      throw new Error(`checkpoint ${dir} is missing and no copy left by an interrupted save is intact:\n  ${why}`);
    }
    if (restored) {
      fs.renameSync(restored, target);
      fsyncDir(path.dirname(target));
    }
  }
  const removed = [...tmp, ...old].filter((d) => d !== restored);
  for (const d of removed) fs.rmSync(d, { recursive: true, force: true });
  return { restored, removed };
}
