// Greedy accuracy and the gold/departure log-probs of src/rl/probe.ts on a val slice, for one
// or more checkpoints: the known-answer slice's judge (issue #21).
//   node scripts/probe-checkpoint.mjs --families chart --min-horizon 2 --max-horizon 2 --n 200 CKPT...
import { parseArgs } from 'node:util';
import { loadPolicy } from '../dist/src/model/checkpoint-io.js';
import { probePolicy, probeSet } from '../dist/src/rl/probe.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    families: { type: 'string', default: 'chart' },
    'min-horizon': { type: 'string', default: '2' },
    'max-horizon': { type: 'string', default: '2' },
    n: { type: 'string', default: '200' },
    threads: { type: 'string', default: '1' },
  },
});
if (!positionals.length) { console.error('usage: probe-checkpoint.mjs [--families f,..] [--min-horizon h] [--max-horizon h] [--n N] CKPT...'); process.exit(2); }
const insts = probeSet({ families: values.families.split(','), min_horizon: Number(values['min-horizon']), max_horizon: Number(values['max-horizon']), n: Number(values.n) });
for (const ckpt of positionals) {
  const { policy } = loadPolicy(ckpt, Number(values.threads));
  const r = await probePolicy(policy, insts);
  console.log(JSON.stringify({ checkpoint: ckpt, n: insts.length, ...r }));
}
