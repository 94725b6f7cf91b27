// `ivr bench --methods sft,grpo,drgrpo,dapo,luffy,ivr --seeds 3 --budget-tokens N [--out DIR]`
// `ivr bench --ablations [--variants ivr,ivr-noloc,...]`
import * as path from 'node:path';
import os from 'node:os';
import { ABLATIONS, BENCH_METHODS, planAblations, planBench } from '../../bench/plan.js';
import { runBench } from '../../bench/runner.js';
import { renderReport } from '../../report/html.js';
import { atomicWriteFile } from '../../util/fs.js';
import { parseArgs, usage, UsageError, type OptionSpec } from '../../util/args.js';

const OPTIONS: Record<string, OptionSpec> = {
  methods: { type: 'string', help: `comma-separated methods (${BENCH_METHODS.join(', ')})`, default: BENCH_METHODS.join(',') },
  ablations: { type: 'boolean', help: 'run IVR-R1 ablation variants instead of the methods', default: false },
  variants: { type: 'string', help: `ablation variants (${Object.keys(ABLATIONS).join(', ')})`, default: Object.keys(ABLATIONS).join(',') },
  seeds: { type: 'number', help: 'independent seeds per method', default: 3 },
  'budget-tokens': { type: 'number', help: 'rollout-token budget per run (IVR loop tokens count)', default: 60000 },
  init: { type: 'string', help: 'base checkpoint every method starts from', default: 'checkpoints/base' },
  configs: { type: 'string', help: 'directory with one config per method', default: 'configs/bench' },
  out: { type: 'string', help: 'bench directory (results.json, report.html, runs/)', default: 'runs/bench' },
  jobs: { type: 'number', help: 'runs in parallel (one process each)', default: os.availableParallelism() },
  'eval-n': { type: 'number', help: 'evaluation instances per family and split (the same instances for every method and seed)', default: 200 },
  png: { type: 'boolean', help: 'also render report.png with headless Chromium', default: false },
  quiet: { type: 'boolean', help: 'no progress line', default: false },
  help: { type: 'boolean', help: 'show this help', default: false },
};

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, OPTIONS);
  if (options.help) { console.log(usage('bench [options]', 'Side-by-side RL methods from one base checkpoint under an equal rollout-token budget.', OPTIONS)); return 0; }
  const seeds = options.seeds as number;
  const jobs = options.jobs as number;
  const budget = options['budget-tokens'] as number;
  if (!Number.isInteger(seeds) || seeds < 1) throw new UsageError('--seeds must be an integer >= 1');
  if (!Number.isInteger(jobs) || jobs < 1) throw new UsageError('--jobs must be an integer >= 1');
  if (!(budget > 0)) throw new UsageError('--budget-tokens must be > 0');
  const split = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
  const ablations = Boolean(options.ablations);
  const specs = ablations
    ? planAblations(split(options.variants as string), seeds, options.configs as string)
    : planBench(split(options.methods as string), seeds, options.configs as string);
  const out = options.out as string;
  const t0 = performance.now();
  const results = await runBench({
    kind: ablations ? 'ablations' : 'bench', specs, init: options.init as string, budgetTokens: budget, out, jobs,
    evalN: options['eval-n'] as number, command: `ivr bench ${argv.join(' ')}`, quiet: Boolean(options.quiet),
  });
  const html = path.join(out, 'report.html');
  atomicWriteFile(html, renderReport(results));
  if (options.png) {
    const { renderHtmlToPng } = await import('../../report/render-png.js');
    await renderHtmlToPng(html, path.join(out, 'report.png'));
  }
  console.log(`bench done in ${((performance.now() - t0) / 60000).toFixed(1)} min: ${path.join(out, 'results.json')}, ${html}`);
  const rows = Object.entries(results.summary).map(([m, s]) => `  ${m.padEnd(14)} test ${(100 * s.test.mean).toFixed(1)}% [${(100 * s.test.ci_low).toFixed(1)}, ${(100 * s.test.ci_high).toFixed(1)}]   ood ${(100 * s.ood.mean).toFixed(1)}% [${(100 * s.ood.ci_low).toFixed(1)}, ${(100 * s.ood.ci_high).toFixed(1)}]`);
  console.log(rows.join('\n'));
  return 0;
}
