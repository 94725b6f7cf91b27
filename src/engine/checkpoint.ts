// Checkpoints in the safetensors format (https://huggingface.co/docs/safetensors), so weights
// can be inspected or loaded by other tools. Layout:
//   [8 bytes: u64 little-endian N] [N bytes: JSON header, space padded] [raw little-endian data]
// header = { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {str: str} },
// offsets are relative to the start of the data section.
// Everything read from disk is validated, and every error names the file and the tensor, since
// a corrupt or mismatched checkpoint is otherwise found only as NaNs hours into a run.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { atomicWriteFile, fsyncDir, readJsonFile, tempSibling } from '../util/fs.js';

export type TensorDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8';
export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
export interface NamedTensor { name: string; dtype: TensorDtype; shape: number[]; data: TensorData }
export interface SafetensorsContents { tensors: NamedTensor[]; metadata: Record<string, string> }

type ArrayCtor = { new (buffer: ArrayBuffer): TensorData; readonly name: string };
const DTYPES: Record<TensorDtype, { st: string; bytes: number; ctor: ArrayCtor }> = {
  float32: { st: 'F32', bytes: 4, ctor: Float32Array },
  float64: { st: 'F64', bytes: 8, ctor: Float64Array },
  int32: { st: 'I32', bytes: 4, ctor: Int32Array },
  int64: { st: 'I64', bytes: 8, ctor: BigInt64Array },
  uint8: { st: 'U8', bytes: 1, ctor: Uint8Array },
};
const FROM_ST = new Map(Object.entries(DTYPES).map(([dtype, d]) => [d.st, dtype as TensorDtype]));

// Typed arrays use host byte order and the format is little-endian. Every platform Node ships
// for is little-endian; refuse loudly rather than write byte-swapped weights if that changes.
const HOST_IS_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
function assertLittleEndian(): void {
  if (!HOST_IS_LE) throw new Error('safetensors: big-endian hosts are not supported');
}

const fmtShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;
const isDim = (d: unknown): d is number => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0;
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1); // [] (a scalar) has 1 element

// ---------------------------------------------------------------------------------------------
// Encoding

/** The file as a list of chunks: header, then views of each tensor's bytes (no copies), so a big
 *  model can be written without building a second in-memory copy of it. Validates first. */
function encodeParts(tensors: NamedTensor[], metadata?: Record<string, string>): Uint8Array[] {
  assertLittleEndian();
  // Header entries as [key, value] pairs rather than an object: JS objects move integer-like keys
  // ("0", "1") to the front, which would scramble the tensor order in the file.
  const header: [string, unknown][] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`safetensors metadata "${k}" must be a string, got ${typeof v}`);
    }
    header.push(['__metadata__', metadata]);
  }
  const seen = new Set<string>();
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    if (typeof t.name !== 'string' || t.name === '') throw new Error('safetensors: tensor name must be a non-empty string');
    if (t.name === '__metadata__') throw new Error('safetensors: "__metadata__" is reserved and cannot be a tensor name');
    if (seen.has(t.name)) throw new Error(`safetensors: duplicate tensor name "${t.name}"`);
    seen.add(t.name);
    const d = DTYPES[t.dtype];
    if (!d) throw new Error(`tensor "${t.name}": unknown dtype "${t.dtype}" (known: ${Object.keys(DTYPES).join(', ')})`);
    if (!Array.isArray(t.shape) || !t.shape.every(isDim)) throw new Error(`tensor "${t.name}": shape must be non-negative integers, got ${JSON.stringify(t.shape)}`);
    if (!(t.data instanceof d.ctor)) throw new Error(`tensor "${t.name}": dtype ${t.dtype} needs a ${d.ctor.name}, got ${t.data?.constructor?.name ?? typeof t.data}`);
    if (t.data.length !== numel(t.shape)) {
      throw new Error(`tensor "${t.name}": data has ${t.data.length} elements but shape ${fmtShape(t.shape)} needs ${numel(t.shape)}`);
    }
    header.push([t.name, { dtype: d.st, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] }]);
    parts.push(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    offset += t.data.byteLength;
  }
  // Pad the header with spaces so the data section starts 8-byte aligned, as the reference
  // writer does: readers that mmap the file can then view tensors in place.
  let json = Buffer.from(`{${header.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`, 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return [len, json, ...parts];
}

