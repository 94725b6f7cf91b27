// `ivr eval --checkpoint PATH [--split S[,S]] [--n N] [--json] [--samples K] [--tasks FILE.jsonl]`
import { evaluatePolicy, type EvalReport } from '../../eval/evaluate.js';
import { evalJson } from '../../eval/json.js';
import { loadPolicy } from '../../model/checkpoint-io.js';
import { FAMILY_IDS, getSplit, isFamilyId, isSplitId, loadInstances, type FamilyId, type Instance, type SplitId } from '../../tasks/index.js';
import { parseArgs, usage, UsageError, type OptionSpec } from '../../util/args.js';
import { formatErosionTable, formatEvalTable } from '../../eval/table.js';

const OPTIONS: Record<string, OptionSpec> = {
  checkpoint: { type: 'string', help: 'policy checkpoint directory', default: 'checkpoints/base' },
  split: { type: 'string', help: 'comma-separated splits: train, val, test, ood', default: 'test,ood' },
  n: { type: 'number', help: 'instances per family and split', default: 60 },
  families: { type: 'string', help: 'comma-separated families', default: FAMILY_IDS.join(',') },
  tasks: { type: 'string', help: 'evaluate on an exported instance file (JSONL) instead of a split' },
  samples: { type: 'number', help: 'samples per instance; >1 reports pass@k', default: 1 },
  temperature: { type: 'number', help: '0 = greedy (default when samples = 1)' },
  'top-p': { type: 'number', help: 'nucleus mass', default: 1 },
  seed: { type: 'number', help: 'sampling seed', default: 0 },
  json: { type: 'boolean', help: 'print one JSON object', default: false },
  'with-results': { type: 'boolean', help: 'include every response in the JSON', default: false },
  threads: { type: 'number', help: 'onnxruntime threads' },
  help: { type: 'boolean', help: 'show this help', default: false },
};

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, OPTIONS);
  if (options.help) { console.log(usage('eval --checkpoint DIR [options]', 'Accuracy, grounding fidelity, format validity, length and first-error steps by family and horizon.', OPTIONS)); return 0; }
  const { policy } = loadPolicy(options.checkpoint as string, options.threads as number | undefined);
  const samples = options.samples as number;
  if (!Number.isInteger(samples) || samples < 1) throw new UsageError('--samples must be an integer >= 1');
  const temperature = (options.temperature as number | undefined) ?? (samples > 1 ? 1 : 0);
  const sets: { split: string; instances: Instance[] }[] = [];
  if (options.tasks) {
    sets.push({ split: 'tasks', instances: loadInstances(options.tasks as string) });
  } else {
    const families = (options.families as string).split(',').map((f) => f.trim());
    for (const f of families) if (!isFamilyId(f)) throw new UsageError(`--families: unknown family "${f}" (known: ${FAMILY_IDS.join(', ')})`);
    for (const s of (options.split as string).split(',').map((x) => x.trim())) {
      if (!isSplitId(s)) throw new UsageError(`--split: unknown split "${s}" (known: train, val, test, ood)`);
      sets.push({ split: s, instances: (families as FamilyId[]).flatMap((f) => getSplit(f, s as SplitId, options.n as number)) });
    }
  }
  const reports: { split: string; report: EvalReport }[] = [];
  for (const set of sets) {
    const report = await evaluatePolicy(policy, set.instances, { temperature, topP: options['top-p'] as number, samples, seed: options.seed as number, progress: !options.json });
    reports.push({ split: set.split, report });
  }
  const out = { checkpoint: options.checkpoint, ...evalJson(reports, Boolean(options['with-results'])) };
  if (options.json) console.log(JSON.stringify(out));
  else console.log(`${formatEvalTable(reports)}\n\nErosion curve: share of chains whose first failing step is k\n\n${formatErosionTable(reports)}`);
  return 0;
}

