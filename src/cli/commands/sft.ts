// `ivr sft --config FILE [--set k=v] [--out RUN_DIR] [--resume]`: supervised training on gold solutions.
import type { Command } from 'commander';
import { loadSftConfig } from '../../sft/config.js';
import { runSft } from '../../sft/trainer.js';
import type { ConfigOverride } from '../../util/config-file.js';
import { withExamples } from '../help.js';
import { configOverride, integer, SET_OPTION } from '../options.js';

interface Options {
  config: string; set?: ConfigOverride[]; out: string; resume?: boolean; force?: boolean; init?: string;
  budgetTokens?: number; streamOffset: number; quiet?: boolean;
}

export function configure(cmd: Command): void {
  cmd
    .description('Supervised fine-tuning of the compact VLM on gold solutions, with a JSON or YAML config.')
    .requiredOption('--config <file>', 'SFT config, .json or .yaml (see configs/sft-base.json)')
    .option(SET_OPTION.flags, SET_OPTION.help, configOverride)
    .option('--out <dir>', 'run directory', 'runs/sft')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--force', 'start over in --out although it holds a checkpoint, another kind of run or a run with checkpoints (overwrites config.json, deletes metrics.jsonl and checkpoints/)')
    .option('--init <checkpoint>', 'continue training from this checkpoint instead of a fresh model')
    .option('--budget-tokens <n>', 'stop after training on this many response tokens', integer(1))
    .option('--stream-offset <n>', 'skip this many examples of the data stream (continued SFT on unseen data)', integer(0), 0)
    .option('--quiet', 'no progress bar')
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr sft --config configs/sft-base.json --out runs/sft-base',
    'ivr sft --config configs/sft-base.json --set steps=500 --set batch_size=16 --out runs/sft-short',
  ]);
}

async function run(o: Options): Promise<number> {
  const cfg = loadSftConfig(o.config, o.set);
  const t0 = performance.now();
  const { runDir } = await runSft(cfg, {
    out: o.out, resume: o.resume === true, force: o.force, quiet: o.quiet,
    init: o.init, budgetTokens: o.budgetTokens, streamOffset: o.streamOffset,
  });
  const last = runDir.readMetrics().filter((r) => r.val_accuracy !== undefined).at(-1);
  console.log(`sft done in ${((performance.now() - t0) / 1000).toFixed(0)} s; final checkpoint ${runDir.final}${last ? `; val accuracy ${(last.val_accuracy as number).toFixed(3)}` : ''}`);
  return 0;
}
