// `ivr demo`: the main job on the embedded benchmark. Evaluates the committed base policy
// on held-out instances, trains IVR-R1 from it, evaluates again, prints a before/after
// table and writes results.json + report.html (the same report as `ivr bench`).
import * as fs from 'node:fs';
import type { Command } from 'commander';
import * as path from 'node:path';
import { machineLine, commitId, splitEvals } from '../../bench/runner.js';
import { evaluatePolicy } from '../../eval/evaluate.js';
import { evalJson } from '../../eval/json.js';
import { loadPolicy } from '../../model/checkpoint-io.js';
import type { Policy } from '../../model/policy.js';
import type { BenchResults } from '../../report/results.js';
import { renderReport } from '../../report/html.js';
import { accuracyDiffCi, summarizeAll } from '../../report/compare.js';
import { pts, verdictOf } from '../../report/claims.js';
import { loadTrainConfig } from '../../ivr/config.js';
import { trainRl } from '../../rl/trainer.js';
import { ivrAugmenter } from '../../ivr/method.js';
import { FAMILY_IDS, getSplit } from '../../tasks/index.js';
import { atomicWriteFile, atomicWriteJson } from '../../util/fs.js';
import { resolveCheckpoint } from '../../util/package-paths.js';
import type { ConfigOverride } from '../../util/config-file.js';
import { UsageError } from '../errors.js';
import { commandLine, withExamples } from '../help.js';
import { configOverride, integer, SET_OPTION } from '../options.js';

interface Options { init: string; config: string; set?: ConfigOverride[]; out: string; evalN: number; resume?: boolean; force?: boolean }

export function configure(cmd: Command): void {
  cmd
    .description('Train IVR-R1 from the base checkpoint, evaluate before/after on held-out instances, write results.json and report.html.')
    .option('--init <checkpoint>', 'base checkpoint', 'checkpoints/base')
    .option('--config <file>', 'IVR-R1 config, .json or .yaml', 'configs/demo.json')
    .option(SET_OPTION.flags, SET_OPTION.help, configOverride)
    .option('--out <dir>', 'output directory', 'runs/demo')
    .option('--eval-n <count>', 'held-out instances per family and split', integer(1), 30)
    .option('--resume', 'continue an interrupted demo in --out')
    .option('--force', 'start over although --out holds an interrupted demo (a finished one is always replaced)')
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, ['ivr demo', 'ivr demo --eval-n 60 --set iterations=40 --out runs/demo-long', 'ivr demo --resume']);
}

async function heldOut(policy: Policy, n: number, keepInstances = false) {
  const reports = [];
  for (const split of ['test', 'ood'] as const) {
    const instances = FAMILY_IDS.flatMap((f) => getSplit(f, split, n));
    process.stderr.write(`  ${split}: ${instances.length} instances\n`);
    reports.push({ split, report: await evaluatePolicy(policy, instances, { temperature: 0, topP: 1, samples: 1, seed: 0, progress: true }) });
  }
  return splitEvals(evalJson(reports), keepInstances);
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(6);

/** A demo's training run that ran to the end (checkpoints/final): a new demo replaces it. */
function finishedDemoRun(runDir: string): boolean {
  try {
    const c = JSON.parse(fs.readFileSync(path.join(runDir, 'config.json'), 'utf8')) as { run_kind?: unknown };
    return c.run_kind === 'rl' && fs.existsSync(path.join(runDir, 'checkpoints', 'final', 'config.json'));
  } catch {
    return false;
  }
}

async function run(o: Options): Promise<number> {
  const { out, evalN: n } = o;
  if (o.resume && o.force) throw new UsageError('--resume continues the demo in --out and --force discards it: pass one of them');
  // The config is checked before the (slow) first evaluation.
  const cfg = loadTrainConfig(o.config, { method: 'ivr' }, o.set);
  const init = resolveCheckpoint(o.init);
  fs.mkdirSync(out, { recursive: true });
  const t0 = performance.now();
  const runDir = path.join(out, 'run');
  // The demo's outputs are reproducible: a finished earlier demo is replaced, so that
  // `ivr demo` can simply be run again; an interrupted one is kept unless --force.
  const replace = !o.resume && !o.force && finishedDemoRun(runDir);
  console.log(`ivr demo: IVR-R1 from ${init} (config ${o.config}), output in ${out}`);
  if (replace) console.log(`  ${out} holds an earlier demo; it is replaced (--out DIR keeps it)`);
  console.log('1/3 evaluating the base policy on held-out test and OOD instances');
  const before = await heldOut(loadPolicy(init).policy, n, true);
  console.log('2/3 training IVR-R1');
  const tTrain = performance.now();
  const { policy, run: rd } = await trainRl(cfg, { init, out: runDir, resume: o.resume === true, force: o.force === true || replace, augmenter: ivrAugmenter(cfg) });
  const trainS = (performance.now() - tTrain) / 1000;
  console.log('3/3 evaluating the trained policy');
  const after = await heldOut(policy, n);

  const curve = rd.readMetrics().map((r) => ({ ...r, iter: r.iter as number, gen_tokens_total: r.gen_tokens_total as number }));
  const results: BenchResults = {
    kind: 'bench', created: new Date().toISOString(), command: commandLine(), commit: commitId(), machine: machineLine(),
    budget_tokens: curve.at(-1)?.gen_tokens_total ?? 0, methods: ['ivr'], seeds: [cfg.seed], base: { eval: before },
    runs: [{ method: 'ivr', seed: cfg.seed, run_dir: runDir, wall_s: trainS, gen_tokens_total: curve.at(-1)?.gen_tokens_total ?? 0, curve, eval: after }],
    summary: {},
  };
  results.summary = summarizeAll(results.runs);
  atomicWriteJson(path.join(out, 'results.json'), results);
  atomicWriteFile(path.join(out, 'report.html'), renderReport(results));

  console.log('\n| split | family | base accuracy | IVR-R1 accuracy | base grounding | IVR-R1 grounding |');
  console.log('|---|---|---|---|---|---|');
  for (const split of ['test', 'ood'] as const) {
    const b = before[split];
    const a = after[split];
    for (const f of b.by_family) {
      const af = a.by_family.find((x) => x.family === f.family)!;
      console.log(`| ${split} | ${f.family} | ${pct(f.accuracy)} | ${pct(af.accuracy)} | ${pct(f.grounding_fidelity)} | ${pct(af.grounding_fidelity)} |`);
    }
    console.log(`| ${split} | all | ${pct(b.accuracy)} | ${pct(a.accuracy)} | ${pct(b.grounding_fidelity)} | ${pct(a.grounding_fidelity)} |`);
  }
  // the same instances before and after: a paired interval says whether the change is real
  for (const split of ['test', 'ood'] as const) {
    const d = accuracyDiffCi([after[split]], [before[split]])!;
    console.log(`IVR-R1 minus base on ${split}: ${pts(d.mean)} pts, 95% CI [${pts(d.ci_low)}, ${pts(d.ci_high)}] (paired over ${before[split].n} instances): ${verdictOf(d) === 'not separated' ? 'not separated from the base (this short demo is too small to show a difference; see the bench)' : `${verdictOf(d)} the base`}`);
  }
  console.log(`\ndone in ${((performance.now() - t0) / 60000).toFixed(1)} min (training ${(trainS / 60).toFixed(1)} min); report: ${path.join(out, 'report.html')}`);
  return 0;
}
