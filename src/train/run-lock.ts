// Exclusive ownership of a run directory: <dir>/.lock, created with O_EXCL, holding who owns it.
// Two trainers on one directory otherwise both "succeed" and interleave metrics.jsonl and
// checkpoints. A lock whose process is gone (kill -9, power loss) is taken over with a warning;
// one held on another host cannot be checked, so it is refused with a hint.
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const LOCK_FILE = '.lock';

export interface LockOwner { pid: number; host: string; started: string; command: string; token: string }

// A lock file is written right after its O_EXCL create; one still empty or unreadable after this
// long belongs to a process that died in between.
const UNREADABLE_GRACE_MS = 5000;

function readOwner(file: string): LockOwner | null {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
    return typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.token === 'string' ? o : null;
  } catch {
    return null;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/** Why a lock was let go without its owner's release(): the process exits, or dies of a signal. */
export type ReleaseCause = { exit_code: number } | { signal: NodeJS.Signals };

const held = new Set<RunLock>();
const releaseAll = (cause: ReleaseCause) => { for (const l of [...held]) l.release(cause); };
const onExit = (code: number) => releaseAll({ exit_code: code });
// Ctrl-C / kill: release, then die of the same signal (so the exit status still says so).
const onSignal = (signal: NodeJS.Signals) => {
  releaseAll({ signal });
  process.kill(process.pid, signal);
};

function track(lock: RunLock, on: boolean): void {
  const before = held.size;
  if (on) held.add(lock); else held.delete(lock);
  if (before === 0 && held.size === 1) {
    process.on('exit', onExit);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  } else if (before > 0 && held.size === 0) {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export class RunLock {
  private released = false;
  private constructor(readonly file: string, readonly owner: LockOwner, private readonly onRelease?: (cause?: ReleaseCause) => void) {}

  /** Takes `dir`'s lock or throws an error naming the holder. `dir` must exist. `onRelease`
   *  runs while the lock is still held, just before it is let go (run.json's session end). */
  static acquire(dir: string, warn: (msg: string) => void = (m) => console.warn(`ivr: ${m}`), onRelease?: (cause?: ReleaseCause) => void): RunLock {
    const file = path.join(dir, LOCK_FILE);
    const owner: LockOwner = {
      pid: process.pid, host: os.hostname(), started: new Date().toISOString(),
      command: process.argv.slice(1).join(' '), token: randomBytes(8).toString('hex'),
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number;
      try {
        fd = fs.openSync(file, 'wx');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot create the lock ${file}: ${(err as Error).message}`);
        RunLock.takeOverIfStale(dir, file, warn);
        continue;
      }
      try {
        fs.writeSync(fd, JSON.stringify(owner) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      const lock = new RunLock(file, owner, onRelease);
      track(lock, true);
      return lock;
    }
    throw new Error(`${dir}: could not take the lock ${file} (other processes keep taking it); try again`);
  }

  /** Returns when a stale lock was moved away (the caller retries); throws when it is live. */
  private static takeOverIfStale(dir: string, file: string, warn: (msg: string) => void): void {
    const o = readOwner(file);
    let stale: string;
    if (!o) {
      const st = fs.statSync(file, { throwIfNoEntry: false });
      if (!st) return; // released meanwhile
      if (Date.now() - st.mtimeMs < UNREADABLE_GRACE_MS) throw new Error(`${dir} is being taken by another trainer (${file} is being written); wait for it or choose another --out`);
      stale = `unreadable lock ${file}`;
    } else if (o.host !== os.hostname()) {
      throw new Error(`${dir} is in use by pid ${o.pid} on host ${o.host} since ${o.started} (${file}); if no trainer runs there, delete ${file}`);
    } else if (processAlive(o.pid)) {
      throw new Error(`${dir} is in use by another trainer: pid ${o.pid} since ${o.started} (${o.command || 'unknown command'}); wait for it to finish or stop it, or choose another --out (lock ${file})`);
    } else {
      stale = `stale lock ${file} of pid ${o.pid} (started ${o.started}, no longer running)`;
    }
    // Move it aside under a unique name rather than delete it, and check it is still the one we
    // judged: a trainer that took it over meanwhile must keep its fresh lock.
    const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      fs.renameSync(file, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    const moved = readOwner(aside);
    if (o ? moved?.token !== o.token : moved !== null) {
      try { fs.linkSync(aside, file); } catch { /* someone holds it now: our retry will report them */ }
      fs.rmSync(aside, { force: true });
      return;
    }
    fs.rmSync(aside, { force: true });
    warn(`taking over ${stale}`);
  }

  /** Removes the lock if it is still ours. Idempotent; also runs on exit and on SIGINT/SIGTERM. */
  release(cause?: ReleaseCause): void {
    if (this.released) return;
    this.released = true;
    track(this, false);
    try { this.onRelease?.(cause); } catch { /* the lock must go regardless */ }
    if (readOwner(this.file)?.token === this.owner.token) fs.rmSync(this.file, { force: true });
  }
}
