// A run directory: config.json (what was asked, plus the run's kind), metrics.jsonl (one object
// per logged step), checkpoints/latest (for --resume) and checkpoints/final, and .lock while a
// trainer owns it (run-lock.ts); also run.json (run-record.ts) and TensorBoard event files
// mirroring metrics.jsonl (tensorboard.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recoverCheckpoint, restorableCopy } from '../engine/checkpoint-recovery.js';
import { appendJsonl, atomicWriteFile, atomicWriteJson, readJsonFile } from '../util/fs.js';
import { RunLock } from './run-lock.js';
import { RunRecord } from './run-record.js';
import { EventLog, removeEventFiles } from './tensorboard.js';

export type RunKind = 'sft' | 'rl';

export interface OpenOptions {
  kind: RunKind;
  resume: boolean;
  /** Start over in a directory that holds another kind of run, a checkpoint or a run with
   *  checkpoints: its config.json is overwritten, its metrics.jsonl and checkpoints/ deleted. */
  force?: boolean;
  /** The checkpoint the run starts from; it may not be, contain or lie inside the run directory. */
  init?: string;
}

/** config.json key naming the kind of run, so another trainer never writes over it. */
const RUN_KIND_KEY = 'run_kind';
/** What a run writes into its directory, and so would overwrite. Other files (a bench's logs) stay. */
const RUN_FILES = ['config.json', 'metrics.jsonl', 'checkpoints'];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * How messages name the ways to continue or overwrite a run: the CLI's flags (set by
 * cli/main.ts, with the command line that resumes), or, in a program using the library, the
 * trainers' options.
 */
export interface RunDirWording {
  resume: string;
  force: string;
  /** The command that continues this run (the CLI's own, with --resume); absent in a program. */
  resumeCommand?: string;
}

let wording: RunDirWording = { resume: '--resume (in a program: the option resume: true)', force: '--force (in a program: force: true)' };

export function setRunDirWording(w: RunDirWording): void { wording = w; }

/** Where a checkpoint stands: "iteration N" (RL) or "step N" (SFT), or null without one. */
export function checkpointPosition(dir: string): string | null {
  try {
    const c = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { loop?: { iteration?: unknown }; optimizer_step?: unknown };
    if (typeof c.loop?.iteration === 'number') return `iteration ${c.loop.iteration}`;
    if (typeof c.optimizer_step === 'number') return `step ${c.optimizer_step}`;
  } catch { /* no (readable) checkpoint */ }
  return null;
}

/** realpath of `p`, also when `p` (or its tail) does not exist yet. */
function realPath(p: string): string {
  const abs = path.resolve(p);
  let head = abs;
  const tail: string[] = [];
  while (!fs.existsSync(head) && path.dirname(head) !== head) {
    tail.unshift(path.basename(head));
    head = path.dirname(head);
  }
  return path.join(fs.realpathSync(head), ...tail);
}

/** Refuses --init and --out that are the same directory or nested (symlinks resolved). */
export function assertSeparate(init: string, out: string): void {
  const a = realPath(init);
  const b = realPath(out);
  const inside = (x: string, y: string) => x.startsWith(y + path.sep);
  const how = a === b ? 'are the same directory' : inside(a, b) ? 'overlap: --init lies inside --out' : inside(b, a) ? 'overlap: --out lies inside --init' : null;
  if (how) throw new Error(`--init ${init} and --out ${out} ${how} (${a === b ? a : `${a}, ${b}`}); a run writes config.json, metrics.jsonl and checkpoints/ into --out, which would damage the checkpoint it starts from. Choose another --out`);
}

export class RunDir {
  private lock: RunLock | null = null;
  private record: RunRecord | null = null;
  private events: EventLog | null = null;
  constructor(readonly dir: string) {}

  get configFile(): string { return path.join(this.dir, 'config.json'); }
  get metricsFile(): string { return path.join(this.dir, 'metrics.jsonl'); }
  get checkpointsDir(): string { return path.join(this.dir, 'checkpoints'); }
  get latest(): string { return path.join(this.checkpointsDir, 'latest'); }
  get final(): string { return path.join(this.checkpointsDir, 'final'); }

  /** A checkpoint to resume from: latest, or a complete copy an interrupted save left beside it. */
  hasCheckpoint(): boolean { return fs.existsSync(path.join(this.latest, 'config.json')) || restorableCopy(this.latest) !== null; }