export function encodeSafetensors(tensors: NamedTensor[], metadata?: Record<string, string>): Buffer {
  return Buffer.concat(encodeParts(tensors, metadata));
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Top-level keys of a JSON object text, in order and including duplicates. JSON.parse keeps only
 *  the last of duplicate keys, which would silently drop a tensor; this catches that, and gives
 *  the file's tensor order without JS's reordering of integer-like keys ("0", "1", ...).
 *  Only called on text that JSON.parse already accepted, so the scan can be simple. */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      let k = j + 1;
      while (/\s/.test(text[k] ?? '')) k++;
      if (depth === 1 && text[k] === ':') keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse a safetensors file image. `source` (a path) is only used in error messages. The returned
 *  tensors own freshly allocated, aligned buffers: they never alias `buf`. */
export function decodeSafetensors(buf: Uint8Array, source = '<buffer>'): SafetensorsContents {
  assertLittleEndian();
  const fail = (msg: string): never => { throw new Error(`safetensors ${source}: ${msg}`); };
  if (buf.byteLength < 8) fail(`file is ${buf.byteLength} bytes, shorter than the 8-byte header length`);
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = bytes.readBigUInt64LE(0);
  if (headerLen > BigInt(bytes.length - 8)) fail(`header length ${headerLen} exceeds the file size (${bytes.length} bytes); corrupt or truncated file`);
  const dataStart = 8 + Number(headerLen);
  const dataLen = bytes.length - dataStart;
  const text = bytes.toString('utf8', 8, dataStart);

  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    fail(`header is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(header)) fail('header is not a JSON object');
  const h = header as Record<string, unknown>;

  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) fail(`duplicate tensor name "${k}" in header`);
    seen.add(k);
  }

  const metadata: Record<string, string> = {};
  if ('__metadata__' in h) {
    const m = h.__metadata__;
    if (!isObject(m)) fail('"__metadata__" must be an object of strings');
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      if (typeof v !== 'string') fail(`"__metadata__" entry "${k}" must be a string, got ${JSON.stringify(v)}`);
      metadata[k] = v as string;
    }
  }

  const entries: { name: string; dtype: TensorDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const name of keys) {
    if (name === '__metadata__') continue;
    const e = h[name];
    const bad = (msg: string) => fail(`tensor "${name}": ${msg}`);
    if (!isObject(e)) bad('header entry is not an object');
    const { dtype: st, shape, data_offsets: offs } = e as Record<string, unknown>;
    const dtype = typeof st === 'string' ? FROM_ST.get(st) : undefined;
    if (!dtype) bad(`unknown dtype ${JSON.stringify(st)} (supported: ${[...FROM_ST.keys()].join(', ')})`);
    if (!Array.isArray(shape) || !shape.every(isDim)) bad(`shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isDim) || offs[0] > offs[1]) {
      bad(`data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as number[];
    const want = numel(shape as number[]) * DTYPES[dtype!].bytes;
    if (end! - begin! !== want) {
      bad(`dtype ${st} shape ${fmtShape(shape as number[])} needs ${want} bytes but data_offsets [${begin}, ${end}] span ${end! - begin!}`);
    }
    if (end! > dataLen) bad(`data_offsets [${begin}, ${end}] run past the end of the data section (${dataLen} bytes); file truncated?`);
    entries.push({ name, dtype: dtype!, shape: shape as number[], begin: begin!, end: end! });
  }

  // The tensors must tile the data section exactly, as the reference implementation requires:
  // overlap means corruption, and a gap or trailing bytes mean a header/data mismatch.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  let prev: (typeof entries)[number] | undefined;
  for (const e of byOffset) {
    if (e.begin < pos) fail(`tensor "${e.name}" data_offsets [${e.begin}, ${e.end}] overlap tensor "${prev!.name}" [${prev!.begin}, ${prev!.end}]`);
    if (e.begin > pos) fail(`${e.begin - pos} bytes before tensor "${e.name}" (offset ${pos}..${e.begin}) belong to no tensor`);
    pos = e.end;
    if (e.end > e.begin) prev = e;
  }
  if (pos !== dataLen) fail(`data section has ${dataLen - pos} trailing bytes after the last tensor (header covers ${pos} of ${dataLen})`);

  const tensors = entries.map(({ name, dtype, shape, begin, end }): NamedTensor => {
    // Copy into a fresh ArrayBuffer: the data section may start at any byte (headers written by
    // other tools need not be padded), and typed-array views require element alignment.
    const copy = new ArrayBuffer(end - begin);
    new Uint8Array(copy).set(bytes.subarray(dataStart + begin, dataStart + end));
    return { name, dtype, shape: [...shape], data: new DTYPES[dtype].ctor(copy) };
  });
  return { tensors, metadata };
}

// ---------------------------------------------------------------------------------------------
// Files

/** Atomic write: a crash leaves the previous file or the new one, never a torn one. */
export function saveSafetensors(file: string, tensors: NamedTensor[], metadata?: Record<string, string>): void {
  atomicWriteFile(file, encodeParts(tensors, metadata));
}

function readSafetensorsFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`safetensors file not found: ${file}`);
    throw err;
  }
}

export function loadSafetensors(file: string): SafetensorsContents {
  return decodeSafetensors(readSafetensorsFile(file), file);
}

// ---------------------------------------------------------------------------------------------
// Checkpoint directories: model.safetensors + config.json (+ extra files)

export interface CheckpointContents {
  tensors: NamedTensor[];
  /** A JSON object; saved as config.json with WEIGHTS_CHECKSUM_KEY added. */
  config: Record<string, unknown>;
  extraFiles?: Record<string, string | Uint8Array>;
  /** Goes into the weights file's own header (safetensors "__metadata__"), bound to the weights. */
  metadata?: Record<string, string>;
}
export interface LoadedCheckpoint { tensors: Map<string, NamedTensor>; config: unknown; metadata: Record<string, string>; dir: string }
export interface ExpectedTensor { name: string; shape: number[]; dtype: TensorDtype }

export const WEIGHTS_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';
/** config.json key holding the sha256 of the weights file. The loader checks it and hides it from
 *  the returned config; checkpoints saved before it existed load without the check. */
export const WEIGHTS_CHECKSUM_KEY = 'weights_sha256';

function sha256Hex(parts: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** The first non-finite value of each float tensor, so NaN weights (a diverged run, a damaged
 *  file) are refused at load instead of showing up as garbage results. */
function nonFiniteProblems(tensors: readonly NamedTensor[]): string[] {
  const problems: string[] = [];
  for (const t of tensors) {
    if (t.dtype !== 'float32' && t.dtype !== 'float64') continue;
    const d = t.data as Float32Array | Float64Array;
    let first = -1;
    let count = 0;
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i]!)) { if (first < 0) first = i; count++; }
    }
    if (count) problems.push(`tensor "${t.name}" has ${count} non-finite value${count > 1 ? 's' : ''} of ${d.length} (first: ${d[first]} at index ${first})`);
  }
  return problems;
}

/** Write a checkpoint directory so that `dir` is never seen half-written. Everything goes into a
 *  temp sibling directory first, which is then renamed into place. An existing checkpoint is
 *  renamed aside, the new one renamed in, and only then is the old one deleted. (POSIX cannot
 *  atomically swap two directories, so a crash between those two renames leaves `dir` missing but
 *  both complete copies next to it; recoverCheckpoint in checkpoint-recovery.ts puts the newer
 *  one back, and loadCheckpoint's error points at them.) */
export function saveCheckpoint(dir: string, c: CheckpointContents): void {
  // Validate and serialise everything before touching the disk, so bad input cannot disturb an
  // existing checkpoint.
  const weights = encodeParts(c.tensors, c.metadata);
  if (typeof c.config !== 'object' || c.config === null || Array.isArray(c.config)) throw new TypeError(`checkpoint ${dir}: config must be a JSON object`);
  const configText = JSON.stringify({ ...c.config, [WEIGHTS_CHECKSUM_KEY]: sha256Hex(weights) }, null, 2);
  if (configText === undefined) throw new TypeError(`checkpoint ${dir}: config is not JSON-serialisable`);
  const extras = Object.entries(c.extraFiles ?? {});
  for (const [name] of extras) {
    // Plain file names only: an extra file must not escape the checkpoint or shadow its core files.
    if (name === '' || name === '.' || name === '..' || name !== path.basename(name) || name.includes('\\') || name === WEIGHTS_FILE || name === CONFIG_FILE) {
      throw new Error(`checkpoint ${dir}: invalid extra file name "${name}"`);
    }
  }

  const target = path.resolve(dir);
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  let existing: fs.Stats | undefined;
  try { existing = fs.statSync(target); } catch { /* new checkpoint */ }
  if (existing && !existing.isDirectory()) throw new Error(`checkpoint ${dir}: exists and is not a directory`);

  const tmp = tempSibling(target);
  try {
    fs.mkdirSync(tmp);
    atomicWriteFile(path.join(tmp, WEIGHTS_FILE), weights);
    for (const [name, data] of extras) atomicWriteFile(path.join(tmp, name), data);
    // config.json last: a temporary directory that has it holds every file (see checkpoint-recovery.ts).
    atomicWriteFile(path.join(tmp, CONFIG_FILE), configText + '\n');
    fsyncDir(tmp);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }

  if (!existing) {
    try {
      fs.renameSync(tmp, target);
    } catch (err) {
      fs.rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    fsyncDir(parent);
    return;
  }
  const old = tempSibling(target, 'old');
  try {
    fs.renameSync(target, old);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  try {
    fs.renameSync(tmp, target);
  } catch (err) {
    fs.renameSync(old, target); // put the previous checkpoint back
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  fsyncDir(parent);
  fs.rmSync(old, { recursive: true, force: true });
}

/** Load a checkpoint directory. The weights must match the checksum in config.json (when it has
 *  one) and be finite. With `expected` (the model's parameters), every difference is reported at
 *  once: missing, unexpected, wrong shape and wrong dtype tensors. */
export function loadCheckpoint(dir: string, expected?: ExpectedTensor[]): LoadedCheckpoint {
  const target = path.resolve(dir);
  if (!fs.existsSync(target)) {
    // An interrupted saveCheckpoint can leave complete copies as <dir>.old-* / <dir>.tmp-*.
    const base = path.basename(target);
    let leftovers: string[] = [];
    try {
      leftovers = fs.readdirSync(path.dirname(target)).filter((f) => f.startsWith(`${base}.old-`) || f.startsWith(`${base}.tmp-`));
    } catch { /* parent missing too */ }
    const hint = leftovers.length ? ` (an interrupted save left ${leftovers.join(', ')} next to it)` : '';
    throw new Error(`checkpoint directory not found: ${dir}${hint}`);
  }
  const weightsPath = path.join(dir, WEIGHTS_FILE);
  const bytes = readSafetensorsFile(weightsPath);
  const { tensors, metadata } = decodeSafetensors(bytes, weightsPath);
  const configPath = path.join(dir, CONFIG_FILE);
  let config = readJsonFile(configPath, 'checkpoint config');
  if (isObject(config) && WEIGHTS_CHECKSUM_KEY in config) {
    const { [WEIGHTS_CHECKSUM_KEY]: want, ...rest } = config;
    const got = sha256Hex([bytes]);
    if (got !== want) throw new Error(`checkpoint ${weightsPath}: sha256 ${got} differs from ${JSON.stringify(want)} recorded in ${configPath}; the weights file is damaged or was replaced`);
    config = rest;
  }
  const nonFinite = nonFiniteProblems(tensors);
  if (nonFinite.length) throw new Error(`checkpoint ${weightsPath}: weights are not finite (diverged training or a damaged file):\n  ${nonFinite.join('\n  ')}`);
  const byName = new Map(tensors.map((t) => [t.name, t]));

  if (expected) {
    const problems: string[] = [];
    const wanted = new Set<string>();
    for (const e of expected) {
      wanted.add(e.name);
      const t = byName.get(e.name);
      if (!t) { problems.push(`missing tensor "${e.name}" (expected ${e.dtype} ${fmtShape(e.shape)})`); continue; }
      if (t.dtype !== e.dtype) problems.push(`tensor "${e.name}" has dtype ${t.dtype} but the model expects ${e.dtype}`);
      if (t.shape.length !== e.shape.length || t.shape.some((d, i) => d !== e.shape[i])) {
        problems.push(`tensor "${e.name}" has shape ${fmtShape(t.shape)} but the model expects ${fmtShape(e.shape)}`);
      }
    }
    for (const t of tensors) if (!wanted.has(t.name)) problems.push(`unexpected tensor "${t.name}" (${t.dtype} ${fmtShape(t.shape)}) not in the model`);
    if (problems.length) throw new Error(`checkpoint ${weightsPath} does not match the model:\n  ${problems.join('\n  ')}`);
  }
  return { tensors: byName, config, metadata, dir };
}
