// `ivr sft --config FILE [--out RUN_DIR] [--resume]`: supervised training on gold solutions.
import { parseSftConfig } from '../../sft/config.js';
import { runSft } from '../../sft/trainer.js';
import { parseArgs, usage, type OptionSpec } from '../../util/args.js';
import { readConfigFile } from '../config-file.js';

const OPTIONS: Record<string, OptionSpec> = {
  config: { type: 'string', help: 'SFT config JSON (see configs/sft-base.json)' },
  out: { type: 'string', help: 'run directory', default: 'runs/sft' },
  resume: { type: 'boolean', help: 'continue the run in --out from its last checkpoint', default: false },
  quiet: { type: 'boolean', help: 'no progress bar', default: false },
  help: { type: 'boolean', help: 'show this help', default: false },
};

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, OPTIONS);
  if (options.help) { console.log(usage('sft --config FILE [--out DIR] [--resume]', 'Supervised fine-tuning of the compact VLM on gold solutions.', OPTIONS)); return 0; }
  const file = options.config as string;
  const cfg = parseSftConfig(readConfigFile(file), file);
  const t0 = performance.now();
  const { runDir } = await runSft(cfg, { out: options.out as string, resume: Boolean(options.resume), quiet: Boolean(options.quiet) });
  const last = runDir.readMetrics().filter((r) => r.val_accuracy !== undefined).at(-1);
  console.log(`sft done in ${((performance.now() - t0) / 1000).toFixed(0)} s; final checkpoint ${runDir.final}${last ? `; val accuracy ${(last.val_accuracy as number).toFixed(3)}` : ''}`);
  return 0;
}