  /**
   * Takes ownership of the directory (its lock, held until close() or process exit), then
   * starts a fresh run (refusing to overwrite a checkpoint, another kind of run or a run that
   * has checkpoints, unless forced) or, with resume, checks that the stored config equals the
   * one given, so a resumed run is the same run, and restores checkpoints/latest after a crash
   * inside a save.
   */
  open(config: Record<string, unknown>, opts: OpenOptions): void {
    if (opts.init !== undefined) assertSeparate(opts.init, this.dir);
    fs.mkdirSync(this.dir, { recursive: true });
    // The session ends when ownership does: at close(), at exit or on a signal.
    this.lock = RunLock.acquire(this.dir, undefined, (cause) => {
      this.record?.end(cause);
      if (cause && 'signal' in cause) this.sayHowToResume(cause.signal);
    });
    try {
      if (opts.resume) this.checkResume(config, opts.kind);
      else this.startFresh(config, opts);
      this.events = null;
      this.record = RunRecord.begin(this.dir, { kind: opts.kind, resume: opts.resume });
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** Interrupted: what is kept and how to continue (stderr, so that --json output stays clean). */
  private sayHowToResume(signal: NodeJS.Signals): void {
    const at = checkpointPosition(this.latest);
    const kept = at ? `its checkpoint at ${at} (checkpoints/latest)` : 'no checkpoint yet (a resumed run starts at the beginning)';
    const how = wording.resumeCommand ? `continue with:\n  ${wording.resumeCommand}` : `continue by training again into ${this.dir} with ${wording.resume}`;
    process.stderr.write(`\nivr: interrupted (${signal}); ${this.dir} keeps ${kept}; ${how}\n`);
  }

  /** Gives up ownership and ends the session in run.json; idempotent. */
  close(): void {
    this.lock?.release();
    this.lock = null;
    this.record = null;
  }

  private storedConfig(): Record<string, unknown> | undefined {
    if (!fs.existsSync(this.configFile)) return undefined;
    const c = readJsonFile(this.configFile, 'run config');
    return isObject(c) ? c : {};
  }

  private checkResume(config: Record<string, unknown>, kind: RunKind): void {
    const stored = this.storedConfig();
    if (!stored) throw new Error(`--resume: ${this.dir} has no config.json; start the run without --resume`);
    const { [RUN_KIND_KEY]: storedKind, ...have } = stored;
    if (storedKind !== undefined && storedKind !== kind) throw new Error(`--resume: ${this.dir} holds an ${storedKind} run (${this.configFile}), which ${kind} training cannot continue; use a new --out`);
    if (JSON.stringify(have) !== JSON.stringify(config)) throw new Error(`--resume: the config differs from the one ${this.dir} was started with (${this.configFile}); resume with the same config or use a new --out`);
    for (const ck of [this.latest, this.final]) {
      const r = recoverCheckpoint(ck);
      if (r.restored) console.warn(`ivr: ${ck} was missing after an interrupted save; restored it from the complete copy ${path.basename(r.restored)}`);
      if (r.removed.length) console.warn(`ivr: removed ${r.removed.length} leftover${r.removed.length > 1 ? 's' : ''} of interrupted checkpoint saves: ${r.removed.map((d) => path.basename(d)).join(', ')}`);
    }
    const at = checkpointPosition(this.latest);
    console.warn(at ? `ivr: resumed ${this.dir} at ${at} (checkpoints/latest)` : `ivr: resumed ${this.dir}: it has no checkpoint yet, so training starts at the beginning`);
  }

  private startFresh(config: Record<string, unknown>, opts: OpenOptions): void {
    if (!opts.force) {
      if (this.hasCheckpoint() || fs.existsSync(path.join(this.final, 'config.json'))) throw new Error(`${this.dir} already holds a run with checkpoints; pass ${wording.resume} to continue it or choose another output directory (${wording.force} discards it)`);
      const present = RUN_FILES.filter((f) => fs.existsSync(path.join(this.dir, f)));
      let storedKind: unknown;
      try { storedKind = this.storedConfig()?.[RUN_KIND_KEY]; } catch { /* an unreadable config.json is no run of ours */ }
      if (present.length && storedKind !== opts.kind) {
        const what = fs.existsSync(path.join(this.dir, 'model.safetensors')) ? 'a checkpoint'
          : typeof storedKind === 'string' ? `an ${storedKind} run` : `not an ${opts.kind} run`;
        throw new Error(`--out ${this.dir} is ${what} (it holds ${present.join(', ')}), which a new ${opts.kind} run would overwrite; choose another --out, or pass ${wording.force} to overwrite it`);
      }
    }
    // Nothing of an earlier run may survive into this one: a stale checkpoint would later be
    // resumed as if it belonged to it.
    fs.rmSync(this.checkpointsDir, { recursive: true, force: true });
    fs.mkdirSync(this.checkpointsDir, { recursive: true });
    atomicWriteJson(this.configFile, { [RUN_KIND_KEY]: opts.kind, ...config });
    if (fs.existsSync(this.metricsFile)) fs.rmSync(this.metricsFile);
    removeEventFiles(this.dir); // run.json starts over in RunRecord.begin
  }

  logMetrics(row: Record<string, unknown>): void {
    appendJsonl(this.metricsFile, row);
    // First row of this RunDir: rebuild, so the event file matches metrics.jsonl even if an
    // earlier process died between the two appends.
    if (this.events) this.events.append(row);
    else this.events = EventLog.rebuild(this.dir, this.readMetrics());
  }

  readMetrics(): Record<string, unknown>[] {
    if (!fs.existsSync(this.metricsFile)) return [];
    return fs.readFileSync(this.metricsFile, 'utf8').split('\n').filter((l) => l.trim()).flatMap((l) => {
      try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } // a torn last line after a crash
    });
  }

  /** After a crash, drop metric rows logged after the checkpoint we resume from. */
  truncateMetrics(keep: (row: Record<string, unknown>) => boolean): void {
    const rows = this.readMetrics().filter(keep);
    atomicWriteFile(this.metricsFile, rows.map((r) => JSON.stringify(r) + '\n').join(''));
    this.events = EventLog.rebuild(this.dir, rows);
  }
}
