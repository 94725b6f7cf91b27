// `ivr eval --checkpoint DIR [--split S[,S]] [--n N] [--json] [--samples K] [--tasks FILE.jsonl]`
import { Option, type Command } from 'commander';
import { evaluatePolicy, type EvalReport } from '../../eval/evaluate.js';
import { evalJson } from '../../eval/json.js';
import { loadPolicy } from '../../model/checkpoint-io.js';
import { FAMILY_IDS, SPLIT_IDS, getSplit, loadInstances, type FamilyId, type Instance, type SplitId } from '../../tasks/index.js';
import { formatErosionTable, formatEvalTable } from '../../eval/table.js';
import { withExamples } from '../help.js';
import { integer, listOf, real } from '../options.js';
import { requireTasks } from '../task-file.js';

interface Options {
  checkpoint: string; split: SplitId[]; n: number; families: FamilyId[]; tasks?: string; samples: number;
  temperature?: number; topP: number; seed: number; json?: boolean; withResults?: boolean; threads?: number;
}

export function configure(cmd: Command): void {
  cmd
    .description('Accuracy, grounding fidelity, format validity, length and first-error steps by family and horizon.')
    .option('--checkpoint <dir>', 'policy checkpoint directory', 'checkpoints/base')
    .addOption(new Option('--split <splits>', `comma-separated splits: ${SPLIT_IDS.join(', ')}`).argParser(listOf(SPLIT_IDS)).default(['test', 'ood'], 'test,ood'))
    .option('--n <count>', 'instances per family and split', integer(1), 60)
    .addOption(new Option('--families <families>', 'comma-separated families').argParser(listOf(FAMILY_IDS)).default([...FAMILY_IDS], FAMILY_IDS.join(',')))
    .option('--tasks <file>', 'evaluate on an exported instance file (JSONL) instead of a split')
    .option('--samples <k>', 'samples per instance; >1 reports pass@k', integer(1), 1)
    .option('--temperature <t>', 'sampling temperature; 0 = greedy (default: 0 when --samples is 1, else 1)', real({ min: 0 }))
    .option('--top-p <p>', 'nucleus mass', real({ gt: 0, max: 1 }), 1)
    .option('--seed <n>', 'sampling seed', integer(0), 0)
    .option('--json', 'print one JSON object')
    .option('--with-results', 'include every response in the JSON')
    .option('--threads <n>', 'onnxruntime threads (default: $IVR_THREADS, else all cores)', integer(1))
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr eval --checkpoint runs/ivr/final --split test --n 30',
    'ivr eval --tasks out/grid-test.jsonl --samples 8 --json > grid.json',
  ]);
}

async function run(o: Options): Promise<number> {
  const temperature = o.temperature ?? (o.samples > 1 ? 1 : 0);
  const sets: { split: string; instances: Instance[] }[] = o.tasks !== undefined
    ? [{ split: 'tasks', instances: requireTasks(loadInstances(o.tasks), o.tasks) }]
    : o.split.map((s) => ({ split: s, instances: o.families.flatMap((f) => getSplit(f, s, o.n)) }));
  const { policy } = loadPolicy(o.checkpoint, o.threads);
  const reports: { split: string; report: EvalReport }[] = [];
  for (const set of sets) {
    const report = await evaluatePolicy(policy, set.instances, { temperature, topP: o.topP, samples: o.samples, seed: o.seed, progress: !o.json });
    reports.push({ split: set.split, report });
  }
  const out = { checkpoint: o.checkpoint, ...evalJson(reports, o.withResults) };
  if (o.json) console.log(JSON.stringify(out));
  else console.log(`${formatEvalTable(reports)}\n\nErosion curve: share of chains whose first failing step is k\n\n${formatErosionTable(reports)}`);
  return 0;
}
