// `ivr train --method M --init CHECKPOINT --config FILE [--set k=v] [--out RUN_DIR] [--resume]`
import { Option, type Command } from 'commander';
import { METHODS, type RlMethod } from '../../rl/config.js';
import { loadTrainConfig } from '../../ivr/config.js';
import { trainRl } from '../../rl/trainer.js';
import { augmenterFor } from '../../ivr/methods.js';
import type { ConfigOverride } from '../../util/config-file.js';
import { resolveCheckpoint } from '../../util/package-paths.js';
import { withExamples } from '../help.js';
import { configOverride, integer, SET_OPTION } from '../options.js';

interface Options {
  method?: RlMethod; init: string; config: string; set?: ConfigOverride[]; out?: string;
  resume?: boolean; force?: boolean; budgetTokens?: number; quiet?: boolean;
}

export function configure(cmd: Command): void {
  cmd
    .description('RL post-training: GRPO, Dr. GRPO, DAPO, LUFFY or IVR-R1, from a checkpoint, with a JSON or YAML config.')
    .addOption(new Option('--method <method>', 'RL method (must agree with the config\'s "method")').choices(METHODS))
    .option('--init <checkpoint>', 'checkpoint to start from (or a run directory: its final, else latest, checkpoint)', 'checkpoints/base')
    .requiredOption('--config <file>', 'RL config, .json or .yaml (see configs/)')
    .option(SET_OPTION.flags, SET_OPTION.help, configOverride)
    .option('--out <dir>', 'run directory (default: runs/<method>)')
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--force', 'start over in --out although it holds a checkpoint, another kind of run or a run with checkpoints (overwrites config.json, deletes metrics.jsonl and checkpoints/)')
    .option('--budget-tokens <n>', 'stop after this many generated rollout tokens (IVR loop tokens included)', integer(1))
    .option('--quiet', 'no progress line')
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, [
    'ivr train --method grpo --config configs/grpo.json --out runs/grpo',
    'ivr train --config configs/ivr.json --set ivr.rounds=2 --set lr=5e-5 --out runs/ivr-j2',
    'ivr train --method dapo --config my-dapo.yaml --budget-tokens 60000',
    'ivr train --config configs/ivr.json --out runs/ivr --resume',
  ]);
}

async function run(o: Options): Promise<number> {
  const cfg = loadTrainConfig(o.config, { method: o.method }, o.set);
  const out = o.out ?? `runs/${cfg.method}`;
  const augmenter = augmenterFor(cfg);
  const t0 = performance.now();
  const { run } = await trainRl(cfg, {
    init: resolveCheckpoint(o.init), out, resume: o.resume === true, force: o.force, quiet: o.quiet, budgetTokens: o.budgetTokens, augmenter,
  });
  const rows = run.readMetrics();
  const last = rows.at(-1);
  console.log(`train ${cfg.method} done in ${((performance.now() - t0) / 1000).toFixed(0)} s, ${rows.length} iterations; run ${out}${last?.val_accuracy !== undefined ? `; val accuracy ${(last.val_accuracy as number).toFixed(3)}` : ''}`);
  return 0;
}
