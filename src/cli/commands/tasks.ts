// `ivr tasks <export|show|info|validate|verify>`: the embedded benchmark from the command line.
import { readFileSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  FAMILY_IDS, SPLIT_IDS, SPLITS, asciiRaster, asciiRender, encodePng, getFamily, getSplit, goldResponse,
  loadInstances, promptText, renderLarge, TaskFileError, renderSmall, splitHorizons, verifyResponse,
  type FamilyId, type Instance, type SplitId,
} from '../../tasks/index.js';
import { DEFAULT_VLM } from '../../model/config.js';
import { checkInstanceForModel } from '../../model/instance-check.js';
import { Tokenizer } from '../../model/tokenizer.js';
import { EXPORT_FORMATS, exportDataset, PROMPT_STYLES, type ExportFormat, type PromptStyle } from '../../tasks/export/index.js';
import { UsageError } from '../errors.js';
import { withExamples } from '../help.js';
import { integer } from '../options.js';
import { requireTasks } from '../task-file.js';

interface ExportOptions { format: ExportFormat; prompt: PromptStyle; family: FamilyId | 'all'; split: SplitId | 'all'; n?: number; offset: number; out: string }
interface InstanceOptions { family: FamilyId; seed: number; horizon?: number }
interface ShowOptions extends InstanceOptions { raster?: boolean; small?: string; large?: string; json?: boolean }
interface VerifyOptions extends InstanceOptions { response: string }
interface ValidateOptions { file: string; skipImages?: boolean }

const familyOption = () => new Option('--family <id>', 'family id').choices(FAMILY_IDS).makeOptionMandatory();
const seedOption = () => new Option('--seed <n>', 'instance seed').argParser(integer(0)).makeOptionMandatory();

export function configure(cmd: Command): void {
  cmd.description('Procedural multimodal reasoning tasks: export splits as datasets, show / verify instances, validate files.');
  withExamples(cmd, ['ivr tasks export --split test --n 50 --out out/', 'ivr tasks show --family grid --seed 42', 'ivr tasks export -h']);

  const exp = cmd.command('export')
    .summary('write each family and split as a dataset in DIR (ours, TRL, verl or LLaMA-Factory)')
    .description('Write each family and split as a dataset in --out. Per dataset: jsonl <name>.jsonl + small/large PNGs; trl <name>.trl.jsonl; verl <name>.parquet (PNGs embedded); llamafactory <name>.json + dataset_info.json. trl and llamafactory share images/<id>.large.png.')
    .addOption(new Option('--format <format>', 'jsonl (ours; "ours" is the same), trl (.trl.jsonl), verl (.parquet) or llamafactory (.json + dataset_info.json)').choices([...EXPORT_FORMATS, 'ours']).default('jsonl').argParser((v: string) => {
      if (v === 'ours') return 'jsonl';
      if (!(EXPORT_FORMATS as readonly string[]).includes(v)) throw new InvalidArgumentError(`Allowed choices are ${[...EXPORT_FORMATS, 'ours'].join(', ')}.`);
      return v;
    }))
    .addOption(new Option('--prompt <style>', 'trl/verl/llamafactory user text: instruction (grammar, format, question) or question').choices(PROMPT_STYLES).default('instruction'))
    .addOption(new Option('--family <id>', 'family id, or all').choices([...FAMILY_IDS, 'all']).default('all'))
    .addOption(new Option('--split <id>', 'split id, or all').choices([...SPLIT_IDS, 'all']).makeOptionMandatory())
    .option('--n <count>', 'instances per family and split (default: the split\'s default size)', integer(0))
    .option('--offset <index>', 'index of the first instance in the split', integer(0), 0)
    .requiredOption('--out <dir>', 'output directory')
    .action((o: ExportOptions, c: Command) => { process.exitCode = runExport(o, c.getOptionValueSource('prompt') === 'cli'); });
  withExamples(exp, [
    'ivr tasks export --split all --out data/',
    'ivr tasks export --family grid --split train --n 1000 --format verl --out data/verl',
  ]);

  const show = cmd.command('show')
    .summary('print one instance: ASCII scene, question, gold response, answer')
    .description('Print one instance: ASCII scene, question, gold response and answer; optionally its PNGs.')
    .addOption(familyOption())
    .addOption(seedOption())
    .option('--horizon <steps>', 'number of reasoning steps (default: from the seed, in the training range)', integer(1))
    .option('--raster', 'also print the 48x48 image as characters')
    .option('--small <file>', 'write the 48x48 PNG to this file')
    .option('--large <file>', 'write the 384x384 PNG to this file')
    .option('--json', 'print the instance as JSON instead')
    .action((o: ShowOptions) => { process.exitCode = runShow(o); });
  withExamples(show, ['ivr tasks show --family grid --seed 42 --horizon 5', 'ivr tasks show --family chart --seed 7 --large chart.png --json']);

  const info = cmd.command('info')
    .summary('families, horizon ranges, split seed ranges and typical text lengths')
    .description('Families, horizon ranges, split seed ranges and typical text lengths.')
    .action(() => { process.exitCode = runInfo(); });
  withExamples(info, ['ivr tasks info']);

  const validate = cmd.command('validate')
    .summary('load a JSONL instance file and check every line')
    .description('Load a JSONL instance file and check every line (the checks ivr eval relies on); an empty file is an error.')
    .requiredOption('--file <file>', 'the .jsonl file')
    .option('--skip-images', 'do not check that referenced PNGs exist')
    .action((o: ValidateOptions) => { process.exitCode = runValidate(o); });
  withExamples(validate, ['ivr tasks validate --file data/grid-test.jsonl']);

  const verify = cmd.command('verify')
    .summary('verify a response (file or stdin) against an instance and print per-step verdicts')
    .description('Verify a response (file or stdin) against an instance and print per-step verdicts; exit 1 when it does not verify.')
    .addOption(familyOption())
    .addOption(seedOption())
    .option('--horizon <steps>', 'number of reasoning steps (default: as in show)', integer(1))
    .option('--response <file>', 'file with the response text ("-" = stdin)', '-')
    .action((o: VerifyOptions) => { process.exitCode = runVerify(o); });
  withExamples(verify, ['ivr tasks verify --family chart --seed 9 --horizon 4 --response reply.txt', 'echo "..." | ivr tasks verify --family grid --seed 1']);
}

