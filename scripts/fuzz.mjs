#!/usr/bin/env node
// npm run fuzz -- --runs N [--seed S] [--target name[,name]]
// Runs every fuzz target of test/fuzz/targets.ts (compiled to dist/) with N inputs each, one
// worker thread per target so that an input that hangs is caught (no progress while the worker
// thread spends --stall-s seconds of CPU time, or for --stall-wall-s seconds of wall time,
// ends the worker and counts as a failure; on a system without /proc/<pid>/task/<tid>/schedstat,
// --stall-s seconds of wall time), and prints one line per target:
//   target: N inputs, F failures, max ms, max heap MB (max wall W ms)
// (max ms: CPU time of one input, see test/fuzz/harness.ts), then the first failing inputs. Exits 1 when any target failed. Run with --expose-gc (the
// npm script does) so heap growth is measured after collection.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as path from 'node:path';
import * as fs from 'node:fs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist/test/fuzz');

if (isMainThread) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
  const runs = Number(opt('runs', '1000'));
  const seed = Number(opt('seed', String(Date.now() % 2 ** 31)));
  const stallS = Number(opt('stall-s', '30'));
  const stallWallS = Number(opt('stall-wall-s', String(Math.max(600, 10 * stallS))));
  const only = opt('target', '');
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) { console.error('usage: npm run fuzz -- --runs N [--seed S] [--target a,b] [--stall-s 30] [--stall-wall-s 600]'); process.exit(2); }
  const { TARGETS } = await import(pathToFileURL(path.join(DIST, 'targets.js')).href);
  const names = TARGETS.map((t) => t.name).filter((n) => !only || only.split(',').includes(n));
  if (names.length === 0) { console.error(`no target named ${only} (targets: ${TARGETS.map((t) => t.name).join(', ')})`); process.exit(2); }
  /** CPU seconds thread `tid` of this process has run, or null where that cannot be read. */
  const cpuS = (tid) => {
    try { return Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'latin1').split(' ')[0]) / 1e9; } catch { return null; }
  };
  const cpuClock = cpuS(process.pid) !== null;
  console.log(`fuzz: ${names.length} targets, ${runs} inputs each, seed ${seed}; time per input: ${cpuClock ? 'CPU time of the worker thread' : 'wall time'}`);
  let failed = 0;
  for (const name of names) {
    const result = await new Promise((resolve) => {
      const w = new Worker(fileURLToPath(import.meta.url), { workerData: { name, runs, seed } });
      let done = 0;
      let last = Date.now();
      let tid = null;
      let cpuAtLast = null;
      const timer = setInterval(() => {
        const wallIdle = (Date.now() - last) / 1000;
        const cpu = tid === null ? null : cpuS(tid);
        const cpuIdle = cpu === null || cpuAtLast === null ? null : cpu - cpuAtLast;
        // With a CPU clock: stalled when the worker has spun stallS s of CPU without progress,
        // or waited stallWallS s (a busy machine may leave it little CPU; a hang may also block).
        const stalled = cpuClock ? (cpuIdle !== null && cpuIdle > stallS) || wallIdle > stallWallS : wallIdle > stallS;
        if (stalled) {
          clearInterval(timer);
          void w.terminate();
          const why = cpuIdle !== null && cpuIdle > stallS ? `${cpuIdle.toFixed(1)} s of CPU time (${wallIdle.toFixed(1)} s wall)` : `${wallIdle.toFixed(1)} s`;
          resolve({ target: name, inputs: done, failures: 1, maxMs: wallIdle * 1000, maxHeapMB: 0, examples: [{ index: done, error: `no progress for ${why}: input ${done} hangs (rerun with --seed ${seed} --target ${name})`, input: '' }] });
        }
      }, 500);
      w.on('message', (m) => {
        last = Date.now();
        if (m.tid !== undefined) tid = m.tid;
        if (tid !== null) cpuAtLast = cpuS(tid);
        if (m.progress !== undefined) done = m.progress;
        if (m.result) { clearInterval(timer); resolve(m.result); }
      });
      w.on('error', (e) => { clearInterval(timer); resolve({ target: name, inputs: done, failures: 1, maxMs: 0, maxHeapMB: 0, examples: [{ index: done, error: `worker crashed: ${e.stack ?? e}`, input: '' }] }); });
    });
    const { summaryLine } = await import(pathToFileURL(path.join(DIST, 'harness.js')).href);
    console.log(summaryLine(result));
    if (result.failures > 0) {
      failed++;
      for (const ex of result.examples) console.log(`  input #${ex.index}: ${ex.error}\n    ${ex.input}`);
    }
  }
  process.exit(failed ? 1 : 0);
} else {
  // This thread's id, so that the main thread can read its CPU time.
  try { parentPort.postMessage({ tid: Number(fs.readlinkSync('/proc/thread-self').split('/').at(-1)) }); } catch { /* not Linux */ }
  const { TARGETS } = await import(pathToFileURL(path.join(DIST, 'targets.js')).href);
  const { runTarget } = await import(pathToFileURL(path.join(DIST, 'harness.js')).href);
  const t = TARGETS.find((x) => x.name === workerData.name);
  let lastPost = 0;
  const result = await runTarget(t, workerData.runs, workerData.seed, (done) => {
    const now = Date.now();
    if (now - lastPost > 200) { lastPost = now; parentPort.postMessage({ progress: done }); }
  });
  parentPort.postMessage({ result });
}
