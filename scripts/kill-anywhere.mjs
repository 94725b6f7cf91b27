#!/usr/bin/env node
// Kill anywhere (issue #27, item 3): starts `ivr sft`, `ivr train --method grpo`, `ivr train
// --method ivr`, `ivr synth` (against a real `ivr serve` on loopback), `ivr tasks export` and
// `ivr bench` on small configs, sends SIGKILL at random points, resumes each the way a user
// would (trainers: the same command with --resume once the run has a config.json; synth,
// export and bench: the same command again), and checks the end state against an
// uninterrupted run of the same command:
//   trainers  final weights bit-identical (sha256 of model.safetensors), the sha256 that
//             config.json records matches the file, metrics.jsonl parses and has the same
//             iterations/steps as the uninterrupted run (none lost, none twice);
//   synth     every demo line parses, the demos are exactly the uninterrupted run's (as a
//             multiset of lines), progress.jsonl names every task exactly once;
//   export    every file byte-identical to the uninterrupted export;
//   bench     results.json parses, every run's final weights and eval.json equal the
//             uninterrupted bench's; the children of a killed bench do not outlive it;
//   all       no .lock, no temp file (*.tmp-*, *.stale-*) left anywhere under the output.
// Only the top process is killed (a bench's children are orphaned, as after an OOM kill).
//
//   node scripts/kill-anywhere.mjs [--kills 30] [--seed 1] [--work DIR] [--only sft,grpo,...] [--keep]
//
// Prints one row per command (kills, resumes, checks) and exits 1 when any check failed.
// Run `npm run build` first; it runs dist/src/cli/main.js with IVR_THREADS=1.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const BASE = path.join(ROOT, 'checkpoints/base');

const args = process.argv.slice(2);
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
const KILLS = Number(opt('kills', '30'));
const SEED = Number(opt('seed', '1'));
const ONLY = opt('only', '');
const KEEP = args.includes('--keep');
if (!Number.isInteger(KILLS) || KILLS < 1 || !Number.isInteger(SEED)) {
  console.error('usage: node scripts/kill-anywhere.mjs [--kills N] [--seed S] [--work DIR] [--only a,b] [--keep]');
  process.exit(2);
}
const WORK = path.resolve(opt('work', fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-kill-anywhere-'))));
fs.mkdirSync(WORK, { recursive: true });

// mulberry32: the kill points, reproducible from --seed.
let rs = SEED >>> 0;
const rand = () => { rs = (rs + 0x6d2b79f5) >>> 0; let t = rs; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32; };

const ENV = { ...process.env, IVR_THREADS: '1', MALLOC_MMAP_THRESHOLD_: '33554432', MALLOC_TRIM_THRESHOLD_: '1073741824' };
delete ENV.npm_lifecycle_event;

/** Runs the CLI; with killAfterMs, SIGKILLs it then (if it still runs). */
function ivr(argv, killAfterMs) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, ...argv], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    let killed = false;
    const timer = killAfterMs === undefined ? null : setTimeout(() => { if (child.exitCode === null) { killed = true; child.kill('SIGKILL'); } }, killAfterMs);
    child.on('error', reject);
    child.on('close', (code, signal) => { if (timer) clearTimeout(timer); resolve({ code, signal, killed, out, ms: Date.now() - t0, pid: child.pid }); });
  });
}

const sha = (f) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const walk = (d) => fs.existsSync(d) ? fs.readdirSync(d, { withFileTypes: true }).flatMap((e) => {
  const p = path.join(d, e.name);
  return e.isDirectory() ? [p, ...walk(p)] : [p];
}) : [];
const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter((l) => l.length > 0);
const parseLines = (f) => lines(f).map((l, i) => { try { return JSON.parse(l); } catch { throw new Error(`${f}:${i + 1} does not parse: ${l.slice(0, 80)}`); } });

/** Leftovers that say a directory was left locked or half-written. */
function leftovers(dir) {
  return walk(dir).filter((p) => /(^|\/)\.lock$|\.tmp-|\.stale-|\.partial|\.saving/.test(p)).map((p) => path.relative(dir, p));
}

/** Processes whose command line names `needle` (a bench's orphaned children). */
function processesNaming(needle) {
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes(needle) && Number(pid) !== process.pid) found.push(Number(pid));
    } catch { /* gone */ }
  }
  return found;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitGone(needle, ms) {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) { if (processesNaming(needle).length === 0) return Date.now() - t0; await sleep(100); }
  return null;
}

function writeJson(file, v) { fs.mkdirSync(path.dirname(file), { recursive: true }); fs.writeFileSync(file, JSON.stringify(v, null, 2)); return file; }

// ---------------------------------------------------------------------------------------------
// The commands, each with its small config.

