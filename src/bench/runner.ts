// `ivr bench`: every method from the same base checkpoint, the same rollout-token budget
// (IVR-R1's loop tokens included; for continued SFT the same number of trained tokens),
// independent seeds, evaluation of each final policy on the test and OOD splits, then
// results.json and report.html. Runs are child processes, `jobs` at a time, and a bench
// that is interrupted continues with the runs that are missing.
import * as fs from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import type { BenchResults, CurvePoint, RunResult, SplitEval } from '../report/results.js';
import { summarizeAll } from '../report/compare.js';
import { RunDir } from '../train/run-dir.js';
import { gitState } from '../train/provenance.js';
import { atomicWriteFile, atomicWriteJson, readJsonFile } from '../util/fs.js';
import { Progress } from '../util/progress.js';
import { pool, runIvr } from './child.js';
import type { RunSpec } from './plan.js';

export interface BenchOptions {
  kind: 'bench' | 'ablations';
  specs: RunSpec[];
  init: string;
  budgetTokens: number;
  out: string;
  jobs: number;
  /** Evaluation instances per family and split. */
  evalN: number;
  command: string;
  quiet?: boolean;
}

const STREAM_OFFSET_FOR_SFT = 10_000_000;

/** Eval JSON of `ivr eval --json` → the per-split shape of results.json. */
export function splitEvals(evalJson: Record<string, unknown>, keepInstances = false): { test: SplitEval; ood: SplitEval } {
  const bySplit = evalJson.by_split as Record<string, SplitEval & { by_family: SplitEval['by_family'] }>;
  const byHorizon = evalJson.by_horizon as (SplitEval['by_horizon'][number] & { split: string })[];
  const pick = (s: 'test' | 'ood'): SplitEval => {
    const e = bySplit[s];
    if (!e) throw new Error(`eval output lacks split "${s}"`);
    // the instance list is the same for every evaluation of a bench: the base's copy is enough
    const { instances, ...rest } = e;
    return { ...rest, ...(keepInstances && instances ? { instances } : {}), by_horizon: byHorizon.filter((h) => h.split === s).map(({ split: _s, ...h }) => h) };
  };
  return { test: pick('test'), ood: pick('ood') };
}

/** Evaluates a checkpoint into `file` (kept across invocations); the child's peak RSS, or null when it was already done. */
async function evaluate(checkpoint: string, file: string, evalN: number, logFile: string, env: Record<string, string>): Promise<number | null> {
  if (fs.existsSync(file)) return null;
  const out = await runIvr(['eval', '--checkpoint', checkpoint, '--split', 'test,ood', '--n', String(evalN), '--json'], logFile, env);
  atomicWriteFile(file, out.stdout.trim() + '\n');
  return out.peakRssMiB;
}

/** wall.json of a run: its wall time and the largest peak RSS of its processes (training, evaluation). */
interface RunCost { wall_s: number; peak_rss_mib?: number }

function readCost(dir: string): RunCost {
  const file = path.join(dir, 'wall.json');
  return fs.existsSync(file) ? (readJsonFile(file, 'wall time') as RunCost) : { wall_s: 0 };
}

function addCost(dir: string, wallS: number, peak: number | null): void {
  const c = readCost(dir);
  const peakRss = Math.max(c.peak_rss_mib ?? 0, peak ?? 0);
  atomicWriteJson(path.join(dir, 'wall.json'), { wall_s: c.wall_s + wallS, ...(peakRss > 0 ? { peak_rss_mib: peakRss } : {}) });
}

function runDirOf(opts: BenchOptions, spec: RunSpec): string {
  return path.join(opts.out, 'runs', `${spec.name}-s${spec.seed}`);
}

async function execute(opts: BenchOptions, spec: RunSpec, env: Record<string, string>): Promise<void> {
  const dir = runDirOf(opts, spec);
  const evalFile = path.join(dir, 'eval.json');
  if (fs.existsSync(evalFile)) return; // done in an earlier invocation
  fs.mkdirSync(dir, { recursive: true });
  const configFile = path.join(dir, 'input-config.json');
  atomicWriteJson(configFile, spec.config);
  const log = path.join(dir, 'log.txt');
  const run = new RunDir(dir);
  const t0 = performance.now();
  if (!fs.existsSync(path.join(run.final, 'config.json'))) {
    const resume = run.hasCheckpoint() ? ['--resume'] : [];
    // Seeds differ in the data continued SFT sees (it has no other randomness).
    const trained = spec.kind === 'sft'
      ? await runIvr(['sft', '--config', configFile, '--init', opts.init, '--out', dir, '--budget-tokens', String(opts.budgetTokens), '--stream-offset', String(STREAM_OFFSET_FOR_SFT + spec.seed * 1_000_000), '--quiet', ...resume], log, env)
      : await runIvr(['train', '--method', spec.method, '--init', opts.init, '--config', configFile, '--out', dir, '--budget-tokens', String(opts.budgetTokens), '--quiet', ...resume], log, env);
    addCost(dir, (performance.now() - t0) / 1000, trained.peakRssMiB);
  }
  addCost(dir, 0, await evaluate(run.final, evalFile, opts.evalN, log, env));
}

