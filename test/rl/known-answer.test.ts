// The known-answer case of issue #21, small enough for the suite. On chart at horizon 2 the
// committed base reads bars poorly (greedy ~22% on the probe set) though a right answer is
// often among its samples; SFT on gold lifts it (docs/rl-recipe.md). The full case
// (configs/known-answer/chart-h2-ivr.json, 200 iterations, ~24 min) reaches 65.5%; here
// 16 iterations of 32 prompts in each arm (~100 s on 2 cores) show the mechanism that decides it, on the probe's instruments:
// - RAFT (fine-tuning on the policy's own verified successes, advantage = reward) loses gold
//   log-probability: the successes are drawn in proportion to the policy's own probability
//   of the right read, so the update sharpens the reads it already prefers (mode-seeking);
// - IVR-R1 (the same update plus one rectified, verified trajectory for every failing
//   group) supplies the right read where the policy misses it, and the gold log-probability
//   and greedy accuracy do not fall (the update does no harm while the read is not yet learned).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { augmenterFor } from '../../src/ivr/methods.js';
import { parseTrainConfig as parseRlConfig, type TrainConfig as RlConfig } from '../../src/ivr/config.js';
import { trainRl } from '../../src/rl/trainer.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// The known-answer slice is defined on the previous base (issue 21), which reads chart bars poorly.
const BASE = path.join(ROOT, 'checkpoints/base-v1');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-known-answer-'));
process.on('exit', () => fs.rmSync(TMP, { recursive: true, force: true }));

/** The committed recipe, scaled down: 16 iterations of 32 prompts, a 100-instance probe. */
function smallConfig(ivr: boolean): RlConfig {
  const raw = JSON.parse(fs.readFileSync(path.join(ROOT, 'configs/known-answer/chart-h2-ivr.json'), 'utf8')) as Record<string, any>;
  // Constant lr as measured (the full recipe decays it; 16 iterations are all warm-up and peak).
  Object.assign(raw, { iterations: 16, prompts_per_iter: 32, group_size: 4, checkpoint_every: 0, threads: 2, lr_schedule: 'constant' });
  raw.probe = { ...raw.probe, n: 100, every: 16 };
  raw.ivr.max_rectifications = 32;
  if (!ivr) { raw.method = 'grpo'; delete raw.ivr; }
  return parseRlConfig(raw, 'chart-h2-ivr.json (small)');
}

async function probeRows(name: string, ivr: boolean): Promise<Record<string, number>[]> {
  const cfg = smallConfig(ivr);
  const { run } = await trainRl(cfg, { init: BASE, out: path.join(TMP, name), resume: false, quiet: true, augmenter: augmenterFor(cfg) });
  return run.readMetrics().filter((r) => typeof r.probe_accuracy === 'number') as Record<string, number>[];
}

test('known answer, small: RAFT on its own successes loses the gold reads; IVR-R1 keeps them and does no harm', { timeout: 15 * 60_000 }, async (t) => {
  const raft = await probeRows('raft', false);
  const ivr = await probeRows('ivr', true);
  const [r0, r1] = [raft[0]!, raft.at(-1)!];
  const [i0, i1] = [ivr[0]!, ivr.at(-1)!];
  t.diagnostic(`RAFT: gold logp ${r0.probe_gold_logp.toFixed(4)} -> ${r1.probe_gold_logp.toFixed(4)}, greedy ${r0.probe_accuracy} -> ${r1.probe_accuracy}`);
  t.diagnostic(`IVR-R1: gold logp ${i0.probe_gold_logp.toFixed(4)} -> ${i1.probe_gold_logp.toFixed(4)}, greedy ${i0.probe_accuracy} -> ${i1.probe_accuracy}`);
  assert.equal(r0.probe_gold_logp, i0.probe_gold_logp, 'both arms start from the same base on the same probe');
  // Measured here: RAFT −0.1158 → −0.1669, IVR-R1 −0.1158 → −0.1204 (deterministic at a
  // fixed thread count); the bounds leave about 40% of each effect as margin.
  assert.ok(r1.probe_gold_logp < r0.probe_gold_logp - 0.03, `RAFT loses gold log-prob (${r0.probe_gold_logp} -> ${r1.probe_gold_logp})`);
  assert.ok(i1.probe_gold_logp > i0.probe_gold_logp - 0.02, `IVR-R1 keeps gold log-prob (${i0.probe_gold_logp} -> ${i1.probe_gold_logp})`);
  assert.ok(i1.probe_gold_logp > r1.probe_gold_logp + 0.03, 'IVR-R1 ends well above RAFT');
  assert.ok(i1.probe_accuracy >= i0.probe_accuracy - 0.05, `IVR-R1 does no harm to greedy accuracy (${i0.probe_accuracy} -> ${i1.probe_accuracy})`);
});
