// Export to / load from JSONL + PNG.
//
// File layout written by exportInstances(instances, dir, name):
//   dir/<name>.jsonl                 one instance per line (see InstanceRecord)
//   dir/images/<id>.small.png        48×48 image for the compact model
//   dir/images/<id>.large.png        384×384 image for external VLMs
// Image paths in the JSONL are relative to the JSONL file's directory. Every file is written
// atomically (temporary file + rename), so a crash never leaves a half-written file.
//
// loadInstances(file) validates every line and throws a TaskFileError naming the file, line
// and field on the first problem: bad JSON, a missing field or one of the wrong type, an
// unknown family, a scene or question that does not fit the family, gold steps/answer that
// do not match the scene and question, or a referenced image that does not exist / is not a PNG.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { FamilyId, Instance, SplitId } from './types.js';
import { FieldError } from './types.js';
import { getFamily, isFamilyId } from './registry.js';
import { isSplitId } from './splits.js';
import { encodePng } from './render/png.js';
import { goldResponse, promptText } from './verify.js';

/** One JSONL line. `prompt` and `response` are convenience copies (ignored by the loader). */
export interface InstanceRecord {
  id: string;
  family: FamilyId;
  split?: SplitId;
  seed: number;
  horizon: number;
  question: string;
  scene: unknown;
  steps: string[];
  answer: string;
  images: { small: string; large: string };
  prompt?: string;
  response?: string;
}

export class TaskFileError extends Error {
  constructor(readonly file: string, readonly line: number, readonly field: string | null, readonly detail: string) {
    super(`${file}:${line}: ${field ? `field "${field}": ` : ''}${detail}`);
    this.name = 'TaskFileError';
  }
}

/** Write `data` to `path` atomically (write a temporary file beside it, then rename). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now().toString(36)}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Relative image paths of an instance inside an export directory. */
export function imagePaths(id: string): { small: string; large: string } {
  return { small: `images/${id}.small.png`, large: `images/${id}.large.png` };
}

/**
 * Export instances to `dir/<name>.jsonl` plus their small and large PNGs under dir/images/.
 * Returns the JSONL path and the number of instances written.
 */
export function exportInstances(instances: readonly Instance[], dir: string, name = 'instances'): { file: string; count: number } {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new Error(`exportInstances: bad file name ${JSON.stringify(name)}`);
  mkdirSync(join(dir, 'images'), { recursive: true });
  const ids = new Set<string>();
  const lines: string[] = [];
  for (const inst of instances) {
    if (ids.has(inst.id)) throw new Error(`exportInstances: duplicate instance id ${inst.id}`);
    ids.add(inst.id);
    const fam = getFamily(inst.family);
    const images = imagePaths(inst.id);
    writeFileAtomic(join(dir, images.small), encodePng(fam.renderSmall(inst)));
    writeFileAtomic(join(dir, images.large), encodePng(fam.renderLarge(inst)));
    const rec: InstanceRecord = {
      id: inst.id, family: inst.family, ...(inst.split ? { split: inst.split } : {}), seed: inst.seed, horizon: inst.horizon,
      question: inst.question, scene: inst.scene, steps: inst.steps, answer: inst.answer, images,
      prompt: promptText(inst), response: goldResponse(inst),
    };
    lines.push(JSON.stringify(rec));
  }
  const file = join(dir, `${name}.jsonl`);
  writeFileAtomic(file, lines.map((l) => l + '\n').join(''));
  return { file, count: instances.length };
}

function isPng(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(8);
    const n = readSync(fd, head, 0, 8, 0);
    return n === 8 && head.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  } finally {
    closeSync(fd);
  }
}