const CFG = path.join(WORK, 'configs');
const sftCfg = writeJson(path.join(CFG, 'sft.json'), {
  seed: 1, model: { vocab: 112, dim: 32, layers: 1, heads: 2, mlpRatio: 2, maxText: 160, imageSize: 48, patch: 8 },
  steps: 400, batch_size: 8, lr: 0.003, warmup: 5, families: ['grid'], max_horizon: { grid: 3, shapes: 2, chart: 2 },
  val_every: 100, val_n: 6, checkpoint_every: 25, threads: 1,
});
const grpoCfg = writeJson(path.join(CFG, 'grpo.json'), {
  method: 'grpo', prompts_per_iter: 4, group_size: 4, max_new_tokens: 96, iterations: 8, lr: 0.0001,
  minibatch_size: 16, val_every: 4, val_size: 6, checkpoint_every: 1, seed: 2, threads: 1,
});
// checkpoint_every 2: a kill between checkpoints replays an iteration on resume.
const ivrCfg = writeJson(path.join(CFG, 'ivr.json'), {
  method: 'ivr', prompts_per_iter: 4, group_size: 4, max_new_tokens: 96, iterations: 8, lr: 0.0001,
  minibatch_size: 16, val_every: 4, val_size: 6, checkpoint_every: 2, seed: 2, threads: 1,
  ivr: { max_rectifications: 4, rounds: 2 },
});
const benchCfgDir = path.join(CFG, 'bench');
writeJson(path.join(benchCfgDir, 'grpo.json'), {
  method: 'grpo', prompts_per_iter: 4, group_size: 4, max_new_tokens: 96, iterations: 1000, lr: 0.00005,
  minibatch_size: 16, val_every: 2, val_size: 6, checkpoint_every: 1, seed: 0, threads: 1,
});
writeJson(path.join(benchCfgDir, 'sft.json'), {
  seed: 0, model: { vocab: 112, dim: 128, layers: 4, heads: 4, mlpRatio: 4, maxText: 320, imageSize: 48, patch: 8 },
  steps: 100000, batch_size: 8, lr: 0.0001, warmup: 0, min_lr_frac: 1, weight_decay: 0.1, grad_clip: 1.0,
  families: ['grid', 'shapes', 'chart'], max_horizon: { grid: 10, shapes: 6, chart: 7 },
  val_every: 5, val_n: 6, checkpoint_every: 2, threads: 1,
});

function trainerCheck(kind) {
  return (ref, dir) => {
    const problems = [];
    const fin = path.join(dir, 'checkpoints/final');
    const a = sha(path.join(ref, 'checkpoints/final/model.safetensors'));
    const b = fs.existsSync(path.join(fin, 'model.safetensors')) ? sha(path.join(fin, 'model.safetensors')) : 'missing';
    if (a !== b) problems.push(`final weights differ (${b.slice(0, 12)} vs ${a.slice(0, 12)})`);
    const recorded = JSON.parse(fs.readFileSync(path.join(fin, 'config.json'), 'utf8')).weights_sha256;
    if (recorded !== b) problems.push(`config.json records sha256 ${String(recorded).slice(0, 12)}, file has ${b.slice(0, 12)}`);
    const key = kind === 'rl' ? 'iter' : 'step';
    const seq = (d) => parseLines(path.join(d, 'metrics.jsonl')).map((r) => r[key]).join(',');
    if (seq(ref) !== seq(dir)) problems.push(`metrics.jsonl ${key}s ${seq(dir)} vs ${seq(ref)}`);
    return problems;
  };
}

