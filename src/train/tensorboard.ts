// TensorBoard scalars for a run directory: every metrics.jsonl row becomes one event in
// events.out.tfevents.<unix seconds>.<host> beside it, so `tensorboard --logdir runs/` shows
// every run. metrics.jsonl stays the source of truth: the event file is rebuilt from it when a
// RunDir first logs (or drops rows, as a resume does) and appended to after that.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { atomicWriteFile } from '../util/fs.js';
import { FILE_VERSION, encodeEvent, encodeRecord, eventWallTimes } from './tfevents.js';

export const EVENT_FILE_PREFIX = 'events.out.tfevents.';

type Row = Record<string, unknown>;

/**
 * A row's step (RL rows count `iter`, SFT rows `step`; else its position in the file) and its
 * finite numbers as scalars, nested objects flattened into `outer/inner` tags.
 */
export function scalarsOf(row: Row, position: number): { step: number; scalars: [string, number][] } {
  const stepKey = Number.isSafeInteger(row.iter) ? 'iter' : Number.isSafeInteger(row.step) ? 'step' : null;
  const scalars: [string, number][] = [];
  const walk = (obj: Row, prefix: string) => {
    for (const [k, v] of Object.entries(obj)) {
      if (prefix === '' && k === stepKey) continue; // it is the x-axis already
      if (typeof v === 'number' && Number.isFinite(v)) scalars.push([prefix + k, v]);
      else if (typeof v === 'object' && v !== null && !Array.isArray(v)) walk(v as Row, `${prefix}${k}/`);
    }
  };
  walk(row, '');
  return { step: stepKey ? (row[stepKey] as number) : position, scalars };
}

/** Event files in `dir`, oldest name first (names carry their creation second). */
export function eventFiles(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.startsWith(EVENT_FILE_PREFIX)).sort().map((f) => path.join(dir, f));
}

/** Deletes a run's event files (and leftovers of interrupted rewrites). */
export function removeEventFiles(dir: string): void {
  for (const f of eventFiles(dir)) fs.rmSync(f, { force: true });
}

const scalarRecord = (wallTime: number, { step, scalars }: ReturnType<typeof scalarsOf>): Uint8Array | null =>
  scalars.length ? encodeRecord(encodeEvent(wallTime, step, { scalars })) : null;

export class EventLog {
  private constructor(readonly file: string, private rows: number) {}

  /**
   * Writes a new event file holding `rows` and deletes the older ones, atomically enough that a
   * reader sees the old data or the new. Steps that an older file holds keep its wall times, so
   * TensorBoard's time axis still says when they were trained.
   */
  static rebuild(dir: string, rows: Row[]): EventLog {
    const old = eventFiles(dir);
    const times = new Map<number, number>();
    for (const f of old) for (const [step, t] of eventWallTimes(fs.readFileSync(f))) times.set(step, t);
    const now = Date.now() / 1000;
    const records: Uint8Array[] = [];
    rows.forEach((row, i) => {
      const s = scalarsOf(row, i);
      const rec = scalarRecord(times.get(s.step) ?? now, s);
      if (rec) records.push(rec);
    });
    let first = now;
    for (const t of times.values()) first = Math.min(first, t);
    records.unshift(encodeRecord(encodeEvent(first, 0, { fileVersion: FILE_VERSION })));
    // A new name rather than a rewrite in place: a TensorBoard tailing the old file keeps its
    // handle on the old inode and would never see the new data.
    const file = path.join(dir, `${EVENT_FILE_PREFIX}${Math.floor(now)}.${os.hostname()}`);
    atomicWriteFile(file, records);
    for (const f of old) if (f !== file) fs.rmSync(f, { force: true });
    return new EventLog(file, rows.length);
  }

  /** Appends one metrics row. No fsync: a torn tail is harmless, as the next rebuild replaces it. */
  append(row: Row): void {
    const rec = scalarRecord(Date.now() / 1000, scalarsOf(row, this.rows++));
    if (rec) fs.appendFileSync(this.file, rec);
  }
}
