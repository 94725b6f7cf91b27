// `ivr probe-reads [--minutes 15] [--patch 8 --dim 128 --layers 4 --heads 4 ...] [--read-weight W] [--json] [--out FILE]`:
// the perception probe (src/sft/read-probe.ts). Trains a fresh model on horizon-1 reads alone
// for a wall-clock budget and prints greedy read accuracy by family and read kind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { checkReadProbeConfig, DEFAULT_READ_PROBE, runReadProbe, type ReadAccuracy, type ReadProbeConfig, type ReadProbeReport } from '../../sft/read-probe.js';
import { FAMILY_IDS, type FamilyId } from '../../tasks/index.js';
import { UsageError } from '../errors.js';
import { commandLine, withExamples } from '../help.js';
import { integer, listOf, real } from '../options.js';

interface Options {
  minutes: number; steps?: number; families: FamilyId[];
  imageSize: number; patch: number; cellEmbed?: boolean; cellAddress?: boolean; tokenShift?: boolean; dim: number; layers: number; heads: number; mlpRatio: number; maxText: number;
  readWeight: number; scanShare: number; batchSize: number; lr: number; warmup: number; valN: number; seed: number;
  evalEvery?: number; threads?: number; save?: string; out?: string; json?: boolean; withResults?: boolean; quiet?: boolean;
}

export function configure(cmd: Command): void {
  const d = DEFAULT_READ_PROBE, m = d.model;
  cmd
    .description('Perception probe: train a fresh model on horizon-1 reads alone (a grid cell, one count, one bar) for a wall-clock budget, then print greedy read accuracy on fixed val instances by family and read kind.')
    .option('--minutes <m>', 'training budget in wall-clock minutes (evaluation not counted)', real({ gt: 0 }), d.minutes)
    .option('--steps <n>', 'also stop after this many optimizer steps', integer(1))
    .addOption(new Option('--families <families>', 'comma-separated families').argParser(listOf(FAMILY_IDS)).default([...d.families], d.families.join(',')))
    .option('--image-size <px>', 'model input side in pixels (the families render 48)', integer(1), m.imageSize)
    .option('--patch <px>', 'patch side in pixels (divides the image size)', integer(1), m.patch)
    .option('--cell-embed', 'give each patch its own learned embedding besides its row and column (model.cellEmbed 1)')
    .option('--cell-address', 'let attention address image cells by row and column (model.cellAddress 1)')
    .option('--token-shift', 'give each text token the embeddings of the two before it (model.tokenShift 1)')
    .option('--dim <d>', 'model width', integer(1), m.dim)
    .option('--layers <n>', 'transformer layers', integer(1), m.layers)
    .option('--heads <n>', 'attention heads (divide the width)', integer(1), m.heads)
    .option('--mlp-ratio <r>', 'MLP hidden width / model width', integer(1), m.mlpRatio)
    .option('--max-text <n>', 'text tokens per sequence (prompt + response)', integer(16), m.maxText)
    .option('--read-weight <w>', 'loss weight of the read tokens (what a read claims: the count, the bar value, the grid target/status/position) relative to the other response tokens (1 = plain SFT)', real({ gt: 0 }), d.readWeight)
    .option('--scan-share <s>', 'share of training examples that are scans (k lookups of one image: "24w 13o 05s", "23rc 14..", "r5 g3") instead of single reads', real({ min: 0, max: 0.95 }), d.scanShare)
    .option('--batch-size <n>', 'examples per step', integer(1), d.batchSize)
    .option('--lr <lr>', 'peak learning rate (warm-up, then cosine over the budget)', real({ gt: 0 }), d.lr)
    .option('--warmup <n>', 'warm-up steps', integer(0), d.warmup)
    .option('--val-n <n>', 'val instances per family (fixed seeds)', integer(1), d.valN)
    .option('--seed <n>', 'initialisation seed', integer(0), d.seed)
    .option('--eval-every <minutes>', 'also evaluate every this many training minutes (a learning curve)', real({ gt: 0 }))
    .option('--threads <n>', 'onnxruntime threads (default: $IVR_THREADS, else all cores)', integer(1))
    .option('--save <dir>', 'save the trained probe model as a checkpoint here')
    .option('--out <file>', 'also write the JSON report, with every val response, to this file')
    .option('--json', 'print one JSON object')
    .option('--with-results', 'include every val response in the JSON')
    .option('--quiet', 'no progress line')
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr probe-reads --minutes 15 --eval-every 3 --out docs/probes/d128-p8.json',
    'ivr probe-reads --minutes 15 --patch 4 --json > probe-patch4.json',
    'ivr probe-reads --minutes 15 --dim 192 --layers 6 --heads 6 --read-weight 5',
  ]);
}

