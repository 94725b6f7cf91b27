// `ivr tasks <export|show|info|validate|verify>`: the embedded benchmark from the command line.
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs, usage, UsageError, type OptionSpec } from '../../util/args.js';
import {
  FAMILY_IDS, SPLIT_IDS, SPLITS, asciiRaster, asciiRender, encodePng, getFamily, getSplit, goldResponse,
  isFamilyId, isSplitId, loadInstances, promptText, renderLarge, renderSmall, splitHorizons, verifyResponse,
  type FamilyId, type Instance, type SplitId,
} from '../../tasks/index.js';
import { EXPORT_FORMATS, exportDataset, isExportFormat, PROMPT_STYLES, type PromptStyle } from '../../tasks/export/index.js';

const SUMMARY = 'procedural multimodal reasoning tasks: export splits, show / verify instances, validate files';

const SUBCOMMANDS: Record<string, { summary: string; spec: Record<string, OptionSpec>; run: (o: Record<string, string | number | boolean | undefined>) => number }> = {
  export: {
    summary: 'write each family and split as a dataset in DIR (ours, TRL, verl or LLaMA-Factory)',
    spec: {
      // Per dataset: jsonl <name>.jsonl + small/large PNGs; trl <name>.trl.jsonl; verl <name>.parquet
      // (PNGs embedded); llamafactory <name>.json + dataset_info.json. trl/llamafactory share images/<id>.large.png.
      format: { type: 'string', help: 'jsonl (ours), trl (.trl.jsonl), verl (.parquet) or llamafactory (.json + dataset_info.json)', default: 'jsonl' },
      prompt: { type: 'string', help: 'trl/verl/llamafactory user text: instruction (grammar, format, question) or question', default: 'instruction' },
      family: { type: 'string', help: `family id (${FAMILY_IDS.join(', ')}) or "all"`, default: 'all' },
      split: { type: 'string', help: `split id (${SPLIT_IDS.join(', ')}) or "all"` },
      n: { type: 'number', help: 'instances per family and split (default: the split\'s default size)' },
      offset: { type: 'number', help: 'index of the first instance in the split', default: 0 },
      out: { type: 'string', help: 'output directory' },
      help: { type: 'boolean', help: 'show this help' },
    },
    run: runExport,
  },
  show: {
    summary: 'print one instance: ASCII scene, question, gold response, answer',
    spec: {
      family: { type: 'string', help: `family id (${FAMILY_IDS.join(', ')})` },
      seed: { type: 'number', help: 'instance seed' },
      horizon: { type: 'number', help: 'number of reasoning steps (default: from the seed, in the training range)' },
      raster: { type: 'boolean', help: 'also print the 48x48 image as characters' },
      small: { type: 'string', help: 'write the 48x48 PNG to this file' },
      large: { type: 'string', help: 'write the 384x384 PNG to this file' },
      json: { type: 'boolean', help: 'print the instance as JSON instead' },
      help: { type: 'boolean', help: 'show this help' },
    },
    run: runShow,
  },
  info: {
    summary: 'families, horizon ranges, split seed ranges and typical text lengths',
    spec: { help: { type: 'boolean', help: 'show this help' } },
    run: runInfo,
  },
  validate: {
    summary: 'load a JSONL instance file and check every line',
    spec: {
      file: { type: 'string', help: 'the .jsonl file' },
      'skip-images': { type: 'boolean', help: 'do not check that referenced PNGs exist' },
      help: { type: 'boolean', help: 'show this help' },
    },
    run: runValidate,
  },
  verify: {
    summary: 'verify a response (file or stdin) against an instance and print per-step verdicts',
    spec: {
      family: { type: 'string', help: `family id (${FAMILY_IDS.join(', ')})` },
      seed: { type: 'number', help: 'instance seed' },
      horizon: { type: 'number', help: 'number of reasoning steps (default: as in show)' },
      response: { type: 'string', help: 'file with the response text ("-" = stdin)', default: '-' },
      help: { type: 'boolean', help: 'show this help' },
    },
    run: runVerify,
  },
};

function help(): string {
  const width = Math.max(...Object.keys(SUBCOMMANDS).map((k) => k.length));
  return [`usage: ivr tasks <subcommand> [options]   (ivr tasks <subcommand> --help)`, '', SUMMARY, '', 'subcommands:',
    ...Object.entries(SUBCOMMANDS).map(([k, s]) => `  ${k.padEnd(width)}  ${s.summary}`)].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') { console.log(help()); return 0; }
  const cmd = SUBCOMMANDS[sub];
  if (!cmd) throw new UsageError(`tasks: unknown subcommand "${sub}" (known: ${Object.keys(SUBCOMMANDS).join(', ')})`);
  const { positional, options } = parseArgs(rest, cmd.spec);
  if (options.help) { console.log(usage(`tasks ${sub} [options]`, cmd.summary, cmd.spec)); return 0; }
  if (positional.length > 0) throw new UsageError(`tasks ${sub}: unexpected argument "${positional[0]}"`);
  return cmd.run(options);
}

function familyList(v: unknown): FamilyId[] {
  if (v === 'all') return [...FAMILY_IDS];
  if (!isFamilyId(v)) throw new UsageError(`--family must be one of ${FAMILY_IDS.join(', ')} or all, got ${JSON.stringify(v ?? '')}`);
  return [v];
}

