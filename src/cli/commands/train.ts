// `ivr train --method M --init CHECKPOINT --config FILE [--out RUN_DIR] [--resume]`
import { loadRlConfig, METHODS, type RlMethod } from '../../rl/config.js';
import { trainRl } from '../../rl/trainer.js';
import { parseArgs, usage, UsageError, type OptionSpec } from '../../util/args.js';

const OPTIONS: Record<string, OptionSpec> = {
  method: { type: 'string', help: `one of ${METHODS.join(', ')} (must agree with the config's "method")` },
  init: { type: 'string', help: 'checkpoint to start from (e.g. checkpoints/base)', default: 'checkpoints/base' },
  config: { type: 'string', help: 'RL config JSON (see configs/)' },
  out: { type: 'string', help: 'run directory (default runs/<method>)' },
  resume: { type: 'boolean', help: 'continue the run in --out from its last checkpoint', default: false },
  force: { type: 'boolean', help: 'start over in --out although it holds a checkpoint, another kind of run or a run with checkpoints (overwrites config.json, deletes metrics.jsonl and checkpoints/)', default: false },
  'budget-tokens': { type: 'number', help: 'stop after this many generated rollout tokens (IVR loop tokens included)' },
  quiet: { type: 'boolean', help: 'no progress line', default: false },
  help: { type: 'boolean', help: 'show this help', default: false },
};

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, OPTIONS);
  if (options.help) { console.log(usage('train --method M --init CKPT --config FILE [--out DIR] [--resume]', 'RL post-training: GRPO, Dr. GRPO, DAPO, LUFFY or IVR-R1.', OPTIONS)); return 0; }
  const method = options.method as string | undefined;
  if (method !== undefined && !(METHODS as readonly string[]).includes(method)) throw new UsageError(`--method must be one of ${METHODS.join(', ')}, got "${method}"`);
  if (!options.config) throw new UsageError('--config FILE is required');
  const cfg = loadRlConfig(options.config as string, { method: method as RlMethod | undefined });
  const out = (options.out as string | undefined) ?? `runs/${cfg.method}`;
  const augmenter = cfg.method === 'ivr' ? (await import('../../ivr/method.js')).ivrAugmenter(cfg) : undefined;
  const t0 = performance.now();
  const { run } = await trainRl(cfg, {
    init: options.init as string, out, resume: Boolean(options.resume), force: Boolean(options.force), quiet: Boolean(options.quiet),
    budgetTokens: options['budget-tokens'] as number | undefined, augmenter,
  });
  const rows = run.readMetrics();
  const last = rows.at(-1);
  console.log(`train ${cfg.method} done in ${((performance.now() - t0) / 1000).toFixed(0)} s, ${rows.length} iterations; run ${out}${last?.val_accuracy !== undefined ? `; val accuracy ${(last.val_accuracy as number).toFixed(3)}` : ''}`);
  return 0;
}