/** Validate one parsed JSONL record; throws FieldError. `baseDir` resolves image paths. */
export function parseInstanceRecord(value: unknown, baseDir: string, options: { checkImages?: boolean } = {}): Instance {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FieldError('(line)', 'expected a JSON object');
  const r = value as Record<string, unknown>;
  const str = (k: string): string => {
    if (!(k in r)) throw new FieldError(k, 'missing');
    if (typeof r[k] !== 'string') throw new FieldError(k, `expected a string, got ${typeOf(r[k])}`);
    return r[k] as string;
  };
  const int = (k: string, min: number): number => {
    if (!(k in r)) throw new FieldError(k, 'missing');
    const v = r[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new FieldError(k, `expected an integer, got ${typeOf(v)} ${JSON.stringify(v)}`);
    if (v < min) throw new FieldError(k, `must be >= ${min}, got ${v}`);
    return v;
  };
  const id = str('id');
  if (id.length === 0) throw new FieldError('id', 'must not be empty');
  const family = str('family');
  if (!isFamilyId(family)) throw new FieldError('family', `unknown family ${JSON.stringify(family)} (known: grid, shapes, chart)`);
  const fam = getFamily(family);
  let split: SplitId | undefined;
  if (r.split !== undefined) {
    if (!isSplitId(r.split)) throw new FieldError('split', `expected one of train, val, test, ood, got ${JSON.stringify(r.split)}`);
    split = r.split;
  }
  const seed = r.seed === undefined ? -1 : int('seed', 0);
  const horizon = int('horizon', 1);
  const question = str('question');
  if (!('scene' in r)) throw new FieldError('scene', 'missing');
  fam.validateScene(r.scene);
  fam.validateQuestion(question, r.scene, horizon);
  if (!('steps' in r)) throw new FieldError('steps', 'missing');
  if (!Array.isArray(r.steps)) throw new FieldError('steps', `expected an array of strings, got ${typeOf(r.steps)}`);
  const steps = r.steps as unknown[];
  steps.forEach((s, i) => {
    if (typeof s !== 'string') throw new FieldError(`steps[${i}]`, `expected a string, got ${typeOf(s)}`);
  });
  if (steps.length !== horizon) throw new FieldError('steps', `has ${steps.length} steps but horizon is ${horizon}`);
  const answer = str('answer');
  const gold = fam.solve(question, r.scene);
  for (let i = 0; i < horizon; i++) {
    if (steps[i] !== gold.steps[i]) throw new FieldError(`steps[${i}]`, `${JSON.stringify(steps[i])} does not match the scene and question (expected ${JSON.stringify(gold.steps[i])})`);
  }
  if (answer !== gold.answer) throw new FieldError('answer', `${JSON.stringify(answer)} does not match the scene and question (expected ${JSON.stringify(gold.answer)})`);
  const inst: Instance = { id, family, seed, horizon, question, scene: r.scene, steps: steps as string[], answer };
  if (split) inst.split = split;
  if (r.images !== undefined) {
    if (typeof r.images !== 'object' || r.images === null || Array.isArray(r.images)) throw new FieldError('images', `expected an object {small, large}, got ${typeOf(r.images)}`);
    const im = r.images as Record<string, unknown>;
    const paths = { small: '', large: '' };
    for (const k of ['small', 'large'] as const) {
      if (typeof im[k] !== 'string' || (im[k] as string).length === 0) throw new FieldError(`images.${k}`, `expected a file name, got ${typeOf(im[k])}`);
      const p = isAbsolute(im[k] as string) ? (im[k] as string) : resolve(baseDir, im[k] as string);
      if (options.checkImages !== false) {
        if (!existsSync(p)) throw new FieldError(`images.${k}`, `image file not found: ${p}`);
        if (!isPng(p)) throw new FieldError(`images.${k}`, `not a PNG file: ${p}`);
      }
      paths[k] = p;
    }
    inst.images = paths;
  }
  return inst;
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/**
 * Load and validate a JSONL instance file (blank lines are skipped). Image paths in the
 * records are resolved relative to the file and must exist unless `checkImages` is false.
 * Throws TaskFileError (file, 1-based line, field) on the first bad line, and on duplicate ids.
 */
export function loadInstances(file: string, options: { checkImages?: boolean } = {}): Instance[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TaskFileError(file, 0, null, `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const baseDir = dirname(resolve(file));
  const out: Instance[] = [];
  const ids = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line.trim().length === 0) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      throw new TaskFileError(file, i + 1, null, `invalid JSON (${(e as Error).message})`);
    }
    let inst: Instance;
    try {
      inst = parseInstanceRecord(value, baseDir, options);
    } catch (e) {
      if (e instanceof FieldError) throw new TaskFileError(file, i + 1, e.field, e.detail);
      throw new TaskFileError(file, i + 1, null, (e as Error).message);
    }
    const prev = ids.get(inst.id);
    if (prev !== undefined) throw new TaskFileError(file, i + 1, 'id', `duplicate id ${JSON.stringify(inst.id)} (first on line ${prev})`);
    ids.set(inst.id, i + 1);
    out.push(inst);
  }
  return out;
}
