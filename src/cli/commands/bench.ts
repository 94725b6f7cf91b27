// `ivr bench --methods sft,grpo,drgrpo,dapo,luffy,ivr --seeds 3 --budget-tokens N [--out DIR]`
// `ivr bench --ablations [--variants ivr,ivr-noloc,...]`
import * as path from 'node:path';
import os from 'node:os';
import { Option, type Command } from 'commander';
import { ABLATIONS, BENCH_METHODS, planAblations, planBench } from '../../bench/plan.js';
import { runBench } from '../../bench/runner.js';
import { renderReport } from '../../report/html.js';
import { atomicWriteFile } from '../../util/fs.js';
import { commandLine, withExamples } from '../help.js';
import { integer, listOf } from '../options.js';

interface Options {
  methods: string[]; ablations?: boolean; variants: string[]; seeds: number; budgetTokens: number; init: string;
  configs: string; out: string; jobs: number; evalN: number; png?: boolean; quiet?: boolean;
}

export function configure(cmd: Command): void {
  const variants = Object.keys(ABLATIONS);
  cmd
    .description('Side-by-side RL methods (or IVR-R1 ablations) from one base checkpoint under an equal rollout-token budget, with seeds and a report.')
    .addOption(new Option('--methods <methods>', 'comma-separated methods').argParser(listOf(BENCH_METHODS)).default([...BENCH_METHODS], BENCH_METHODS.join(',')))
    .option('--ablations', 'run IVR-R1 ablation variants instead of the methods')
    .addOption(new Option('--variants <variants>', 'comma-separated ablation variants').argParser(listOf(variants)).default(variants, variants.join(',')))
    .option('--seeds <n>', 'independent seeds per method', integer(1), 3)
    .option('--budget-tokens <n>', 'rollout-token budget per run (IVR loop tokens count)', integer(1), 60000)
    .option('--init <checkpoint>', 'base checkpoint every method starts from', 'checkpoints/base')
    .option('--configs <dir>', 'directory with one config per method (<method>.json, .yaml or .yml)', 'configs/bench')
    .option('--out <dir>', 'bench directory (results.json, report.html, runs/)', 'runs/bench')
    .option('--jobs <n>', 'runs in parallel (one process each)', integer(1), os.availableParallelism())
    .option('--eval-n <count>', 'evaluation instances per family and split (the same instances for every method and seed)', integer(1), 200)
    .option('--png', 'also render report.png with headless Chromium')
    .option('--quiet', 'no progress line')
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr bench --methods grpo,ivr --seeds 3 --budget-tokens 60000 --out runs/bench-small',
    'ivr bench --ablations --variants ivr,ivr-noloc,ivr-j1 --seeds 2',
  ]);
}

async function run(o: Options): Promise<number> {
  const specs = o.ablations ? planAblations(o.variants, o.seeds, o.configs) : planBench(o.methods, o.seeds, o.configs);
  const out = o.out;
  const t0 = performance.now();
  const results = await runBench({
    kind: o.ablations ? 'ablations' : 'bench', specs, init: o.init, budgetTokens: o.budgetTokens, out, jobs: o.jobs,
    evalN: o.evalN, command: commandLine(), quiet: o.quiet,
  });
  const html = path.join(out, 'report.html');
  atomicWriteFile(html, renderReport(results));
  if (o.png) {
    const { renderHtmlToPng } = await import('../../report/render-png.js');
    await renderHtmlToPng(html, path.join(out, 'report.png'));
  }
  console.log(`bench done in ${((performance.now() - t0) / 60000).toFixed(1)} min: ${path.join(out, 'results.json')}, ${html}`);
  const rows = Object.entries(results.summary).map(([m, s]) => `  ${m.padEnd(14)} test ${(100 * s.test.mean).toFixed(1)}% [${(100 * s.test.ci_low).toFixed(1)}, ${(100 * s.test.ci_high).toFixed(1)}]   ood ${(100 * s.ood.mean).toFixed(1)}% [${(100 * s.ood.ci_low).toFixed(1)}, ${(100 * s.ood.ci_high).toFixed(1)}]`);
  console.log(rows.join('\n'));
  const peaks = results.runs.flatMap((r) => (r.peak_rss_mib ? [r.peak_rss_mib] : []));
  if (peaks.length) console.log(`  peak RSS of any run's process: ${Math.max(...peaks).toFixed(0)} MiB (${peaks.length} run${peaks.length === 1 ? '' : 's'} measured)`);
  return 0;
}