const SCENARIOS = {
  sft: {
    argv: (out) => ['sft', '--config', sftCfg, '--out', out, '--quiet'],
    resumeArgv(out) { return fs.existsSync(path.join(out, 'config.json')) ? [...this.argv(out), '--resume'] : this.argv(out); },
    check: trainerCheck('sft'),
  },
  grpo: {
    argv: (out) => ['train', '--method', 'grpo', '--init', BASE, '--config', grpoCfg, '--out', out, '--quiet'],
    resumeArgv(out) { return fs.existsSync(path.join(out, 'config.json')) ? [...this.argv(out), '--resume'] : this.argv(out); },
    check: trainerCheck('rl'),
  },
  ivr: {
    argv: (out) => ['train', '--method', 'ivr', '--init', BASE, '--config', ivrCfg, '--out', out, '--quiet'],
    resumeArgv(out) { return fs.existsSync(path.join(out, 'config.json')) ? [...this.argv(out), '--resume'] : this.argv(out); },
    check: trainerCheck('rl'),
  },
  synth: {
    // out is a directory; the demos file lives in it. --endpoint is filled in once serve runs.
    argv: (out) => ['synth', '--endpoint', SCENARIOS.synth.url, '--model', 'base', '--tasks', SCENARIOS.synth.tasks, '--out', path.join(out, 'demos.jsonl'),
      '--samples', '3', '--rounds', '2', '--keep-correct', '1', '--max-tokens', '160', '--concurrency', '2', '--quiet'],
    resumeArgv(out) { return this.argv(out); },
    check(ref, dir) {
      const problems = [];
      const demos = path.join(dir, 'demos.jsonl');
      const got = lines(demos);
      parseLines(demos);
      const want = lines(path.join(ref, 'demos.jsonl'));
      const key = (a) => [...a].sort().join('\n');
      if (new Set(got).size !== got.length) problems.push(`${got.length - new Set(got).size} duplicated demo lines`);
      if (key(got) !== key(want)) problems.push(`demos differ from the uninterrupted run (${got.length} lines vs ${want.length})`);
      const ids = parseLines(path.join(dir, 'demos.progress.jsonl')).map((r) => r.id);
      const taskIds = lines(SCENARIOS.synth.tasks).map((l) => JSON.parse(l).id);
      if (ids.length !== new Set(ids).size) problems.push('a task is twice in progress.jsonl');
      if ([...taskIds].sort().join() !== [...new Set(ids)].sort().join()) problems.push('progress.jsonl does not name every task');
      const s = JSON.parse(fs.readFileSync(path.join(dir, 'demos.summary.json'), 'utf8'));
      if (s.instances.done !== taskIds.length) problems.push(`summary says ${s.instances.done}/${taskIds.length} done`);
      return problems;
    },
  },
  export: {
    formats: ['jsonl', 'trl', 'verl', 'llamafactory'],
    argv: (out, format) => ['tasks', 'export', '--split', 'all', '--n', '6', '--format', format, '--out', out],
    resumeArgv(out, format) { return this.argv(out, format); },
    check(ref, dir) {
      const problems = [];
      const files = (d) => walk(d).filter((p) => fs.statSync(p).isFile()).map((p) => path.relative(d, p)).sort();
      const fr = files(ref), fd = files(dir);
      if (fr.join() !== fd.join()) problems.push(`files differ: ${fd.filter((f) => !fr.includes(f)).concat(fr.filter((f) => !fd.includes(f))).slice(0, 4).join(', ')}`);
      for (const f of fr) if (fd.includes(f) && sha(path.join(ref, f)) !== sha(path.join(dir, f))) problems.push(`${f} differs`);
      for (const f of fd.filter((x) => x.endsWith('.jsonl'))) parseLines(path.join(dir, f));
      return problems;
    },
  },
  bench: {
    argv: (out) => ['bench', '--methods', 'sft,grpo', '--seeds', '1', '--budget-tokens', '3000', '--eval-n', '2', '--jobs', '2',
      '--init', BASE, '--configs', benchCfgDir, '--out', out, '--quiet'],
    resumeArgv(out) { return this.argv(out); },
    check(ref, dir) {
      const problems = [];
      JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8'));
      for (const run of ['sft-s0', 'grpo-s0']) {
        const w = (d) => sha(path.join(d, 'runs', run, 'checkpoints/final/model.safetensors'));
        if (w(ref) !== w(dir)) problems.push(`${run}: final weights differ`);
        const e = (d) => JSON.stringify(JSON.parse(fs.readFileSync(path.join(d, 'runs', run, 'eval.json'), 'utf8')).by_split);
        if (e(ref) !== e(dir)) problems.push(`${run}: eval.json differs`);
      }
      return problems;
    },
  },
};

// ---------------------------------------------------------------------------------------------

async function startServe() {
  const tasksDir = path.join(WORK, 'tasks');
  const ex = await ivr(['tasks', 'export', '--split', 'val', '--n', '4', '--out', tasksDir]);
  if (ex.code !== 0) throw new Error(`tasks export for synth failed: ${ex.out}`);
  const all = path.join(tasksDir, 'all.jsonl');
  fs.writeFileSync(all, ['grid', 'shapes', 'chart'].map((f) => fs.readFileSync(path.join(tasksDir, `${f}-val.jsonl`), 'utf8')).join(''));
  const child = spawn(process.execPath, [CLI, 'serve', '--checkpoint', BASE, '--port', '0', '--model-name', 'base'], { env: ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (d) => {
      buf += d;
      const m = /"url":"([^"]+)"/.exec(buf);
      if (m) resolve(m[1]);
    });
    child.on('close', (code) => reject(new Error(`ivr serve exited with ${code}`)));
  });
  SCENARIOS.synth.url = url;
  SCENARIOS.synth.tasks = all;
  return child;
}

