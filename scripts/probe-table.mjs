#!/usr/bin/env node
// The perception probe table (issue 22): one row per `ivr probe-reads --out` report in a
// directory (default docs/probes): configuration, steps, read accuracy overall and per family,
// the grid wall reads (the lookup a read by position needs), and the learning curve. The shapes
// column says which grammar the probe read: "rel." = the old whole-image counts with relations
// (`.s<bt`), before the local rows and columns (`rc@r2`) of issue 22; the two are not comparable.
//   node scripts/probe-table.mjs [DIR]
import * as fs from 'node:fs';
import * as path from 'node:path';

const dir = process.argv[2] ?? 'docs/probes';
const pct = (x) => (x === undefined ? '–' : `${(100 * x).toFixed(0)}%`);
const rows = [
  '| report | configuration | params | steps | reads | grid | grid walls | shapes | chart | curve (train minutes: reads) |',
  '|---|---|---|---|---|---|---|---|---|---|',
];
for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
  const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
  const c = r.config, m = c.model;
  const fam = Object.fromEntries(r.by_family.map((x) => [x.family, x]));
  const wall = fam.grid?.by_kind.find((k) => k.kind === 'wall');
  const oldShapes = fam.shapes?.by_kind.some((k) => k.kind === 'relational');
  const conf = [
    `d${m.dim} L${m.layers} h${m.heads} patch ${m.patch}`, m.cellEmbed ? 'cell emb.' : '', m.cellAddress ? 'cell address' : '', m.tokenShift ? 'token shift' : '',
    c.families.length < 3 ? c.families.join('+') + ' only' : '', c.lr !== 2e-3 ? `lr ${c.lr}` : '',
    c.readWeight !== 1 ? `read weight ${c.readWeight}` : '', c.scanShare ? `scans ${pct(c.scanShare)}` : '',
  ].filter(Boolean).join(', ');
  const curve = (r.curve ?? []).map((p) => `${p.train_minutes.toFixed(0)}: ${pct(p.read_accuracy)}`).join(', ');
  rows.push(`| ${f} | ${conf} | ${(c.params / 1000).toFixed(0)}k | ${r.train.steps} | **${pct(r.overall.read_accuracy)}** | ${pct(fam.grid?.read_accuracy)} | ${wall ? `${wall.read_correct}/${wall.n}` : '–'} | ${pct(fam.shapes?.read_accuracy)}${oldShapes ? ' (rel.)' : ''} | ${pct(fam.chart?.read_accuracy)} | ${curve} |`);
}
console.log(rows.join('\n'));