function oneFamily(v: unknown): FamilyId {
  if (!isFamilyId(v)) throw new UsageError(`--family must be one of ${FAMILY_IDS.join(', ')}${v === undefined ? ' (required)' : `, got ${JSON.stringify(v)}`}`);
  return v;
}

function intOption(o: Record<string, unknown>, name: string, min: number, required: boolean): number | undefined {
  const v = o[name];
  if (v === undefined) {
    if (required) throw new UsageError(`--${name} is required`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new UsageError(`--${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

function runExport(o: Record<string, string | number | boolean | undefined>): number {
  const families = familyList(o.family);
  if (o.split === undefined) throw new UsageError(`--split is required (${SPLIT_IDS.join(', ')} or all)`);
  const splits: SplitId[] = o.split === 'all' ? [...SPLIT_IDS] : isSplitId(o.split) ? [o.split] : (() => { throw new UsageError(`--split must be one of ${SPLIT_IDS.join(', ')} or all, got ${JSON.stringify(o.split)}`); })();
  if (typeof o.out !== 'string' || o.out.length === 0) throw new UsageError('--out DIR is required');
  const format = o.format ?? 'jsonl';
  if (!isExportFormat(format)) throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got ${JSON.stringify(format)}`);
  const prompt = o.prompt ?? 'instruction';
  if (!(PROMPT_STYLES as readonly unknown[]).includes(prompt)) throw new UsageError(`--prompt must be one of ${PROMPT_STYLES.join(', ')}, got ${JSON.stringify(prompt)}`);
  if (format === 'jsonl' && o.prompt !== undefined && o.prompt !== 'instruction') throw new UsageError('--prompt applies to --format trl, verl and llamafactory (the jsonl format stores the question and the instance itself)');
  const n = intOption(o, 'n', 0, false);
  const offset = intOption(o, 'offset', 0, false) ?? 0;
  for (const family of families) {
    for (const split of splits) {
      const count = n ?? SPLITS[split].defaultSize;
      const t0 = Date.now();
      const res = exportDataset(format, getSplit(family, split, count, offset), o.out, `${family}-${split}`, { prompt: prompt as PromptStyle });
      console.log(`${res.file}: ${res.count} instances (horizons ${splitHorizons(family, split).join('-')}, seeds ${SPLITS[split].seedBase + offset}..${SPLITS[split].seedBase + offset + count - 1}) in ${Date.now() - t0} ms`);
    }
  }
  return 0;
}

function instanceFromOptions(o: Record<string, unknown>): Instance {
  const family = oneFamily(o.family);
  const seed = intOption(o, 'seed', 0, true)!;
  const fam = getFamily(family);
  const [lo, hi] = fam.horizons.train;
  const horizon = intOption(o, 'horizon', 1, false) ?? lo + (seed % (hi - lo + 1));
  if (horizon < fam.horizonLimits[0] || horizon > fam.horizonLimits[1]) throw new UsageError(`--horizon for ${family} must be in ${fam.horizonLimits.join('..')}, got ${horizon}`);
  return fam.generate(seed, horizon);
}

function runShow(o: Record<string, string | number | boolean | undefined>): number {
  const inst = instanceFromOptions(o);
  if (typeof o.small === 'string') writeFileSync(o.small, encodePng(renderSmall(inst)));
  if (typeof o.large === 'string') writeFileSync(o.large, encodePng(renderLarge(inst)));
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

function runValidate(o: Record<string, string | number | boolean | undefined>): number {
  if (typeof o.file !== 'string') throw new UsageError('--file is required');
  const insts = loadInstances(o.file, { checkImages: !o['skip-images'] });
  const byFamily = new Map<string, number>();
  for (const i of insts) byFamily.set(i.family, (byFamily.get(i.family) ?? 0) + 1);
  console.log(`${o.file}: ${insts.length} valid instances (${[...byFamily.entries()].map(([f, n]) => `${f} ${n}`).join(', ') || 'none'})`);
  return 0;
}

function runVerify(o: Record<string, string | number | boolean | undefined>): number {
  const inst = instanceFromOptions(o);
  const text = readFileSync(o.response === '-' || o.response === undefined ? 0 : String(o.response), 'utf8');
  const v = verifyResponse(inst, text);
  const lines = [`${inst.id}: ${inst.question}`];
  for (const s of v.steps) lines.push(`  ${String(s.index + 1).padStart(2)} ${s.kind.padEnd(7)} ${s.text}${s.reason ? `   (${s.reason})` : ''}`);
  lines.push(`answer ${v.answer ?? '(none)'}: ${v.answerCorrect ? 'correct' : `wrong (gold ${inst.answer})`}`);
  lines.push(v.firstError === null ? 'complete: every step verified' : `first error: step ${v.firstError + 1} (${v.firstErrorKind}): ${v.firstErrorReason}`);
  lines.push(`format ${v.formatValid ? 'valid' : 'invalid'}; visual claims held ${v.visualClaimsHeld}/${v.visualClaims}`);
  console.log(lines.join('\n'));
  return v.complete ? 0 : 1;
}