async function scenario(name, kills, summary) {
  const sc = SCENARIOS[name];
  const formats = sc.formats ?? [undefined];
  const refs = new Map();
  for (const f of formats) {
    const ref = path.join(WORK, name, `ref${f ? `-${f}` : ''}`);
    const r = await ivr(sc.argv(ref, f));
    if (r.code !== 0) throw new Error(`${name}: the uninterrupted run failed (exit ${r.code}):\n${r.out.slice(-2000)}`);
    refs.set(f, { dir: ref, ms: r.ms });
  }
  const row = { command: name, kills: 0, missed: 0, resumes: 0, trials: 0, ok: 0, failed: 0, problems: [], ref_s: [...refs.values()].map((r) => r.ms / 1000) };
  summary.push(row);
  while (row.kills < kills) {
    const f = formats[row.trials % formats.length];
    const { dir: ref, ms } = refs.get(f);
    const dir = path.join(WORK, name, `trial-${row.trials}`);
    row.trials++;
    // One or two kills per trial: the second lands in the resumed run.
    const killsHere = Math.min(kills - row.kills, rand() < 0.5 ? 1 : 2);
    let argv = sc.argv(dir, f);
    const notes = [];
    for (let k = 0; k < killsHere; k++) {
      const at = Math.round((0.03 + 0.97 * rand()) * ms);
      const r = await ivr(argv, at);
      if (r.killed) { row.kills++; notes.push(`killed at ${at} ms`); } else { row.missed++; notes.push(`finished before ${at} ms (exit ${r.code})`); if (r.code !== 0) { row.problems.push(`${path.basename(dir)}: exit ${r.code} before the kill: ${r.out.trim().split('\n').slice(-2).join(' | ')}`); } break; }
      if (name === 'bench') {
        const lived = await waitGone(dir, 5000);
        if (lived === null) { row.problems.push(`${path.basename(dir)}: children of the killed bench still run 5 s later (${processesNaming(dir).join(', ')})`); for (const p of processesNaming(dir)) try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
      }
      argv = sc.resumeArgv(dir, f);
    }
    const r = await ivr(sc.resumeArgv(dir, f));
    row.resumes++;
    let problems = [];
    if (r.code !== 0) problems.push(`resume exited ${r.code}: ${r.out.trim().split('\n').slice(-3).join(' | ')}`);
    else {
      try { problems = sc.check(ref, dir); } catch (e) { problems.push(String(e.message ?? e)); }
      const left = leftovers(dir);
      if (left.length) problems.push(`left behind: ${left.slice(0, 4).join(', ')}`);
    }
    if (problems.length) { row.failed++; row.problems.push(`${path.basename(dir)}${f ? ` (${f})` : ''} [${notes.join('; ')}]: ${problems.join('; ')}`); } else row.ok++;
    if (!KEEP && problems.length === 0) fs.rmSync(dir, { recursive: true, force: true });
  }
}

const names = Object.keys(SCENARIOS).filter((n) => !ONLY || ONLY.split(',').includes(n));
const per = Math.floor(KILLS / names.length);
const plan = names.map((n, i) => [n, per + (i < KILLS - per * names.length ? 1 : 0)]);
console.log(`kill-anywhere: ${KILLS} kills over ${names.join(', ')}, seed ${SEED}, work ${WORK}`);
const summary = [];
const serve = names.includes('synth') ? await startServe() : null;
const t0 = Date.now();
try {
  for (const [n, k] of plan) {
    await scenario(n, k, summary);
    const row = summary.at(-1);
    console.log(`  ${n}: ${row.kills} kills, ${row.ok}/${row.trials} trials ok (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  }
} finally {
  serve?.kill('SIGTERM');
}
console.log('\n| command | kills | kills that missed (run already done) | resumed runs | ends equal to the uninterrupted run | failures |');
console.log('|---|---|---|---|---|---|');
for (const r of summary) console.log(`| ${r.command} | ${r.kills} | ${r.missed} | ${r.resumes} | ${r.ok}/${r.trials} | ${r.failed} |`);
const total = summary.reduce((a, r) => a + r.kills, 0);
const failed = summary.reduce((a, r) => a + r.failed + r.problems.length - r.failed, 0);
console.log(`\n${total} kills in ${((Date.now() - t0) / 1000).toFixed(0)} s; ${failed === 0 ? 'nothing lost, duplicated, locked or corrupt' : `${failed} problems`}`);
for (const r of summary) for (const p of r.problems) console.log(`  ${r.command}: ${p}`);
if (!KEEP && failed === 0) fs.rmSync(WORK, { recursive: true, force: true });
process.exit(failed === 0 ? 0 : 1);