async function run(o: Options): Promise<number> {
  const cfg: ReadProbeConfig = {
    ...DEFAULT_READ_PROBE,
    model: { ...DEFAULT_READ_PROBE.model, imageSize: o.imageSize, patch: o.patch, dim: o.dim, layers: o.layers, heads: o.heads, mlpRatio: o.mlpRatio, maxText: o.maxText, ...(o.cellEmbed ? { cellEmbed: 1 } : {}), ...(o.cellAddress ? { cellAddress: 1 } : {}), ...(o.tokenShift ? { tokenShift: 1 } : {}) },
    families: o.families, minutes: o.minutes, maxSteps: o.steps ?? null, batchSize: o.batchSize, lr: o.lr, warmup: o.warmup,
    readWeight: o.readWeight, scanShare: o.scanShare, valN: o.valN, seed: o.seed, evalEveryMinutes: o.evalEvery ?? null,
    ...(o.threads !== undefined ? { threads: o.threads } : {}),
  };
  if (o.imageSize % o.patch !== 0) throw new UsageError(`--patch ${o.patch} must divide --image-size ${o.imageSize}`);
  if (o.dim % o.heads !== 0) throw new UsageError(`--heads ${o.heads} must divide --dim ${o.dim}`);
  try {
    checkReadProbeConfig(cfg);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const report = await runReadProbe(cfg, { quiet: o.quiet || o.json, save: o.save });
  const { results, ...rest } = report;
  if (o.out !== undefined) {
    fs.mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
    fs.writeFileSync(o.out, JSON.stringify({ command: commandLine(), ...report }, null, 1) + '\n');
  }
  if (o.json) console.log(JSON.stringify({ command: commandLine(), ...rest, ...(o.withResults ? { results } : {}) }));
  else console.log(formatReadProbe(report));
  return 0;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const acc = (a: ReadAccuracy) => `${pct(a.read_accuracy)} [${(100 * a.read_ci[0]).toFixed(1)}, ${(100 * a.read_ci[1]).toFixed(1)}]`;

/** The configuration in one line: what a row of the model card's probe table names. */
export function probeConfigLabel(r: ReadProbeReport): string {
  const m = r.config.model;
  const flags = [m.cellEmbed ? 'cell embedding' : '', m.cellAddress ? 'cell address' : '', m.tokenShift ? 'token shift' : ''].filter(Boolean);
  const scans = r.config.scanShare > 0 ? `, scans ${Math.round(100 * r.config.scanShare)}%` : '';
  return `d${m.dim} L${m.layers} H${m.heads} patch ${m.patch} image ${m.imageSize}${flags.map((f) => `, ${f}`).join('')}, read weight ${r.config.readWeight}${scans}, lr ${r.config.lr}, batch ${r.config.batchSize}`;
}

/** The read accuracy table (family, kind), then a one-row summary for the model card. */
export function formatReadProbe(r: ReadProbeReport): string {
  const lines = [
    `Read probe (horizon ${r.horizon}), ${probeConfigLabel(r)}, ${r.config.params} parameters`,
    `trained ${r.train.steps} steps x ${r.config.batchSize} in ${r.train.minutes.toFixed(1)} min (stopped by ${r.train.stopped_by}; budget ${r.config.minutes} min), loss ${r.train.final_loss.toFixed(3)}; read tokens ${pct(r.train.tokens ? r.train.read_tokens / r.train.tokens : 0)} of the loss tokens; eval ${r.eval.minutes.toFixed(1)} min, greedy`,
    '',
    '| family | read kind | n | read accuracy [95% CI] |',
    '|---|---|---|---|',
  ];
  for (const f of r.by_family) {
    for (const k of f.by_kind) lines.push(`| ${f.family} | ${k.kind} | ${k.n} | ${acc(k)} |`);
    lines.push(`| ${f.family} | **all** | ${f.n} | **${acc(f)}** (answer ${pct(f.answer_accuracy)}, format ${pct(f.format_validity)}) |`);
  }
  if (r.curve.length > 1) {
    lines.push('', '| train minutes | step | read accuracy | ' + r.by_family.map((f) => f.family).join(' | ') + ' |', '|---|---|---|' + r.by_family.map(() => '---|').join(''));
    for (const c of r.curve) lines.push(`| ${c.train_minutes.toFixed(1)} | ${c.step} | ${pct(c.read_accuracy)} | ${r.by_family.map((f) => pct(c.by_family[f.family] ?? 0)).join(' | ')} |`);
  }
  const fam = (id: FamilyId) => r.by_family.find((f) => f.family === id);
  lines.push('', 'Model card row (configuration | grid | shapes | chart | all | steps | train minutes):',
    `| ${probeConfigLabel(r)} | ${FAMILY_IDS.map((id) => (fam(id) ? pct(fam(id)!.read_accuracy) : '–')).join(' | ')} | ${pct(r.overall.read_accuracy)} | ${r.train.steps} | ${r.train.minutes.toFixed(1)} |`);
  return lines.join('\n');
}
