import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EROSION_BUCKETS, erosionBuckets, erosionCurve, meanCurve } from '../../src/report/figures.js';
import { renderReport, SECTION_IDS } from '../../src/report/html.js';
import { accuracyCi, longHorizonAccuracy } from '../../src/report/compare.js';
import { meanCi } from '../../src/stats/interval.js';
import { methodLabel } from '../../src/report/palette.js';
import { buildResults } from './fixture.js';
import { checkMarkup, svgsOf } from './svg-check.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

const pc1 = (v: number) => `${(v * 100).toFixed(1)}%`;

test('renderReport: every section, every method, well-formed, self-contained', () => {
  const r = buildResults();
  const html = renderReport(r);
  checkMarkup(html, { html: true });
  for (const id of SECTION_IDS) assert.ok(html.includes(`<section id="${id}">`), `section ${id}`);
  for (const m of r.methods) {
    const label = methodLabel(m);
    const n = html.split(`>${label}<`).length - 1;
    assert.ok(n >= 5, `${label} appears in tables, legends and plots (${n} times)`);
  }
  assert.ok(html.includes('base (start)'));
  // no scripts, no external resources of any kind
  assert.ok(!/<script|<link|<img|<iframe|@import|url\(/i.test(html));
  assert.ok(!/(src|href)=/i.test(html));
  assert.deepEqual([...new Set(html.match(/https?:\/\/[^\s"'<)]+/g) ?? [])], ['http://www.w3.org/2000/svg']);
  // every plot is a well-formed SVG with a title
  const svgs = svgsOf(html);
  assert.ok(svgs.length >= 15, `${svgs.length} svgs`);
  for (const s of svgs) { checkMarkup(s); assert.match(s, /<title>[^<]+<\/title>/); }
});

test('renderReport: the headline is computed from the numbers (bootstrap over instances and seeds)', () => {
  const r = buildResults();
  const html = renderReport(r);
  const head = html.slice(html.indexOf('<section id="headline">'), html.indexOf('<section id="tables">'));
  const ivr = accuracyCi(r.runs.filter((x) => x.method === 'ivr').map((x) => x.eval.test))!;
  const base = accuracyCi([r.base.eval.test])!;
  assert.ok(head.includes(`best mean IVR-R1 ${pc1(ivr.mean)} (95% CI ${pc1(ivr.ci_low)}–${pc1(ivr.ci_high)})`), 'test mean and CI');
  assert.ok(head.includes(`base ${pc1(base.mean)} (95% CI ${pc1(base.ci_low)}–${pc1(base.ci_high)})`), 'base has an instance-level interval');
  assert.match(head, /IVR-R1: above the base, \+\d+\.\d pts/);
  assert.match(head, /IVR-R1 against the strongest other method, LUFFY: \+\d+\.\d pts \[\+\d+\.\d, \+\d+\.\d\], ahead/);
  for (const m of ['SFT', 'GRPO', 'Dr. GRPO', 'DAPO', 'LUFFY']) assert.ok(head.includes(`>${m}<`), `diff row ${m}`);
  // the table per split carries mean ± CI for each method, the same interval as the headline
  const tables = html.slice(html.indexOf('<section id="tables">'), html.indexOf('<section id="tokens">'));
  const half = ((ivr.ci_high - ivr.ci_low) / 2 * 100).toFixed(1);
  assert.ok(tables.includes(`${pc1(ivr.mean)} <span class="ci">± ${half}</span>`));
});

test('renderReport: a method below the base is reported as below it, never as best', () => {
  const r = buildResults({ methods: ['grpo', 'ivr'] });
  // every method now evaluates like a much weaker policy than the base
  const weak = buildResults({ methods: ['sft'] }).runs;
  for (const x of r.runs) {
    const w = weak.find((q) => q.seed === x.seed)!;
    x.eval = { test: { ...w.eval.test, correct: w.eval.test.correct!.replace(/1/g, (c, i: number) => (i % 3 ? '0' : c)) }, ood: w.eval.ood };
    x.eval.test.accuracy = [...x.eval.test.correct!].filter((c) => c === '1').length / x.eval.test.correct!.length;
  }
  const html = renderReport(r);
  const head = html.slice(html.indexOf('<section id="headline">'), html.indexOf('<section id="tables">'));
  const testClaim = head.slice(head.indexOf('<li>test:'), head.indexOf('</li>', head.indexOf('<li>test:')));
  assert.match(testClaim, /no method reaches the base by mean/);
  assert.match(testClaim, /IVR-R1: below the base, −\d+\.\d pts/);
  assert.match(testClaim, /GRPO: below the base/);
  assert.ok(!/best mean|highest/.test(testClaim), testClaim);
});

test('renderReport: files without per-instance outcomes fall back to intervals over seeds', () => {
  const r = buildResults({ methods: ['grpo', 'ivr'], outcomes: false });
  const html = renderReport(r);
  const ivr = meanCi(r.runs.filter((x) => x.method === 'ivr').map((x) => x.eval.test.accuracy));
  assert.ok(html.includes(`IVR-R1 ${pc1(ivr.mean)} (95% CI ${pc1(ivr.ci_low)}–${pc1(ivr.ci_high)})`));
  checkMarkup(html, { html: true });
  const one = renderReport(buildResults({ seeds: [7], methods: ['grpo', 'ivr'], outcomes: false }));
  assert.match(one, /one seed/);
  checkMarkup(one, { html: true });
  const noIvr = renderReport(buildResults({ methods: ['grpo', 'dapo'] }));
  assert.ok(!noIvr.includes('<section id="ivr">'));
  assert.match(noIvr, /best mean DAPO/);
  checkMarkup(noIvr, { html: true });
});

test('renderReport: ablations use the variants as methods against full IVR-R1', () => {
  const variants = ['ivr', 'ivr-noloc', 'ivr-oracle', 'ivr-j1'];
  const html = renderReport(buildResults({ kind: 'ablations', methods: variants }));
  assert.match(html, /<h1>IVR-R1 ablations<\/h1>/);
  for (const v of variants.slice(1)) assert.ok(html.includes(`>${v}<`), v);
  assert.ok(html.includes('IVR-R1 (full)'));
  assert.match(html, /IVR-R1 \(full\) against the strongest other method/);
  assert.ok(html.includes('<section id="ivr">'));
});

test('meanCurve aligns seeds on a common grid', () => {
  const c = meanCurve([[{ x: 0, y: 0 }, { x: 10, y: 1 }], [{ x: 0, y: 1 }, { x: 5, y: 1 }, { x: 12, y: 1 }]]);
  assert.equal(c[0]!.x, 0);
  assert.equal(c[c.length - 1]!.x, 10);
  assert.equal(c[0]!.y, 0.5);
  assert.equal(c[c.length - 1]!.y, 1);
  assert.deepEqual(meanCurve([]), []);
});

test('erosion: buckets sum to 1; survival starts at 1 and ends at the share with no error', () => {
  const e = buildResults({ methods: ['ivr'], seeds: [0] }).runs[0]!.eval.test;
  const b = erosionBuckets([e]);
  assert.equal(b.length, EROSION_BUCKETS.length);
  assert.ok(Math.abs(b.reduce((a, x) => a + x, 0) - 1) < 1e-12);
  const none = e.by_horizon.reduce((a, h) => a + (h.first_error_hist.none ?? 0), 0) / e.n;
  assert.ok(Math.abs(b[5]! - none) < 1e-12);
  const s = erosionCurve([e]);
  assert.equal(s[0]!.y, 1);
  for (let i = 1; i < s.length; i++) assert.ok(s[i]!.y! <= s[i - 1]!.y! + 1e-12, 'non-increasing');
  assert.ok(Math.abs(s[s.length - 1]!.y! - none) < 1e-12);
});

test('longHorizonAccuracy: the upper half of each family\'s horizons', () => {
  const e = buildResults({ methods: ['ivr'], seeds: [0] }).runs[0]!.eval.test;
  const grid = e.by_horizon.filter((h) => h.family === 'grid' && h.horizon >= 6); // horizons 2..10: median 6
  const shapes = e.by_horizon.filter((h) => h.family === 'shapes' && h.horizon >= 4); // 2..6: median 4
  const chart = e.by_horizon.filter((h) => h.family === 'chart' && h.horizon >= 5); // 2..7: index 3 -> 5
  const all = [...grid, ...shapes, ...chart];
  const want = all.reduce((a, h) => a + h.accuracy * h.n, 0) / all.reduce((a, h) => a + h.n, 0);
  assert.ok(Math.abs(longHorizonAccuracy(e)! - want) < 1e-12);
  assert.equal(longHorizonAccuracy({ ...e, by_horizon: [] }), null);
});

test('ivr report CLI: writes the HTML; a malformed results.json fails naming the field', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-report-'));
  const reportCli = (args: string[]) => spawnSync(process.execPath, [CLI, 'report', ...args], { encoding: 'utf8' });
  try {
    const file = path.join(dir, 'results.json');
    fs.writeFileSync(file, JSON.stringify(buildResults({ methods: ['grpo', 'ivr'], seeds: [0, 1], iters: 8 })));
    const out = path.join(dir, 'r.html');
    let r = reportCli(['--results', file, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(fs.readFileSync(out, 'utf8'), /<section id="headline">/);
    const bad = JSON.parse(fs.readFileSync(file, 'utf8'));
    bad.runs[1].eval.test.grounding_fidelity = 'n/a';
    fs.writeFileSync(file, JSON.stringify(bad));
    r = reportCli(['--results', file, '--out', out]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /results\.json: key "runs\[1\]\.eval\.test\.grounding_fidelity" must be a number in \[0, 1\]/);
    r = reportCli([]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /required option '--results <path>' not specified/);
    r = reportCli(['--results', path.join(dir, 'missing.json')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /results file not found: .*missing\.json/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('renderReport: a one-method report (the demo) is titled by what it compares, counts in the singular, and each per-horizon panel says its n', () => {
  const one = renderReport(buildResults({ methods: ['ivr'], seeds: [0] }));
  assert.match(one, /<h1>IVR-R1 vs the base policy<\/h1>/);
  assert.match(one, /1 method × 1 seed ·/);
  assert.doesNotMatch(one, /vs RL baselines|methods ×|<dt>kind<\/dt>/);
  // every accuracy-by-horizon panel title carries the instances per horizon
  const horizon = one.slice(one.indexOf('<section id="horizon">'), one.indexOf('</section>', one.indexOf('<section id="horizon">')));
  const titles = [...horizon.matchAll(/<title>([^<]+)<\/title>/g)].map((m) => m[1]!).filter((t) => t !== 'legend');
  assert.ok(titles.length >= 3, titles.join(' | '));
  for (const t of titles) assert.match(t, /\(n \d+(–\d+)? per horizon\)/, t);
  const many = renderReport(buildResults());
  assert.match(many, /<h1>IVR-R1 vs RL baselines<\/h1>/);
});
