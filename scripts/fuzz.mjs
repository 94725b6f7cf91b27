#!/usr/bin/env node
// npm run fuzz -- --runs N [--seed S] [--target name[,name]]
// Runs every fuzz target of test/fuzz/targets.ts (compiled to dist/) with N inputs each, one
// worker thread per target so that an input that hangs is caught (no progress for --stall-s
// seconds ends the worker and counts as a failure), and prints one line per target:
//   target: N inputs, F failures, max ms, max heap MB
// then the first failing inputs. Exits 1 when any target failed. Run with --expose-gc (the
// npm script does) so heap growth is measured after collection.
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as path from 'node:path';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist/test/fuzz');

if (isMainThread) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
  const runs = Number(opt('runs', '1000'));
  const seed = Number(opt('seed', String(Date.now() % 2 ** 31)));
  const stallS = Number(opt('stall-s', '30'));
  const only = opt('target', '');
  if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(seed)) { console.error('usage: npm run fuzz -- --runs N [--seed S] [--target a,b] [--stall-s 30]'); process.exit(2); }
  const { TARGETS } = await import(pathToFileURL(path.join(DIST, 'targets.js')).href);
  const names = TARGETS.map((t) => t.name).filter((n) => !only || only.split(',').includes(n));
  if (names.length === 0) { console.error(`no target named ${only} (targets: ${TARGETS.map((t) => t.name).join(', ')})`); process.exit(2); }
  console.log(`fuzz: ${names.length} targets, ${runs} inputs each, seed ${seed}`);
  let failed = 0;
  for (const name of names) {
    const result = await new Promise((resolve) => {
      const w = new Worker(fileURLToPath(import.meta.url), { workerData: { name, runs, seed } });
      let done = 0;
      let last = Date.now();
      const timer = setInterval(() => {
        if (Date.now() - last > stallS * 1000) {
          clearInterval(timer);
          void w.terminate();
          resolve({ target: name, inputs: done, failures: 1, maxMs: (Date.now() - last), maxHeapMB: 0, examples: [{ index: done, error: `no progress for ${stallS} s: input ${done} hangs (rerun with --seed ${seed} --target ${name})`, input: '' }] });
        }
      }, 500);
      w.on('message', (m) => {
        last = Date.now();
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
