// run.json: who ran a run directory, with what, and how each session ended. A resumed run keeps
// one entry per session (start, end, exit), since code, versions and machine may differ between
// them; a fresh run starts the list over.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { atomicWriteJson, readJsonFile } from '../util/fs.js';
import { provenance, type Provenance } from './provenance.js';
import type { ReleaseCause } from './run-lock.js';

export const RUN_RECORD_FILE = 'run.json';

export interface RunSession extends Provenance {
  kind: string;
  resumed: boolean;
  start: string;
  end?: string;
  exit_code?: number;
  signal?: NodeJS.Signals;
  argv: string[];
  cwd: string;
  pid: number;
  host: string;
}

export interface RunRecordFile { sessions: RunSession[] }

// Sessions this process ended before it knew its own exit code (a trainer closes its run
// directory, then the CLI exits 0 or 1): the code is filled in on exit.
const awaitingExit = new Set<RunRecord>();
let exitHooked = false;

export class RunRecord {
  private ended = false;
  private constructor(readonly file: string, private readonly index: number, private readonly start: string) {}

  /** Records a new session: the first of a fresh run, or one more of a resumed run. */
  static begin(dir: string, opts: { kind: string; resume: boolean }): RunRecord {
    const file = path.join(dir, RUN_RECORD_FILE);
    const sessions = opts.resume ? RunRecord.read(file)?.sessions ?? [] : [];
    const start = new Date().toISOString();
    sessions.push({
      kind: opts.kind, resumed: opts.resume, start, argv: process.argv, cwd: process.cwd(), pid: process.pid,
      host: os.hostname(), ...provenance(),
    });
    atomicWriteJson(file, { sessions } satisfies RunRecordFile);
    return new RunRecord(file, sessions.length - 1, start);
  }

  static read(file: string): RunRecordFile | null {
    if (!fs.existsSync(file)) return null;
    try {
      const r = readJsonFile(file, 'run record') as RunRecordFile;
      if (Array.isArray(r?.sessions)) return r;
      console.warn(`ivr: ${file} has no sessions list; starting it over`);
    } catch (err) {
      console.warn(`ivr: ${(err as Error).message}; starting it over`);
    }
    return null;
  }

  /**
   * Ends the session now; `how` when the caller knows how the process ends (an exit, a
   * signal). Idempotent. A failure to write is a warning: it must not fail the run it records.
   */
  end(how?: ReleaseCause): void {
    if (this.ended) return;
    this.ended = true;
    this.update({ end: new Date().toISOString(), ...how });
    if (how) return;
    awaitingExit.add(this);
    if (!exitHooked) {
      exitHooked = true;
      process.on('exit', (code) => { for (const r of awaitingExit) r.update({ exit_code: code }, true); });
    }
  }

  private update(fields: Partial<RunSession>, quiet = false): void {
    try {
      const rec = RunRecord.read(this.file);
      const s = rec?.sessions[this.index];
      // Another process may own the directory by now (its lock was released at end()).
      if (!rec || !s || s.start !== this.start || s.pid !== process.pid) return;
      Object.assign(s, fields);
      atomicWriteJson(this.file, rec);
    } catch (err) {
      // At exit a test's temporary run directory may be gone already; nothing to report there.
      if (!quiet) console.warn(`ivr: cannot update ${this.file}: ${(err as Error).message}`);
    }
  }
}