function runExport(o: ExportOptions, promptGiven: boolean): number {
  const families: FamilyId[] = o.family === 'all' ? [...FAMILY_IDS] : [o.family];
  const splits: SplitId[] = o.split === 'all' ? [...SPLIT_IDS] : [o.split];
  if (o.format === 'jsonl' && promptGiven && o.prompt !== 'instruction') throw new UsageError('--prompt applies to --format trl, verl and llamafactory (the jsonl format stores the question and the instance itself)');
  for (const family of families) {
    for (const split of splits) {
      const count = o.n ?? SPLITS[split].defaultSize;
      const t0 = Date.now();
      const res = exportDataset(o.format, getSplit(family, split, count, o.offset), o.out, `${family}-${split}`, { prompt: o.prompt });
      console.log(`${res.file}: ${res.count} instances (horizons ${splitHorizons(family, split).join('-')}, seeds ${SPLITS[split].seedBase + o.offset}..${SPLITS[split].seedBase + o.offset + count - 1}) in ${Date.now() - t0} ms`);
    }
  }
  return 0;
}

function instanceFromOptions(o: InstanceOptions): Instance {
  const fam = getFamily(o.family);
  const [lo, hi] = fam.horizons.train;
  const horizon = o.horizon ?? lo + (o.seed % (hi - lo + 1));
  if (horizon < fam.horizonLimits[0] || horizon > fam.horizonLimits[1]) throw new UsageError(`--horizon for ${o.family} must be in ${fam.horizonLimits.join('..')}, got ${horizon}`);
  return fam.generate(o.seed, horizon);
}

function runShow(o: ShowOptions): number {
  const inst = instanceFromOptions(o);
  if (o.small !== undefined) writeFileSync(o.small, encodePng(renderSmall(inst)));
  if (o.large !== undefined) writeFileSync(o.large, encodePng(renderLarge(inst)));
  if (o.json) { console.log(JSON.stringify(inst, null, 2)); return 0; }
  const lines = [`${inst.id}  (family ${inst.family}, seed ${inst.seed}, horizon ${inst.horizon})`, '', asciiRender(inst), ''];
  if (o.raster) lines.push(asciiRaster(renderSmall(inst)), '');
  lines.push('prompt:', promptText(inst).trimEnd(), '', 'gold response:', goldResponse(inst), '', `answer: ${inst.answer}`);
  console.log(lines.join('\n'));
  return 0;
}

