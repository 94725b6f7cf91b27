import { test } from 'node:test';
import assert from 'node:assert/strict';
import { barChart, lineChart, stackedBars } from '../../src/report/charts.js';
import { OKABE_ITO, methodStyles } from '../../src/report/palette.js';
import { compact, legendSvg, niceTicks, numberTicks, pct, shareDomain, textWidth } from '../../src/report/svg.js';
import { checkMarkup } from './svg-check.js';

const textsOf = (svg: string) => [...svg.matchAll(/<text x="([^"]+)" y="([^"]+)"([^>]*)>([^<]*)<\/text>/g)].map((m) => ({ x: Number(m[1]), y: Number(m[2]), attrs: m[3]!, s: m[4]! }));
const legendLabels = (svg: string) => [...svg.matchAll(/<g class="legend-entry">.*?<text[^>]*>([^<]*)<\/text><\/g>/g)].map((m) => m[1]);

function series(n: number, points = 12) {
  return Array.from({ length: n }, (_, i) => ({
    name: `m${i}`, label: `method ${i}`, color: Object.values(OKABE_ITO)[i % 8]!,
    points: Array.from({ length: points }, (_, k) => ({ x: k * 150_000, y: 0.2 + 0.05 * i + 0.01 * k, lo: 0.15 + 0.05 * i, hi: 0.3 + 0.05 * i })),
  }));
}

test('lineChart: well-formed SVG, finite coordinates, one legend entry per series, title and axis labels', () => {
  const svg = lineChart({ title: 'Accuracy vs tokens', xLabel: 'tokens', yLabel: 'accuracy', series: series(6), y: { kind: 'share' }, errorBars: true, dodge: 2 });
  const tags = checkMarkup(svg);
  assert.equal(tags[0]!.name, 'svg');
  assert.deepEqual(legendLabels(svg), Array.from({ length: 6 }, (_, i) => `method ${i}`));
  assert.equal((svg.match(/class="series"/g) ?? []).length, 6);
  const texts = textsOf(svg).map((t) => t.s);
  for (const s of ['Accuracy vs tokens', 'tokens', 'accuracy']) assert.ok(texts.includes(s), `missing text ${s}`);
  // every text is at least 12px
  for (const m of svg.matchAll(/font-size="([\d.]+)"/g)) assert.ok(Number(m[1]) >= 12);
  // share axis in %
  assert.ok(texts.some((t) => /^\d+%$/.test(t)));
});

test('lineChart: x tick labels never overlap, even with long labels in a narrow chart', () => {
  for (const width of [300, 420, 560, 1100]) {
    const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: series(2, 40), width, legend: 'none' });
    const xt = textsOf(svg).filter((t) => t.attrs.includes('text-anchor="middle"') && /^[\d.]+[kMG]?$/.test(t.s)).sort((a, b) => a.x - b.x);
    assert.ok(xt.length >= 2, `width ${width}: at least two x ticks`);
    for (let i = 1; i < xt.length; i++) {
      const gap = (xt[i]!.x - textWidth(xt[i]!.s, 12) / 2) - (xt[i - 1]!.x + textWidth(xt[i - 1]!.s, 12) / 2);
      assert.ok(gap >= 8, `width ${width}: ticks ${xt[i - 1]!.s} and ${xt[i]!.s} overlap`);
    }
    // and they stay inside the SVG
    for (const t of xt) assert.ok(t.x + textWidth(t.s, 12) / 2 <= width && t.x - textWidth(t.s, 12) / 2 >= 0, `${t.s} leaves the chart`);
  }
});

test('lineChart: null points break the line; legend can be hidden; labels are escaped', () => {
  const svg = lineChart({
    title: 'a <b> & "c"', xLabel: 'h', yLabel: 'y', legend: 'none', x: { kind: 'integer' },
    series: [{ name: 'x<y', color: '#000', points: [{ x: 1, y: 0.1 }, { x: 2, y: 0.2 }, { x: 3, y: null }, { x: 4, y: 0.3 }, { x: 5, y: 0.4 }] }],
    regions: [{ from: 3.5, to: 5.5, label: 'OOD' }],
  });
  checkMarkup(svg);
  assert.ok(svg.includes('a &lt;b&gt; &amp; &quot;c&quot;'));
  const d = svg.match(/<path d="([^"]+)" fill="none"/)![1]!;
  assert.equal((d.match(/M/g) ?? []).length, 2, 'two segments');
  assert.equal(legendLabels(svg).length, 0);
  assert.ok(svg.includes('class="region"'));
});

