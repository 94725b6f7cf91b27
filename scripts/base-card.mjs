#!/usr/bin/env node
// The base policy's target check (issue #22), from `ivr eval --json` output on the test split:
//   short = the three shortest horizons of each family, long = the three longest;
//   every family >= 90% at short horizons; in every family long <= short - 25 points;
//   at least half of the long-horizon failures erode at step >= 2; format validity >= 99%.
// Usage: node scripts/base-card.mjs EVAL.json [--split test]   (prints a markdown section)
import * as fs from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const split = args.includes('--split') ? args[args.indexOf('--split') + 1] : 'test';
if (!file) { console.error('usage: node scripts/base-card.mjs EVAL.json [--split test]'); process.exit(2); }
const ev = JSON.parse(fs.readFileSync(file, 'utf8'));
const rows = ev.by_horizon.filter((r) => r.split === split);
if (!rows.length) { console.error(`${file}: no by_horizon rows for split ${split}`); process.exit(2); }

const pool = (rs) => {
  const n = rs.reduce((a, r) => a + r.n, 0);
  const correct = rs.reduce((a, r) => a + r.accuracy * r.n, 0);
  let failures = 0;
  let late = 0;
  for (const r of rs) {
    for (const [k, c] of Object.entries(r.first_error_hist)) {
      if (k === 'none') continue;
      failures += c;
      if (Number(k) >= 2) late += c;
    }
  }
  return { n, acc: n ? correct / n : 0, failures, late };
};
const pct = (x) => `${(100 * x).toFixed(1)}%`;
const families = [...new Set(rows.map((r) => r.family))];
const lines = ['| family | short horizons | short accuracy | long horizons | long accuracy | long failures eroding at step ≥ 2 |', '|---|---|---|---|---|---|'];
const shortAll = [];
const longAll = [];
let familyMin = 1;
let gapMin = 1; // the smallest short - long gap over families
for (const f of families) {
  const fr = rows.filter((r) => r.family === f).sort((a, b) => a.horizon - b.horizon);
  const short = fr.slice(0, 3);
  const long = fr.slice(-3);
  shortAll.push(...short);
  longAll.push(...long);
  const s = pool(short);
  const l = pool(long);
  familyMin = Math.min(familyMin, s.acc);
  gapMin = Math.min(gapMin, s.acc - l.acc);
  lines.push(`| ${f} | ${short.map((r) => r.horizon).join(',')} | ${pct(s.acc)} (n ${s.n}) | ${long.map((r) => r.horizon).join(',')} | ${pct(l.acc)} (n ${l.n}) | ${l.late}/${l.failures} |`);
}
const s = pool(shortAll);
const l = pool(longAll);
lines.push(`| **all** | | **${pct(s.acc)}** | | **${pct(l.acc)}** | ${l.late}/${l.failures} (${pct(l.failures ? l.late / l.failures : 0)}) |`);
const format = rows.reduce((a, r) => a + r.format_validity * r.n, 0) / rows.reduce((a, r) => a + r.n, 0);
const checks = [
  [`every family ≥ 90% at short horizons`, familyMin >= 0.9, `min ${pct(familyMin)} (pooled ${pct(s.acc)})`],
  [`every family: long ≤ short − 25 points`, gapMin >= 0.25, `smallest gap ${(100 * gapMin).toFixed(1)} points (pooled ${pct(l.acc)} vs ${pct(s.acc)})`],
  [`≥ half of long failures erode at step ≥ 2`, l.failures > 0 && l.late / l.failures >= 0.5, pct(l.failures ? l.late / l.failures : 0)],
  [`format validity ≥ 99% on ${split}`, format >= 0.99, pct(format)],
];
lines.push('', '| target | met | measured |', '|---|---|---|');
for (const [what, ok, v] of checks) lines.push(`| ${what} | ${ok ? 'yes' : '**no**'} | ${v} |`);
console.log(lines.join('\n'));