function runInfo(): number {
  const lines: string[] = [];
  for (const id of FAMILY_IDS) {
    const fam = getFamily(id);
    lines.push(`${id}: ${fam.title}`);
    lines.push(`  horizons: train/val/test ${fam.horizons.train.join('-')}, ood ${fam.horizons.ood.join('-')} (generate accepts ${fam.horizonLimits.join('-')})`);
    const lens: string[] = [];
    for (const split of ['test', 'ood'] as const) {
      const byH = new Map<number, number[]>();
      for (const inst of getSplit(id, split, 200)) {
        const arr = byH.get(inst.horizon) ?? [];
        arr.push(promptText(inst).length + goldResponse(inst).length);
        byH.set(inst.horizon, arr);
      }
      for (const [h, a] of [...byH.entries()].sort((x, y) => x[0] - y[0])) lens.push(`h${h}:${Math.round(a.reduce((s, v) => s + v, 0) / a.length)}`);
    }
    lines.push(`  prompt+response chars (mean): ${lens.join(' ')}`);
  }
  lines.push('', 'splits (instance i has seed seedBase + i):');
  for (const s of SPLIT_IDS) {
    const sp = SPLITS[s];
    lines.push(`  ${s.padEnd(5)}  seeds ${sp.seedBase}..${sp.seedBase + sp.capacity - 1}  horizons: ${sp.horizons}  default size ${sp.defaultSize}`);
  }
  console.log(lines.join('\n'));
  return 0;
}

/** A record of another trainer's dataset format (what `tasks export --format trl|verl|llamafactory` writes). */
function foreignFormat(file: string): string | null {
  try {
    const first = readFileSync(file, 'utf8').split('\n').find((l) => l.trim());
    if (first === undefined) return null;
    const r = JSON.parse(first) as Record<string, unknown> | unknown[];
    const rec = Array.isArray(r) ? r[0] as Record<string, unknown> : r;
    if (!rec || typeof rec !== 'object' || 'scene' in rec) return null;
    if ('prompt' in rec && 'completion' in rec) return 'a TRL record (tasks export --format trl)';
    if ('messages' in rec) return 'a LLaMA-Factory/ShareGPT record (tasks export --format llamafactory)';
    if ('prompt' in rec) return 'a chat-prompt record';
  } catch { /* unreadable or not JSON: the loader says so, naming the file and line */ }
  return null;
}

function runValidate(o: ValidateOptions): number {
  const foreign = foreignFormat(o.file);
  if (foreign) throw new Error(`${o.file}: line 1 is ${foreign}; ivr tasks validate reads only ivr's own instance JSONL (tasks export --format jsonl, also called ours), which holds each instance's scene`);
  const insts = requireTasks(loadInstances(o.file, { checkImages: !o.skipImages }), o.file);
  // The checks `ivr eval` relies on (images the model reads, gold answer within its text
  // context), for the default model, each naming file and line.
  const lineOf = new Map<string, number>();
  readFileSync(o.file, 'utf8').split('\n').forEach((l, i) => { if (l.trim()) lineOf.set((JSON.parse(l) as { id: string }).id, i + 1); });
  const tok = new Tokenizer();
  const problems = insts.flatMap((inst) => checkInstanceForModel(o.skipImages ? { ...inst, images: undefined } : inst, DEFAULT_VLM, tok)
    .map((p) => new TaskFileError(o.file, lineOf.get(inst.id) ?? 0, p.field, p.detail).message));
  if (problems.length) {
    for (const p of problems) console.error(p);
    console.error(`${o.file}: ${problems.length} problem${problems.length === 1 ? '' : 's'} for the model (imageSize ${DEFAULT_VLM.imageSize}, maxText ${DEFAULT_VLM.maxText})`);
    return 1;
  }
  const byFamily = new Map<string, number>();
  for (const i of insts) byFamily.set(i.family, (byFamily.get(i.family) ?? 0) + 1);
  console.log(`${o.file}: ${insts.length} valid instances (${[...byFamily.entries()].map(([f, n]) => `${f} ${n}`).join(', ')})`);
  return 0;
}

function runVerify(o: VerifyOptions): number {
  const inst = instanceFromOptions(o);
  const text = readFileSync(o.response === '-' ? 0 : o.response, 'utf8');
  const v = verifyResponse(inst, text);
  const lines = [`${inst.id}: ${inst.question}`];
  for (const s of v.steps) lines.push(`  ${String(s.index + 1).padStart(2)} ${s.kind.padEnd(7)} ${s.text}${s.reason ? `   (${s.reason})` : ''}`);
  lines.push(`answer ${v.answer ?? '(none)'}: ${v.answerCorrect ? 'correct' : `wrong (gold ${inst.answer})`}`);
  lines.push(v.firstError === null ? 'complete: every step verified' : `first error: step ${v.firstError + 1} (${v.firstErrorKind}): ${v.firstErrorReason}`);
  lines.push(`format ${v.formatValid ? 'valid' : 'invalid'}; visual claims held ${v.visualClaimsHeld}/${v.visualClaims}`);
  console.log(lines.join('\n'));
  return v.complete ? 0 : 1;
}