test('lineChart: empty series and a constant series still give finite coordinates', () => {
  checkMarkup(lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] }));
  checkMarkup(lineChart({ title: 'flat', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', color: '#000', points: [{ x: 3, y: 0.5 }] }] }));
});

test('barChart: grouped bars with error bars, one legend entry per series, value labels only where they fit', () => {
  const ser = ['base', 'grpo', 'ivr'].map((name, i) => ({
    name, label: name.toUpperCase(), color: Object.values(OKABE_ITO)[i]!,
    values: [{ mean: 0.3 + 0.1 * i, lo: 0.25 + 0.1 * i, hi: 0.35 + 0.1 * i }, null, { mean: 0.2, lo: 0.2, hi: 0.2 }],
  }));
  const svg = barChart({ title: 'Final accuracy', yLabel: 'accuracy', groups: ['test', 'long', 'ood'], series: ser, y: { kind: 'share', domain: [0, 1] } });
  checkMarkup(svg);
  assert.deepEqual(legendLabels(svg), ['BASE', 'GRPO', 'IVR']);
  assert.equal((svg.match(/class="error-bar"/g) ?? []).length, 3, 'only intervals with a width get whiskers');
  assert.equal((svg.match(/<rect x=/g) ?? []).length - 3 /* legend boxes */, 6, 'null values draw nothing');
  assert.ok(textsOf(svg).some((t) => t.s === '50.0%' || t.s === '50%'));
  const narrow = barChart({ title: 't', yLabel: 'y', groups: ['a'], series: Array.from({ length: 12 }, (_, i) => ({ name: `s${i}`, color: '#000', values: [{ mean: 0.123 }] })), width: 200, y: { kind: 'share' } });
  checkMarkup(narrow);
  assert.ok(!textsOf(narrow).some((t) => t.s.startsWith('12')), 'no value labels on bars too narrow for them');
});

test('stackedBars: rows normalized to 100%, segment labels only where they fit', () => {
  const svg = stackedBars({
    title: 'first errors', categories: [{ label: 'early', color: '#3f007d' }, { label: 'late', color: '#cbc9e2' }, { label: 'none', color: '#009E73' }],
    rows: [{ name: 'a', values: [2, 3, 5], note: 'n=10' }, { name: 'b', values: [0, 1, 99] }, { name: 'c', values: [0, 0, 0] }],
    rowColors: new Map([['a', '#000000']]),
  });
  checkMarkup(svg);
  const texts = textsOf(svg).map((t) => t.s);
  for (const s of ['20%', '30%', '50%', '99%', 'n=10', 'no data']) assert.ok(texts.includes(s), `missing ${s}`);
  assert.ok(!texts.includes('1%'), '1% segment is too narrow for a label');
  assert.deepEqual(legendLabels(svg), ['early', 'late', 'none']);
  // white text on dark segments, dark text on light ones
  assert.match(svg, /fill="#fff">20%/);
  assert.match(svg, /fill="#111">30%/);
});

test('legendSvg wraps entries into rows inside its width', () => {
  const entries = Array.from({ length: 9 }, (_, i) => ({ label: `a rather long method name ${i}`, color: '#000' }));
  const svg = legendSvg(entries, 500);
  checkMarkup(svg);
  assert.equal(legendLabels(svg).length, 9);
  const t = textsOf(svg);
  assert.ok(new Set(t.map((x) => x.y)).size > 1, 'several rows');
  for (const x of t) assert.ok(x.x + textWidth(x.s, 13) <= 500 + 1, `${x.s} overflows`);
});

test('methodStyles: fixed colours per method, IVR-R1 highlighted, distinct colours for ablation variants', () => {
  const a = methodStyles(['base', 'sft', 'grpo', 'drgrpo', 'dapo', 'luffy', 'ivr']);
  const b = methodStyles(['ivr', 'grpo']);
  assert.equal(a.get('ivr')!.color, OKABE_ITO.vermillion);
  assert.equal(a.get('ivr')!.highlight, true);
  assert.ok(a.get('ivr')!.width > a.get('grpo')!.width);
  assert.equal(a.get('grpo')!.color, b.get('grpo')!.color, 'same colour in every plot');
  assert.equal(a.get('ivr')!.label, 'IVR-R1');
  assert.equal(a.get('drgrpo')!.label, 'Dr. GRPO');
  assert.equal(new Set([...a.values()].map((s) => s.color)).size, 7);
  const abl = methodStyles(['base', 'ivr', 'ivr-noloc', 'ivr-oracle', 'ivr-resample', 'ivr-nocredit', 'ivr-noshaping', 'ivr-j1']);
  assert.equal(new Set([...abl.values()].map((s) => s.color)).size, 8);
  assert.equal(abl.get('ivr')!.highlight, true);
  // without a highlight, "ivr" is an ordinary series and vermillion is not used
  const none = methodStyles(['ivr', 'grpo'], '');
  assert.equal(none.get('ivr')!.highlight, false);
  assert.notEqual(none.get('ivr')!.color, OKABE_ITO.vermillion);
});

test('ticks and number formats', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(-0.3, 0.3, 6), [-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3]);
  assert.deepEqual(niceTicks(2, 24, 6, true), [5, 10, 15, 20]);
  assert.deepEqual(niceTicks(0, 2e6, 5), [0, 500000, 1000000, 1500000, 2000000]);
  const f = numberTicks([0, 500000, 1000000, 1500000]);
  assert.deepEqual([0, 500000, 1000000, 1500000].map(f), ['0', '0.5M', '1.0M', '1.5M']);
  assert.equal(numberTicks([0, 1000, 2000])(2000), '2000');
  assert.equal(numberTicks([0, 20000, 40000])(40000), '40k');
  assert.equal(pct(0.4234, 1), '42.3%');
  assert.equal(compact(1_234_567), '1.2M');
  assert.equal(compact(45_000), '45k');
  assert.deepEqual(shareDomain([0.12, 0.33]), [0, 0.4]);
  assert.deepEqual(shareDomain([0.97]), [0, 1]);
});
