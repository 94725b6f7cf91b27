// `ivr eval --checkpoint DIR [--split S[,S]] [--n N] [--json] [--samples K] [--tasks FILE.jsonl]`
// `ivr eval --endpoint URL[,URL2] --model NAME [...]`: the same evaluation of a model behind an
// OpenAI-compatible API, through the reasoner port (src/reasoner/reasoner.ts).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { evaluatePolicy, evaluateReasoner, type EvalOptions, type EvalReport } from '../../eval/evaluate.js';
import { evalJson } from '../../eval/json.js';
import { loadPolicy } from '../../model/checkpoint-io.js';
import { resolveCheckpoint } from '../../util/package-paths.js';
import { fromInstance } from '../../client/task.js';
import { FAMILY_IDS, SPLIT_IDS, getSplit, loadInstances, type FamilyId, type Instance, type SplitId } from '../../tasks/index.js';
import { formatErosionTable, formatEvalTable } from '../../eval/table.js';
import { UsageError } from '../errors.js';
import { withExamples } from '../help.js';
import { commaList, integer, listOf, real } from '../options.js';
import { addRemoteModelOptions, openClient, remoteReasoner, type RemoteModelOptions } from '../remote-model.js';
import { requireTasks } from '../task-file.js';

interface Options extends RemoteModelOptions {
  checkpoint: string; split: SplitId[]; n: number; families: FamilyId[]; tasks?: string; samples: number;
  temperature?: number; topP: number; seed: number; maxTokens?: number; json?: boolean; withResults?: boolean; threads?: number;
  endpoint?: string[]; model?: string; renderDir?: string;
}

type Sets = { split: string; instances: Instance[] }[];

/** A remote model's reply budget when --max-tokens is not given (the server may clamp it to its context). */
const REMOTE_MAX_TOKENS = 1024;

export function configure(cmd: Command): void {
  cmd
    .description('Accuracy, grounding fidelity, format validity, length and first-error steps by family and horizon, of a checkpoint or of a model behind an OpenAI-compatible endpoint.')
    .option('--checkpoint <dir>', 'policy checkpoint directory, or a run directory (its checkpoints/final, else latest)', 'checkpoints/base')
    .addOption(new Option('--endpoint <urls>', 'evaluate the model at these OpenAI-compatible base URL(s), comma-separated, instead of a checkpoint').argParser(commaList).conflicts(['checkpoint', 'threads']))
    .option('--model <id>', 'model id at the endpoint (with --endpoint)');
  addRemoteModelOptions(cmd)
    .option('--render-dir <dir>', 'with --endpoint: where task images are rendered (default: a temporary directory, removed after)')
    .addOption(new Option('--split <splits>', `comma-separated splits: ${SPLIT_IDS.join(', ')}`).argParser(listOf(SPLIT_IDS)).default(['test', 'ood'], 'test,ood'))
    .option('--n <count>', 'instances per family and split', integer(1), 60)
    .addOption(new Option('--families <families>', 'comma-separated families').argParser(listOf(FAMILY_IDS)).default([...FAMILY_IDS], FAMILY_IDS.join(',')))
    .option('--tasks <file>', 'evaluate on an exported instance file (JSONL) instead of a split')
    .option('--samples <k>', 'samples per instance; >1 reports pass@k', integer(1), 1)
    .option('--temperature <t>', 'sampling temperature; 0 = greedy (default: 0 when --samples is 1, else 1)', real({ min: 0 }))
    .option('--top-p <p>', 'nucleus mass', real({ gt: 0, max: 1 }), 1)
    .option('--seed <n>', 'sampling seed', integer(0), 0)
    .option('--max-tokens <n>', `reply length limit (default: 1.5 x the longest gold response + 16 tokens for a checkpoint, ${REMOTE_MAX_TOKENS} for an endpoint)`, integer(1))
    .option('--json', 'print one JSON object')
    .option('--with-results', 'include every response in the JSON')
    .option('--threads <n>', 'onnxruntime threads (default: $IVR_THREADS, else all cores)', integer(1))
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr eval --checkpoint runs/ivr --split test --n 30',
    'ivr eval --tasks out/grid-test.jsonl --samples 8 --json > grid.json',
    'ivr eval --endpoint http://127.0.0.1:8000/v1 --model qwen2.5-vl-7b --split test --n 30',
  ]);
}

async function run(o: Options): Promise<number> {
  if (o.endpoint && o.model === undefined) throw new UsageError("option '--endpoint <urls>' needs '--model <id>' (the model id at the endpoint)");
  if (!o.endpoint) {
    const stray = (['model', 'renderDir', 'apiKey', 'imageSize'] as const).find((k) => o[k] !== undefined) ?? (o.prompt !== 'auto' ? 'prompt' : undefined);
    if (stray) throw new UsageError(`option '--${stray.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}' is for a remote model; it needs '--endpoint <urls>'`);
  }
  const temperature = o.temperature ?? (o.samples > 1 ? 1 : 0);
  const sets: Sets = o.tasks !== undefined
    ? [{ split: 'tasks', instances: requireTasks(loadInstances(o.tasks), o.tasks) }]
    : o.split.map((s) => ({ split: s, instances: o.families.flatMap((f) => getSplit(f, s, o.n)) }));
  const opts: EvalOptions = { temperature, topP: o.topP, samples: o.samples, seed: o.seed, progress: !o.json, ...(o.maxTokens !== undefined ? { maxNew: o.maxTokens } : {}) };
  const { source, reports } = o.endpoint ? await evalRemote(o, o.endpoint, o.model!, sets, opts) : await evalCheckpoint(o, sets, opts);
  const out = { ...source, ...evalJson(reports, o.withResults) };
  if (o.json) console.log(JSON.stringify(out));
  else console.log(`${formatEvalTable(reports)}\n\nErosion curve: share of chains whose first failing step is k\n\n${formatErosionTable(reports)}`);
  return 0;
}

type Evaluated = { source: Record<string, unknown>; reports: { split: string; report: EvalReport }[] };

async function evalCheckpoint(o: Options, sets: Sets, opts: EvalOptions): Promise<Evaluated> {
  const { policy } = loadPolicy(resolveCheckpoint(o.checkpoint), o.threads);
  const reports = [];
  for (const set of sets) reports.push({ split: set.split, report: await evaluatePolicy(policy, set.instances, opts) });
  return { source: { checkpoint: o.checkpoint }, reports };
}

/** A remote model sees PNG files (rendered once into renderDir); lengths are the tokens the server reports. */
async function evalRemote(o: Options, endpoints: string[], model: string, sets: Sets, opts: EvalOptions): Promise<Evaluated> {
  const client = openClient(endpoints, o);
  const reasoner = await remoteReasoner(client, model, o, { temperature: opts.temperature, topP: opts.topP, maxTokens: opts.maxNew ?? REMOTE_MAX_TOKENS }, 'ivr eval');
  const renderDir = o.renderDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-eval-'));
  try {
    const reports = [];
    for (const set of sets) reports.push({ split: set.split, report: await evaluateReasoner(reasoner, set.instances, opts, undefined, (i) => fromInstance(i, renderDir)) });
    return { source: { model, endpoints: client.endpoints.map((e) => e.url), prompt_format: reasoner.promptFormat }, reports };
  } finally {
    if (o.renderDir === undefined) fs.rmSync(renderDir, { recursive: true, force: true });
  }
}
