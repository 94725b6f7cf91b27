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
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { FamilyId, Instance, SplitId } from './types.js';
import { FieldError } from './types.js';
import { z } from 'zod';
import { FAMILY_IDS, SPLIT_IDS } from './types.js';
import { getFamily } from './registry.js';
import { issue, toIssues, ValidationError } from '../util/schema.js';
import { encodePng } from './render/png.js';
import { renderLarge, renderSmall } from './images.js';
import { atomicWriteFile } from '../util/fs.js';
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

/** A problem in a task file: the common ValidationError, with source `file:line`. */
export class TaskFileError extends ValidationError {
  constructor(readonly file: string, readonly line: number, field: string | null, detail: string) {
    super(`${file}:${line}`, field ? { path: field, message: `key "${field}": ${detail}`, detail, code: 'invalid_value' } : issue('', detail));
    this.name = 'TaskFileError';
  }

  /** Dotted path of the offending field; null for the line or the file as a whole. */
  get field(): string | null { return this.path || null; }
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
    const images = imagePaths(inst.id);
    atomicWriteFile(join(dir, images.small), encodePng(renderSmall(inst)));
    atomicWriteFile(join(dir, images.large), encodePng(renderLarge(inst)));
    const rec: InstanceRecord = {
      id: inst.id, family: inst.family, ...(inst.split ? { split: inst.split } : {}), seed: inst.seed, horizon: inst.horizon,
      question: inst.question, scene: inst.scene, steps: inst.steps, answer: inst.answer, images,
      prompt: promptText(inst), response: goldResponse(inst),
    };
    lines.push(JSON.stringify(rec));
  }
  const file = join(dir, `${name}.jsonl`);
  atomicWriteFile(file, lines.map((l) => l + '\n').join(''));
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

/**
 * The shape of a JSONL record. What a field must mean (a scene and question that fit the
 * family, gold steps and answer that match them) is checked by the family afterwards.
 * `prompt` and `response` are convenience copies for other tools; the loader ignores them.
 */
const recordSchema = z.strictObject({
  id: z.string().min(1),
  family: z.enum(FAMILY_IDS),
  split: z.enum(SPLIT_IDS).optional(),
  /** -1 when the instance was not generated from a seed. */
  seed: z.int().min(0).optional(),
  horizon: z.int().min(1),
  question: z.string(),
  scene: z.unknown().refine((v) => v !== undefined, 'is missing'),
  steps: z.array(z.string()),
  answer: z.string(),
  images: z.strictObject({ small: z.string().min(1), large: z.string().min(1) }).optional(),
  prompt: z.string().optional(),
  response: z.string().optional(),
});

/** Validate one parsed JSONL record; throws FieldError. `baseDir` resolves image paths. */
export function parseInstanceRecord(value: unknown, baseDir: string, options: { checkImages?: boolean } = {}): Instance {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FieldError('(line)', 'expected a JSON object');
  const parsed = recordSchema.safeParse(value);
  if (!parsed.success) {
    const first = toIssues(recordSchema, value, parsed.error.issues)[0]!;
    throw new FieldError(first.path, first.detail);
  }
  const r = parsed.data;
  const fam = getFamily(r.family);
  const [lo, hi] = fam.horizonLimits;
  if (r.horizon < lo || r.horizon > hi) throw new FieldError('horizon', `must be in ${lo}..${hi} for family "${r.family}", got ${r.horizon}`);
  fam.validateScene(r.scene);
  fam.validateQuestion(r.question, r.scene, r.horizon);
  if (r.steps.length !== r.horizon) throw new FieldError('steps', `has ${r.steps.length} steps but horizon is ${r.horizon}`);
  const gold = fam.solve(r.question, r.scene);
  for (let i = 0; i < r.horizon; i++) {
    if (r.steps[i] !== gold.steps[i]) throw new FieldError(`steps[${i}]`, `${JSON.stringify(r.steps[i])} does not match the scene and question (expected ${JSON.stringify(gold.steps[i])})`);
  }
  if (r.answer !== gold.answer) throw new FieldError('answer', `${JSON.stringify(r.answer)} does not match the scene and question (expected ${JSON.stringify(gold.answer)})`);
  const inst: Instance = { id: r.id, family: r.family, seed: r.seed ?? -1, horizon: r.horizon, question: r.question, scene: r.scene, steps: r.steps, answer: r.answer };
  if (r.split) inst.split = r.split;
  if (r.images) {
    const paths = { small: '', large: '' };
    for (const k of ['small', 'large'] as const) {
      const p = isAbsolute(r.images[k]) ? r.images[k] : resolve(baseDir, r.images[k]);
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

/**
 * The one reader of JSONL record files (instances here, remote tasks in client/task.ts):
 * blank lines are skipped, each line is parsed and handed to `parse` with the file's
 * directory, and ids must be unique. Throws TaskFileError (file, 1-based line, field) on the
 * first bad line: unreadable file, invalid JSON, a FieldError from `parse`, or a repeated id.
 */
export function readJsonlRecords<T extends { id: string }>(file: string, parse: (value: unknown, baseDir: string) => T): T[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TaskFileError(file, 0, null, `cannot read file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const baseDir = dirname(resolve(file));
  const out: T[] = [];
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
    let record: T;
    try {
      record = parse(value, baseDir);
    } catch (e) {
      if (e instanceof FieldError) throw new TaskFileError(file, i + 1, e.field, e.detail);
      throw new TaskFileError(file, i + 1, null, (e as Error).message);
    }
    const prev = ids.get(record.id);
    if (prev !== undefined) throw new TaskFileError(file, i + 1, 'id', `duplicate id ${JSON.stringify(record.id)} (first on line ${prev})`);
    ids.set(record.id, i + 1);
    out.push(record);
  }
  return out;
}

/**
 * Load and validate a JSONL instance file (blank lines are skipped). Image paths in the
 * records are resolved relative to the file and must exist unless `checkImages` is false.
 * Throws TaskFileError (file, 1-based line, field) on the first bad line, and on duplicate ids.
 */
export function loadInstances(file: string, options: { checkImages?: boolean } = {}): Instance[] {
  return readJsonlRecords(file, (value, baseDir) => parseInstanceRecord(value, baseDir, options));
}
