// `ivr rl-bench`: where an RL iteration's time goes (rollout / old+ref log-probs / update)
// at 16 prompts x 8 samples from the base checkpoint. Iteration 1 pays graph compilation,
// so the figures are from iteration 2 onward.
import * as fs from 'node:fs';
import os from 'node:os';
import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { METHODS, type RlMethod } from '../../rl/config.js';
import { trainDefaults } from '../../ivr/config.js';
import { trainRl } from '../../rl/trainer.js';
import { augmenterFor } from '../../ivr/methods.js';
import { mallocTuned } from '../../util/malloc-tuning.js';
import { peakRssMiB } from '../../util/memory.js';
import { maxOpenSessions, sessionStats } from '../../engine/runtime.js';
import { decodeWorkerStats } from '../../model/decode-pool.js';
import { withExamples } from '../help.js';
import { integer } from '../options.js';

interface Options { init: string; method: RlMethod; prompts: number; group: number; iterations: number; json?: boolean }

export function configure(cmd: Command): void {
  cmd
    .description('Time split of RL iterations from a checkpoint (rollout / method / old + ref log-probs / update); the first iteration is a warm-up.')
    .option('--init <checkpoint>', 'checkpoint', 'checkpoints/base')
    .addOption(new Option('--method <method>', 'RL method').choices(METHODS).default('grpo'))
    .option('--prompts <n>', 'prompts per iteration', integer(1), 16)
    .option('--group <n>', 'samples per prompt', integer(2), 8)
    .option('--iterations <n>', 'timed iterations (after one warm-up)', integer(1), 2)
    .option('--json', 'print one JSON object')
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, ['ivr rl-bench', 'ivr rl-bench --method ivr --prompts 8 --group 4 --json']);
}

async function run(o: Options): Promise<number> {
  const method = o.method;
  const cfg = { ...trainDefaults(method), prompts_per_iter: o.prompts, group_size: o.group, iterations: 1 + o.iterations, val_every: 0, checkpoint_every: 0 };
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-rl-bench-'));
  try {
    const { run } = await trainRl(cfg, { init: o.init, out, resume: false, quiet: o.json, augmenter: augmenterFor(cfg) });
    const rows = run.readMetrics().slice(1);
    const avg = (k: string) => rows.reduce((a, r) => a + (r[k] as number ?? 0), 0) / rows.length;
    const fig = {
      method, malloc_tuned: mallocTuned(), prompts: cfg.prompts_per_iter, group_size: cfg.group_size, iterations: rows.length,
      t_rollout_s: avg('t_rollout_s'), t_augment_s: avg('t_augment_s'), t_score_s: avg('t_score_s'), t_update_s: avg('t_update_s'),
      gen_tokens: avg('gen_tokens'), rollout_tokens_per_s: avg('gen_tokens') / avg('t_rollout_s'),
      peak_rss_mib: peakRssMiB(),
      // RSS after the first timed iteration and after the last: equal when nothing grows.
      rss_first_mib: rows[0]?.rss_mib as number ?? NaN,
      rss_last_mib: rows[rows.length - 1]?.rss_mib as number ?? NaN,
      // onnxruntime sessions (one per graph shape): open at the end, opened and evicted in all.
      sessions: { ...sessionStats(), max_open: maxOpenSessions() },
      // Decode workers (model/decode-pool.ts) and their own sessions (max_open each).
      decode_workers: decodeWorkerStats(),
    };
    if (o.json) console.log(JSON.stringify(fig));
    else {
      const total = fig.t_rollout_s + fig.t_augment_s + fig.t_score_s + fig.t_update_s;
      console.log(`${method}, ${fig.prompts} prompts x ${fig.group_size} samples, mean of ${fig.iterations} iteration(s) after warm-up (glibc malloc tuning ${fig.malloc_tuned ? 'on' : 'off'}):`);
      for (const [k, v] of [['rollout', fig.t_rollout_s], ['method (ivr loop / demos)', fig.t_augment_s], ['old + ref log-probs', fig.t_score_s], ['update', fig.t_update_s]] as const) {
        console.log(`  ${k.padEnd(26)} ${v.toFixed(2)} s  (${(100 * v / total).toFixed(0)}%)`);
      }
      console.log(`  ${'total'.padEnd(26)} ${total.toFixed(2)} s; ${Math.round(fig.gen_tokens)} tokens generated, ${Math.round(fig.rollout_tokens_per_s)} tokens/s in rollout`);
      console.log(`  peak RSS ${fig.peak_rss_mib.toFixed(0)} MiB; RSS ${fig.rss_first_mib.toFixed(0)} MiB after iteration 2, ${fig.rss_last_mib.toFixed(0)} MiB after the last`);
      console.log(`  onnxruntime sessions: ${fig.sessions.opened} opened, ${fig.sessions.evicted} evicted, ${fig.sessions.open} open (at most ${fig.sessions.max_open})`);
      const dw = fig.decode_workers;
      if (dw.workers) console.log(`  decode workers: ${dw.workers}, with ${dw.opened} sessions opened, ${dw.evicted} evicted, ${dw.open} open (at most ${fig.sessions.max_open} each)`);
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
  return 0;
}
