#!/usr/bin/env node
// Greedy outputs of a checkpoint on the same test instances under two inference builds, token
// for token: how many rows are identical, and the largest difference in a token's log-prob
// where they agree. Builds (--modes, the first is the reference):
//   plain    the graphs training differentiates (IVR_FUSED=0), every row its own cache
//   fused    fused inference kernels (the default), every row its own cache
//   shared   fused, and rows with one context read one copy of it (the default; needs --group > 1
//            to have rows that share: each instance is then decoded --group times)
// Across builds of the code: --save F writes the last mode's outputs, --against F compares the
// last mode with outputs saved by another build (e.g. before a change). Build first.
//   node scripts/check-decode.mjs [--checkpoint checkpoints/base] [--n 200] [--group 1]
//                                 [--modes plain,fused] [--save F] [--against F]
import * as fs from 'node:fs';
import { parseArgs } from 'node:util';
import { loadPolicy } from '../dist/src/model/checkpoint-io.js';
import { instancePatches, promptIds } from '../dist/src/model/episode.js';
import { FAMILY_IDS, getSplit } from '../dist/src/tasks/index.js';

const { values: a } = parseArgs({ options: {
  checkpoint: { type: 'string', default: 'checkpoints/base' }, n: { type: 'string', default: '200' }, group: { type: 'string', default: '1' },
  modes: { type: 'string', default: 'plain,fused' }, save: { type: 'string' }, against: { type: 'string' },
} });
const MODES = { plain: { fused: false, share: false }, fused: { fused: true, share: false }, shared: { fused: true, share: true } };
const modes = a.modes.split(',');
for (const m of modes) if (!(m in MODES)) throw new Error(`--modes: unknown mode "${m}" (known: ${Object.keys(MODES).join(', ')})`);
const count = Number(a.n);
const group = Number(a.group);
const threads = Number(process.env.IVR_THREADS ?? 1);
const per = Math.ceil(count / FAMILY_IDS.length);
const insts = FAMILY_IDS.flatMap((f) => getSplit(f, 'test', per)).slice(0, count);

const outputs = [];
for (const mode of modes) {
  const { policy } = loadPolicy(a.checkpoint, threads);
  policy.fused = MODES[mode].fused;
  policy.shareContexts = MODES[mode].share;
  const reqs = insts.flatMap((inst) => {
    const r = { patches: instancePatches(inst, policy.cfg), segments: [{ kind: 'image' }, { kind: 'text', ids: promptIds(inst, policy.tokenizer) }] };
    return Array.from({ length: group }, () => r);
  });
  const t0 = performance.now();
  outputs.push((await policy.generate(reqs, { maxNew: policy.cfg.maxText, temperature: 0, topP: 1, seed: 0 })).map((g) => ({ tokens: g.tokens, logps: g.logps })));
  console.log(`${mode}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
if (a.save) fs.writeFileSync(a.save, JSON.stringify({ checkpoint: a.checkpoint, n: count, group, mode: modes.at(-1), outputs: outputs.at(-1) }));

/** Rows identical token for token, and the largest |Δ log p| over the agreeing tokens. */
function compare(ref, got) {
  let same = 0;
  let maxd = 0;
  let tokens = 0;
  ref.forEach((g, i) => {
    const h = got[i];
    if (g.tokens.join() === h.tokens.join()) same++;
    for (let s = 0; s < Math.min(g.tokens.length, h.tokens.length) && g.tokens[s] === h.tokens[s]; s++, tokens++) maxd = Math.max(maxd, Math.abs(g.logps[s] - h.logps[s]));
  });
  return `${same}/${ref.length} identical; max |Δ log p| over ${tokens} agreeing tokens ${maxd.toExponential(2)}`;
}
let allSame = true;
const report = (what, ref, got) => {
  const line = compare(ref, got);
  allSame &&= line.startsWith(`${ref.length}/`);
  console.log(`${a.checkpoint}, ${insts.length} test instances × ${group} (${FAMILY_IDS.join(', ')}), greedy, ${what}: ${line}`);
};
for (let i = 1; i < modes.length; i++) report(`${modes[i]} vs ${modes[0]}`, outputs[0], outputs[i]);
if (a.against) {
  const saved = JSON.parse(fs.readFileSync(a.against, 'utf8'));
  if (saved.outputs.length !== outputs.at(-1).length) throw new Error(`--against ${a.against}: ${saved.outputs.length} rows saved, ${outputs.at(-1).length} decoded (same --n and --group?)`);
  report(`${modes.at(-1)} vs ${a.against} (${saved.mode})`, saved.outputs, outputs.at(-1));
}
process.exitCode = allSame ? 0 : 1;