/**
 * How far a running child is, from the metrics.jsonl it has written so far: the share of the
 * token budget spent (RL: rollout tokens; SFT: trained tokens) and a short label, so that the
 * bench's progress line moves while children run instead of only when one ends.
 */
export function childProgress(dir: string, kind: 'rl' | 'sft', budgetTokens: number): { fraction: number; label: string } {
  const rows = new RunDir(dir).readMetrics();
  const last = rows.at(-1);
  if (!last) return { fraction: 0, label: 'starting' };
  const tokens = kind === 'rl' ? Number(last.gen_tokens_total ?? 0) : rows.reduce((s, r) => s + Number(r.tokens ?? 0), 0);
  const at = kind === 'rl' ? `it ${last.iter}` : `step ${last.step}`;
  return { fraction: Math.min(1, budgetTokens > 0 ? tokens / budgetTokens : 0), label: `${at}, ${Math.round(100 * Math.min(1, tokens / budgetTokens))}% of tokens` };
}

/** The learning curve of a run from its metrics.jsonl (SFT: trained tokens as the x-axis). */
function curveOf(spec: RunSpec, dir: string): CurvePoint[] {
  const rows = new RunDir(dir).readMetrics();
  if (spec.kind === 'rl') return rows.map((r) => ({ ...r, iter: r.iter as number, gen_tokens_total: r.gen_tokens_total as number }));
  let total = 0;
  return rows.map((r) => {
    total += r.tokens as number;
    return { iter: r.step as number, gen_tokens_total: total, val_accuracy: r.val_accuracy as number | undefined };
  });
}

/** The short commit of this checkout, "+dirty" when it has uncommitted changes (provenance.ts). */
export function commitId(): string {
  const g = gitState();
  return g.dirty ? `${g.short}+dirty` : g.short;
}

export function machineLine(): string {
  return `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`;
}

export async function runBench(opts: BenchOptions): Promise<BenchResults> {
  fs.mkdirSync(opts.out, { recursive: true });
  const threadsPerJob = Math.max(1, Math.floor(os.availableParallelism() / opts.jobs));
  const env = { IVR_THREADS: String(threadsPerJob) };
  const progress = new Progress(opts.kind, opts.specs.length + 1, opts.quiet);
  let done = 0;
  const baseEval = path.join(opts.out, 'base-eval.json');
  await evaluate(opts.init, baseEval, opts.evalN, path.join(opts.out, 'base-eval.log'), { IVR_THREADS: String(os.availableParallelism()) });
  progress.update(++done, 'base evaluated');
  // Runs in flight count by the share of their token budget spent (training is most of a
  // run's time), so the line and its ETA move while children run.
  const running = new Set<RunSpec>();
  const partial = () => {
    let sum = 0;
    const labels: string[] = [];
    for (const spec of running) {
      const p = childProgress(runDirOf(opts, spec), spec.kind === 'sft' ? 'sft' : 'rl', opts.budgetTokens);
      sum += 0.9 * p.fraction; // the rest is its evaluation
      labels.push(`${spec.name} s${spec.seed} ${p.label}`);
    }
    return { sum, info: labels.join('; ') };
  };
  const ticker = setInterval(() => {
    const p = partial();
    if (running.size) progress.update(done + p.sum, `running: ${p.info}`);
  }, 2000);
  ticker.unref();
  try {
    await pool(opts.specs, opts.jobs, async (spec) => {
      running.add(spec);
      try {
        await execute(opts, spec, env);
      } finally {
        running.delete(spec);
      }
      progress.update(++done + partial().sum, `${spec.name} seed ${spec.seed} done`);
    });
  } finally {
    clearInterval(ticker);
  }
  progress.done();
  const runs: RunResult[] = opts.specs.map((spec) => {
    const dir = runDirOf(opts, spec);
    const curve = curveOf(spec, dir);
    const cost = readCost(dir);
    return {
      method: spec.name, seed: spec.seed, run_dir: dir,
      wall_s: cost.wall_s,
      ...(cost.peak_rss_mib ? { peak_rss_mib: cost.peak_rss_mib } : {}),
      gen_tokens_total: curve.at(-1)?.gen_tokens_total ?? 0,
      curve,
      eval: splitEvals(readJsonFile(path.join(dir, 'eval.json'), 'run evaluation') as Record<string, unknown>),
    };
  });
  const results: BenchResults = {
    kind: opts.kind,
    created: new Date().toISOString(),
    command: opts.command,
    commit: commitId(),
    machine: machineLine(),
    budget_tokens: opts.budgetTokens,
    methods: [...new Set(opts.specs.map((s) => s.name))],
    seeds: [...new Set(opts.specs.map((s) => s.seed))],
    base: { eval: splitEvals(readJsonFile(baseEval, 'base evaluation') as Record<string, unknown>, true) },
    runs,
    summary: summarizeAll(runs),
  };
  atomicWriteJson(path.join(opts.out, 'results.json'), results);
  return results;
}
