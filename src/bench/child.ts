// Runs an `ivr` command as a child process (one process per run, so runs use the cores in
// parallel and a crash of one run cannot take the bench down). Output goes to a log file.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withMallocTuning } from '../util/malloc-tuning.js';

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface ChildResult {
  stdout: string;
  /** The child's peak resident set (VmHWM), sampled every 250 ms; null where /proc is absent. */
  peakRssMiB: number | null;
}

/** VmHWM of a live process in MiB, or null (not Linux, or the process is gone). */
function highWaterMiB(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export function runIvr(args: string[], logFile: string, env: Record<string, string> = {}): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(logFile, 'a');
    fs.writeSync(log, `\n$ ivr ${args.join(' ')}\n`);
    // IVR_EXIT_WITH_PARENT: a child whose bench dies (SIGKILL, OOM) interrupts itself, releasing its
    // run directory, instead of training on and holding the lock the resumed bench needs.
    const child = spawn(process.execPath, [CLI, ...args], { env: withMallocTuning({ ...process.env, ...env, IVR_EXIT_WITH_PARENT: '1' }), stdio: ['ignore', 'pipe', log] });
    let stdout = '';
    // VmHWM only rises, so the last sample before exit misses at most 250 ms of growth.
    let peak: number | null = null;
    const sample = () => { const v = child.pid ? highWaterMiB(child.pid) : null; if (v !== null) peak = Math.max(peak ?? 0, v); };
    const timer = setInterval(sample, 250);
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); fs.writeSync(log, d); });
    child.on('error', (e) => { clearInterval(timer); fs.closeSync(log); reject(e); });
    child.on('close', (code) => {
      clearInterval(timer);
      if (peak !== null) fs.writeSync(log, `[bench] peak RSS of this run: ${peak.toFixed(0)} MiB\n`);
      fs.closeSync(log);
      if (code === 0) resolve({ stdout, peakRssMiB: peak });
      else reject(new Error(`ivr ${args[0]} exited with ${code}; see ${logFile}`));
    });
  });
}

/** Runs tasks with at most `jobs` at a time; the first failure is reported after all settle. */
export async function pool<T>(items: T[], jobs: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try { await work(items[i]!, i); } catch (e) { errors.push(e); }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  if (errors.length) throw errors[0];
}
