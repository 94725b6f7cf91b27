// `ivr rl-bench`: where an RL iteration's time goes (rollout / old+ref log-probs / update)
// at 16 prompts x 8 samples from the base checkpoint. Iteration 1 pays graph compilation,
// so the figures are from iteration 2 onward.
import * as fs from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { rlDefaults, METHODS, type RlMethod } from '../../rl/config.js';
import { trainRl } from '../../rl/trainer.js';
import { ivrAugmenter } from '../../ivr/method.js';
import { parseArgs, usage, UsageError, type OptionSpec } from '../../util/args.js';
import { peakRssMiB } from '../../util/memory.js';

const OPTIONS: Record<string, OptionSpec> = {
  init: { type: 'string', help: 'checkpoint', default: 'checkpoints/base' },
  method: { type: 'string', help: 'RL method', default: 'grpo' },
  prompts: { type: 'number', help: 'prompts per iteration', default: 16 },
  group: { type: 'number', help: 'samples per prompt', default: 8 },
  iterations: { type: 'number', help: 'timed iterations (after one warm-up)', default: 2 },
  json: { type: 'boolean', help: 'print one JSON object', default: false },
  help: { type: 'boolean', help: 'show this help', default: false },
};

export async function run(argv: string[]): Promise<number> {
  const { options } = parseArgs(argv, OPTIONS);
  if (options.help) { console.log(usage('rl-bench [options]', 'Time split of RL iterations.', OPTIONS)); return 0; }
  const method = options.method as string;
  if (!(METHODS as readonly string[]).includes(method)) throw new UsageError(`--method must be one of ${METHODS.join(', ')}`);
  const cfg = { ...rlDefaults(method as RlMethod), prompts_per_iter: options.prompts as number, group_size: options.group as number, iterations: 1 + (options.iterations as number), val_every: 0, checkpoint_every: 0 };
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-rl-bench-'));
  try {
    const { run } = await trainRl(cfg, { init: options.init as string, out, resume: false, quiet: Boolean(options.json), augmenter: method === 'ivr' ? ivrAugmenter(cfg) : undefined });
    const rows = run.readMetrics().slice(1);
    const avg = (k: string) => rows.reduce((a, r) => a + (r[k] as number ?? 0), 0) / rows.length;
    const fig = {
      method, prompts: cfg.prompts_per_iter, group_size: cfg.group_size, iterations: rows.length,
      t_rollout_s: avg('t_rollout_s'), t_augment_s: avg('t_augment_s'), t_score_s: avg('t_score_s'), t_update_s: avg('t_update_s'),
      gen_tokens: avg('gen_tokens'), rollout_tokens_per_s: avg('gen_tokens') / avg('t_rollout_s'),
      peak_rss_mib: peakRssMiB(),
    };
    if (options.json) console.log(JSON.stringify(fig));
    else {
      const total = fig.t_rollout_s + fig.t_augment_s + fig.t_score_s + fig.t_update_s;
      console.log(`${method}, ${fig.prompts} prompts x ${fig.group_size} samples, mean of ${fig.iterations} iteration(s) after warm-up:`);
      for (const [k, v] of [['rollout', fig.t_rollout_s], ['method (ivr loop / demos)', fig.t_augment_s], ['old + ref log-probs', fig.t_score_s], ['update', fig.t_update_s]] as const) {
        console.log(`  ${k.padEnd(26)} ${v.toFixed(2)} s  (${(100 * v / total).toFixed(0)}%)`);
      }
      console.log(`  ${'total'.padEnd(26)} ${total.toFixed(2)} s; ${Math.round(fig.gen_tokens)} tokens generated, ${Math.round(fig.rollout_tokens_per_s)} tokens/s in rollout`);
      console.log(`  peak RSS ${fig.peak_rss_mib.toFixed(0)} MiB`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
  return 0;
}
