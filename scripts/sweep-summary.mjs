#!/usr/bin/env node
// Summarises an RL sweep (scripts/rl-sweep.sh) as a markdown table: validation accuracy of
// each run's final checkpoint, per family, and its paired difference from the base on the
// same instances (bootstrap over instances, src/stats/bootstrap.ts).
// Usage: node scripts/sweep-summary.mjs [SWEEP_DIR]   (default runs/sweep; needs a build)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootstrapPairedDiff } from '../dist/src/stats/bootstrap.js';

const dir = process.argv[2] ?? 'runs/sweep';
const read = (f) => JSON.parse(fs.readFileSync(f, 'utf8')).by_split.val;
const base = read(path.join(dir, 'base-val.json'));
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const pts = (x) => `${x >= 0 ? '+' : '−'}${Math.abs(100 * x).toFixed(1)}`;
const fam = (e, f) => pct(e.by_family.find((x) => x.family === f)?.accuracy ?? 0);
const lines = ['| run | val accuracy | grid | shapes | chart | minus base, 95% CI (paired) |', '|---|---|---|---|---|---|'];
lines.push(`| base | ${pct(base.accuracy)} | ${fam(base, 'grid')} | ${fam(base, 'shapes')} | ${fam(base, 'chart')} | |`);
for (const name of fs.readdirSync(dir).sort()) {
  const f = path.join(dir, name, 'val.json');
  if (!fs.existsSync(f)) continue;
  const e = read(f);
  const d = bootstrapPairedDiff([e.correct], [base.correct]);
  lines.push(`| ${name} | ${pct(e.accuracy)} | ${fam(e, 'grid')} | ${fam(e, 'shapes')} | ${fam(e, 'chart')} | ${pts(d.mean)} [${pts(d.ci_low)}, ${pts(d.ci_high)}] |`);
}
console.log(lines.join('\n'));
