// Crash-safe file helpers. Training runs get killed (OOM, Ctrl-C, preemption); a reader must
// then see either the old file or the new one, never a torn mix. The recipe is the usual one:
// write a temp file in the same directory (so rename stays on one filesystem and is atomic),
// fsync it, rename it over the target, then fsync the directory so the rename itself survives.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

/** A temp name next to `target`; pid + random so concurrent writers never collide. */
export function tempSibling(target: string, tag = 'tmp'): string {
  return path.join(path.dirname(target), `${path.basename(target)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** fsync a directory so renames/creates inside it are durable. Some platforms (Windows) cannot
 *  open or fsync directories; durability there is best-effort, so those errors are ignored. */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF' && code !== 'EACCES') throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** writeSync may write less than asked; loop until the whole chunk is out. */
function writeAll(fd: number, chunk: string | Uint8Array): void {
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`cannot write a ${typeof chunk} to a file (expected string or Uint8Array)`);
  let off = 0;
  while (off < bytes.byteLength) off += fs.writeSync(fd, bytes, off, bytes.byteLength - off);
}

/** Atomically replace `file` with `data`. A list of chunks is written back to back, which lets
 *  callers stream large tensors without first concatenating them into one big buffer. */
export function atomicWriteFile(file: string, data: string | Uint8Array | Uint8Array[]): void {
  const tmp = tempSibling(file);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx'); // 'x': never clobber someone else's file that happens to have this name
    for (const chunk of Array.isArray(data) ? data : [data]) writeAll(fd, chunk);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing; report the first error */ }
    try { fs.unlinkSync(tmp); } catch { /* may not exist */ }
    throw err;
  }
  fsyncDir(path.dirname(file));
}

/** Pretty JSON with a trailing newline, written atomically. */
export function atomicWriteJson(file: string, value: unknown): void {
  const text = JSON.stringify(value, null, 2);
  // JSON.stringify(undefined) returns undefined; writing "undefined" would make an unreadable file.
  if (text === undefined) throw new TypeError(`cannot write ${file}: value is not JSON-serialisable (${typeof value})`);
  atomicWriteFile(file, text + '\n');
}

/** Append one JSON line and fsync. The line goes out in a single write on an O_APPEND fd, so
 *  concurrent appenders do not interleave mid-line, and a crash loses at most the last line
 *  (readers should tolerate a torn final line). */
export function appendJsonl(file: string, obj: unknown): void {
  const text = JSON.stringify(obj);
  if (text === undefined) throw new TypeError(`cannot append to ${file}: value is not JSON-serialisable (${typeof obj})`);
  const fd = fs.openSync(file, 'a');
  try {
    writeAll(fd, text + '\n');
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Read and parse a JSON file; errors say what the file was for and where it is, because a bare
 *  "Unexpected token" from deep inside a run is useless. */
export function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${what} not found: ${file}`);
    throw new Error(`cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} ${file} is not valid JSON: ${(err as Error).message}`);
  }
}
