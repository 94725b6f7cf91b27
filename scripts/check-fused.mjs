#!/usr/bin/env node
// Greedy outputs of a checkpoint with the fused inference graphs (the default) and the plain
// ones (IVR_FUSED=0), on the same test instances: how many are identical token for token, and
// the largest difference in a sampled token's log-probability where they agree. Build first.
//   node scripts/check-fused.mjs [CHECKPOINT (checkpoints/base)] [INSTANCES (200)]
import { loadPolicy } from '../dist/src/model/checkpoint-io.js';
import { instancePatches, promptIds } from '../dist/src/model/episode.js';
import { FAMILY_IDS, getSplit } from '../dist/src/tasks/index.js';

const dir = process.argv[2] ?? 'checkpoints/base';
const count = Number(process.argv[3] ?? 200);
const threads = Number(process.env.IVR_THREADS ?? 1);
const per = Math.ceil(count / FAMILY_IDS.length);
const insts = FAMILY_IDS.flatMap((f) => getSplit(f, 'test', per)).slice(0, count);
const outputs = [];
for (const fused of [false, true]) {
  const { policy } = loadPolicy(dir, threads);
  policy.fused = fused;
  const reqs = insts.map((inst) => ({ patches: instancePatches(inst, policy.cfg), segments: [{ kind: 'image' }, { kind: 'text', ids: promptIds(inst, policy.tokenizer) }] }));
  const t0 = performance.now();
  outputs.push(await policy.generate(reqs, { maxNew: policy.cfg.maxText, temperature: 0, topP: 1, seed: 0 }));
  console.log(`${fused ? 'fused' : 'plain'}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
const [plain, fused] = outputs;
let same = 0;
let maxd = 0;
let tokens = 0;
plain.forEach((g, i) => {
  const h = fused[i];
  if (g.tokens.join() === h.tokens.join()) same++;
  for (let s = 0; s < Math.min(g.tokens.length, h.tokens.length) && g.tokens[s] === h.tokens[s]; s++, tokens++) maxd = Math.max(maxd, Math.abs(g.logps[s] - h.logps[s]));
});
console.log(`${dir}, ${insts.length} test instances (${FAMILY_IDS.join(', ')}), greedy: ${same}/${insts.length} identical; max |Δ log p| over ${tokens} agreeing tokens ${maxd.toExponential(2)}`);
process.exitCode = same === insts.length ? 0 : 1;
