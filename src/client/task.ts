// Loading what `ivr synth` works on: a tasks file of questions about images with gold
// answers and, for the embedded benchmark, the scene prior that lets the verifier check
// every step. The task itself (ReasonTask), its prompt and its outcome belong to the reasoner
// port (src/reasoner/task.ts); RemoteTask is the same type, named for what loads it.
//
// A tasks file is JSONL. Lines with a "scene" are embedded-benchmark instances (as written
// by `ivr tasks export`, validated by the tasks loader). Lines without one are generic
// visual questions: {"id", "question", "answer", "image": "path/to.png"} (optional
// "family", "horizon"); their steps can only be checked by a judge model.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ReasonTask } from '../reasoner/task.js';
import { atomicWriteFile } from '../util/fs.js';
import {
  encodePng, isFamilyId, renderLarge, renderSmall, parseInstanceRecord, readJsonlRecords, FieldError,
  type FamilyId, type Instance,
} from '../tasks/index.js';

export type RemoteTask = ReasonTask;
export { pickImage, type PromptFormat, type TaskImage } from '../reasoner/task.js';

const IEND = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/** Whether `file` exists and ends with the PNG end chunk (a cheap check for a torn write). */
export function wholePng(file: string): boolean {
  let fd: number;
  try { fd = fs.openSync(file, 'r'); } catch { return false; }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8 + 25 + IEND.length) return false;
    const tail = Buffer.alloc(IEND.length);
    fs.readSync(fd, tail, 0, IEND.length, size - IEND.length);
    return tail.equals(IEND);
  } finally {
    fs.closeSync(fd);
  }
}

function pngSize(file: string): { width: number; height: number } {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(24);
    const n = fs.readSync(fd, head, 0, 24, 0);
    if (n < 24 || head.readUInt32BE(0) !== 0x89504e47 || head.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`not a PNG file: ${file}`);
    return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Loads a tasks file. Instances without image files get theirs rendered into `renderDir`.
 * Throws TaskFileError naming the file, line and field on the first bad line.
 */
export function loadRemoteTasks(file: string, renderDir: string): RemoteTask[] {
  return readJsonlRecords(file, (value, baseDir) => (value && typeof value === 'object' && 'scene' in value
    ? fromInstance(parseInstanceRecord(value, baseDir), renderDir)
    : fromGeneric(value, baseDir)));
}

/** A task for an instance; its PNGs are rendered into renderDir when it has none on disk. */
export function fromInstance(inst: Instance, renderDir: string): RemoteTask {
  let paths = inst.images;
  if (!paths) {
    const safe = inst.id.replace(/[^A-Za-z0-9._-]/g, '_');
    paths = { small: path.join(renderDir, `${safe}.small.png`), large: path.join(renderDir, `${safe}.large.png`) };
    fs.mkdirSync(renderDir, { recursive: true });
    // Written atomically; a file left torn by an older version killed mid-write (no IEND
    // chunk at its end) is rendered again rather than failing every resumed run.
    if (!wholePng(paths.small)) atomicWriteFile(paths.small, encodePng(renderSmall(inst)));
    if (!wholePng(paths.large)) atomicWriteFile(paths.large, encodePng(renderLarge(inst)));
  }
  const images = [paths.small, paths.large].map((p) => ({ path: path.resolve(p), ...pngSize(p) }));
  return { id: inst.id, family: inst.family, horizon: inst.horizon, question: inst.question, answer: inst.answer, inst, images };
}

function fromGeneric(value: unknown, baseDir: string): RemoteTask {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new FieldError('(line)', 'expected a JSON object');
  const r = value as Record<string, unknown>;
  for (const k of ['id', 'question', 'answer', 'image']) {
    if (typeof r[k] !== 'string' || (r[k] as string).length === 0) throw new FieldError(k, r[k] === undefined ? 'missing (a line without "scene" is a generic task: id, question, answer, image)' : 'expected a non-empty string');
  }
  let family: FamilyId | null = null;
  if (r.family !== undefined) {
    if (!isFamilyId(r.family)) throw new FieldError('family', `unknown family ${JSON.stringify(r.family)}`);
    family = r.family;
  }
  let horizon: number | null = null;
  if (r.horizon !== undefined) {
    if (typeof r.horizon !== 'number' || !Number.isInteger(r.horizon) || r.horizon < 1) throw new FieldError('horizon', 'expected a positive integer');
    horizon = r.horizon;
  }
  const img = path.resolve(baseDir, r.image as string);
  if (!fs.existsSync(img)) throw new FieldError('image', `image file not found: ${img}`);
  return { id: r.id as string, family, horizon, question: r.question as string, answer: r.answer as string, inst: null, images: [{ path: img, ...pngSize(img) }] };
}
