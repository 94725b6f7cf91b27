// Crash-safe JSONL output for long data jobs. Lines are only ever appended, each batch in
// one write() on an O_APPEND descriptor followed by fsync, so an interrupted job leaves
// at most a torn LAST line. open() detects a torn tail (no final newline, or a final line
// that is not JSON) and truncates it, so a resumed job continues from whole lines only.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface OpenedJsonl {
  /** Parsed records already in the file. */
  records: Record<string, unknown>[];
  /** Bytes cut off a torn last line (0 when the file was clean). */
  truncatedBytes: number;
}

/** Reads (creating if needed) a JSONL file, repairing a torn last line. */
export function openJsonl(file: string): OpenedJsonl {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  if (!fs.existsSync(file)) {
    fs.closeSync(fs.openSync(file, 'a'));
    return { records: [], truncatedBytes: 0 };
  }
  const buf = fs.readFileSync(file);
  let keep = buf.length;
  if (keep > 0 && buf[keep - 1] !== 0x0a) keep = buf.lastIndexOf(0x0a) + 1; // torn: no final newline
  const records: Record<string, unknown>[] = [];
  const lines = buf.subarray(0, keep).toString('utf8').split('\n');
  lines.pop(); // the empty string after the final newline
  let offset = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const bytes = Buffer.byteLength(line, 'utf8') + 1;
    if (line.trim().length === 0) { offset += bytes; continue; }
    try {
      const v = JSON.parse(line) as unknown;
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
      records.push(v as Record<string, unknown>);
    } catch (e) {
      // A bad final line is a torn write (e.g. a crash mid-write on a filesystem that does
      // not keep writes atomic); a bad line elsewhere is not ours to delete.
      if (i === lines.length - 1) { keep = offset; break; }
      throw new Error(`${file}: line ${i + 1} is not a JSON object (${(e as Error).message}); fix or remove it before resuming`);
    }
    offset += bytes;
  }
  const truncatedBytes = buf.length - keep;
  if (truncatedBytes > 0) {
    fs.truncateSync(file, keep);
    const fd = fs.openSync(file, 'r+');
    try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  }
  return { records, truncatedBytes };
}

/** Appends records as whole lines in one write, then fsyncs. */
export function appendRecords(file: string, records: readonly unknown[]): void {
  if (records.length === 0) return;
  const text = records.map((r) => {
    const s = JSON.stringify(r);
    if (s === undefined) throw new TypeError(`cannot append to ${file}: record is not JSON-serialisable`);
    return s + '\n';
  }).join('');
  const bytes = Buffer.from(text, 'utf8');
  const fd = fs.openSync(file, 'a');
  try {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(fd, bytes, off, bytes.length - off);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
