// `ivr sft --config FILE [--out RUN_DIR] [--resume]`: supervised training on gold solutions.
import { parseSftConfig } from '../../sft/config.js';
import { runSft } from '../../sft/trainer.js';
import { parseArgs, usage, type OptionSpec } from '../../util/args.js';
import { readConfigFile } from '../config-file.js';

const OPTIONS: Record<string, OptionSpec> = {
  config: { type: 'string', help: 'SFT config JSON (see configs/sft-base.json)' },
  out: { type: 'string', help: 'run directory', default: 'runs/sft' },
  resume: { type: 'boolean', help: 'continue the run in --out from its last checkpoint', default: false },
  force: { type: 'boolean', help: 'start over in --out although it holds a checkpoint, another kind of run or a run with checkpoints (overwrites config.json, deletes metrics.jsonl and checkpoints/)', default: false },
  init: { type: 'string', help: 'continue training from this checkpoint instead of a fresh model' },
  'budget-tokens': { type: 'number', help: 'stop after training on this many response tokens' },
  'stream-offset': { type: 'number', help: 'skip this many examples of the data stream (continued SFT on unseen data)', default: 0 },
  quiet: { type: 'boolean', help: 'no progress bar', default: false },
  help: { type: 'boolean', help: 'show this help', default: false },
};

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, OPTIONS);
  if (options.help) { console.log(usage('sft --config FILE [--out DIR] [--resume]', 'Supervised fine-tuning of the compact VLM on gold solutions.', OPTIONS)); return 0; }
  const file = options.config as string;
  const cfg = parseSftConfig(readConfigFile(file), file);
  const t0 = performance.now();
  const { runDir } = await runSft(cfg, {
    out: options.out as string, resume: Boolean(options.resume), force: Boolean(options.force), quiet: Boolean(options.quiet),
    init: options.init as string | undefined, budgetTokens: options['budget-tokens'] as number | undefined,
    streamOffset: options['stream-offset'] as number,
  });
  const last = runDir.readMetrics().filter((r) => r.val_accuracy !== undefined).at(-1);
  console.log(`sft done in ${((performance.now() - t0) / 1000).toFixed(0)} s; final checkpoint ${runDir.final}${last ? `; val accuracy ${(last.val_accuracy as number).toFixed(3)}` : ''}`);
  return 0;
}
