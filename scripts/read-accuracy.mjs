// Does a checkpoint look at the image? Greedy first-step read accuracy on val instances at the
// short horizons, by family and read kind (src/sft/reads.ts). The first step is the one read
// that no earlier step of the model can spoil, so it is the cleanest measure of perception in a
// full policy (`ivr probe-reads` measures a fresh model trained on reads alone). Issue #22.
//   node scripts/read-accuracy.mjs [--n 150] [--max-horizon 4] CKPT...
import { parseArgs } from 'node:util';
import { evaluatePolicy } from '../dist/src/eval/evaluate.js';
import { loadPolicy } from '../dist/src/model/checkpoint-io.js';
import { readKinds } from '../dist/src/sft/reads.js';
import { FAMILY_IDS, getSplit } from '../dist/src/tasks/index.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { n: { type: 'string', default: '150' }, 'max-horizon': { type: 'string', default: '4' }, threads: { type: 'string', default: '1' } },
});
if (!positionals.length) { console.error('usage: read-accuracy.mjs [--n 150] [--max-horizon 4] CKPT...'); process.exit(2); }
const n = Number(values.n), maxH = Number(values['max-horizon']);
for (const ckpt of positionals) {
  const { policy } = loadPolicy(ckpt, Number(values.threads));
  const out = { checkpoint: ckpt, n_per_family: n, max_horizon: maxH, families: {} };
  for (const fam of FAMILY_IDS) {
    // Val instances at the short horizons: the first n of the split that qualify (fixed seeds).
    const insts = getSplit(fam, 'val', 20 * n).filter((i) => i.horizon <= maxH).slice(0, n);
    const rep = await evaluatePolicy(policy, insts, { temperature: 0, topP: 1, samples: 1, seed: 0 });
    const tally = {};
    rep.results.forEach((r, j) => {
      const inst = insts[j];
      const first = String(r.responses[0]).split('\n')[1] ?? '';
      // chart kinds are [colour, value range]: the value range says whether the height is read.
      const kind = inst.family === 'chart' ? readKinds(inst)[1] : readKinds(inst)[0];
      for (const k of ['all', kind]) {
        tally[k] ??= { n: 0, correct: 0 };
        tally[k].n++;
        if (first === inst.steps[0]) tally[k].correct++;
      }
    });
    out.families[fam] = Object.fromEntries(Object.entries(tally).map(([k, t]) => [k, { ...t, accuracy: t.correct / t.n }]));
  }
  console.log(JSON.stringify(out));
}
