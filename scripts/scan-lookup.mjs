#!/usr/bin/env node
// Can a fresh model learn to look up what the image shows at a place the text names? (issue 22)
// Trains on scans alone (src/sft/scan.ts) of one family and, every minute, prints how many of
// the scanned contents of 60 held-out images it gives probability > 0.5, by content
// ("o:350/350 w:0/111" = every open cell, no wall). Grid and shapes name cells by position;
// chart names bars by colour.
//   node scripts/scan-lookup.mjs [--family grid] [--minutes 6] [--lr 2e-3] [--cell-embed] [--cell-address] [--token-shift] [--letters] [--save DIR]
// --letters names each grid/shapes cell by one letter (a..z, A..J) instead of two digits.
import { parseArgs } from 'node:util';
import { AdamState } from '../dist/src/engine/optim.js';
import { exampleIds, instancePatches } from '../dist/src/model/episode.js';
import { Policy } from '../dist/src/model/policy.js';
import { savePolicy } from '../dist/src/model/checkpoint-io.js';
import { readInstance, readTrainInstance } from '../dist/src/sft/reads.js';
import { scanExample } from '../dist/src/sft/scan.js';
import { SftStepper, sftBatch } from '../dist/src/sft/trainer.js';

const { values: v } = parseArgs({ options: {
  family: { type: 'string', default: 'grid' }, minutes: { type: 'string', default: '6' }, lr: { type: 'string', default: '2e-3' },
  'cell-embed': { type: 'boolean', default: false }, 'cell-address': { type: 'boolean', default: false }, 'token-shift': { type: 'boolean', default: false }, letters: { type: 'boolean', default: false }, threads: { type: 'string', default: '1' }, save: { type: 'string' },
} });
const fam = v.family, lr = Number(v.lr), minutes = Number(v.minutes);
const cfg = { vocab: 112, dim: 128, layers: 4, heads: 4, mlpRatio: 4, maxText: 96, imageSize: 48, patch: 8, ...(v['cell-embed'] ? { cellEmbed: 1 } : {}), ...(v['cell-address'] ? { cellAddress: 1 } : {}), ...(v['token-shift'] ? { tokenShift: 1 } : {}) };
const policy = Policy.init(cfg, 0, undefined, Number(v.threads));
const tok = policy.tokenizer;
const ABC = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJ';

function scan(inst, seed) {
  const e = scanExample(inst, tok, seed);
  if (!v.letters || fam === 'chart') return e;
  const items = e.response.split(' ').map((it) => ABC[Number(it[0]) * 6 + Number(it[1])] + it.slice(3)); // 'a' + 'w': the content right at the name
  const w = [];
  items.forEach((it, i) => { if (i) w.push(0); w.push(0); for (let k = 1; k < it.length; k++) w.push(1); });
  w.push(0);
  return { inst: e.inst, response: items.join(' '), weights: Float32Array.from(w) };
}

const val = Array.from({ length: 60 }, (_, i) => scan(readInstance(fam, 'val', i), 1_000_000 + i));
async function measure() {
  const rows = val.map((x) => ({ x, ex: exampleIds(x.inst, x.response, tok) }));
  const lps = await policy.scoreTexts(rows.map(({ x, ex }) => ({ patches: instancePatches(x.inst, cfg), text: ex.text })));
  const t = {};
  rows.forEach(({ x, ex }, i) => {
    const lp = lps[i].slice(ex.promptLen - 1);
    // Content tokens (weight 1), counted by their character (grid o/w/s, chart digits, ...).
    [...x.response].forEach((ch, j) => {
      if (x.weights[j] !== 1) return;
      t[ch] ??= [0, 0];
      t[ch][0]++;
      if (Math.exp(lp[j]) > 0.5) t[ch][1]++;
    });
  });
  return Object.entries(t).sort().map(([k, [n, c]]) => `${k}:${c}/${n}`).join(' ');
}

const state = AdamState.zeros(policy.params.specs);
const stepper = new SftStepper(policy, { weightDecay: 0.1, maxGradNorm: 1 }, { tokenWeights: true });
const t0 = performance.now();
let step = 0, next = 60_000;
while (performance.now() - t0 < minutes * 60_000) {
  const items = Array.from({ length: 32 }, (_, j) => scan(readTrainInstance(step * 32 + j, [fam]), step * 32 + j));
  const r = await stepper.run(sftBatch(policy, items), state, lr * Math.min(1, (step + 1) / 100));
  step++;
  if (performance.now() - t0 > next) {
    next += 60_000;
    console.log(`${((performance.now() - t0) / 60000).toFixed(1)} min, step ${step}, loss ${r.loss.toFixed(3)} | ${await measure()}`);
  }
}

if (v.save) savePolicy(v.save, policy, { kind: 'sft' });
