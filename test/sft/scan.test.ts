// Scan examples (src/sft/scan.ts): what the response claims is what the scene holds, the loss
// weights fall on the contents only, and the draw is seeded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEFAULT_VLM } from '../../src/model/config.js';
import { buildLayouts } from '../../src/model/layout.js';
import { Tokenizer } from '../../src/model/tokenizer.js';
import { parseSftConfig } from '../../src/sft/config.js';
import { runSft } from '../../src/sft/trainer.js';
import { scanExample, SCAN_QUESTION } from '../../src/sft/scan.js';
import { getSplit } from '../../src/tasks/index.js';

const tok = new Tokenizer();

test('scanExample: contents match the scene, weights on contents only, seeded', () => {
  const grid = getSplit('grid', 'train', 1)[0]!;
  const scene = grid.scene as { rows: string[]; start: [number, number] };
  const g = scanExample(grid, tok, 3);
  assert.equal(g.inst.question, SCAN_QUESTION);
  const items = g.response.split(' ');
  assert.equal(items.length, 8);
  for (const it of items) {
    assert.match(it, /^[0-5][0-5]=[ows]$/);
    const [r, c, s] = [Number(it[0]), Number(it[1]), it[3]];
    const want = scene.start[0] === r && scene.start[1] === c ? 's' : scene.rows[r]![c] === '#' ? 'w' : 'o';
    assert.equal(s, want, it);
  }
  assert.equal(g.weights.length, tok.encode(g.response).length + 1, 'one weight per response token and one for <eos>');
  const text = [...g.response];
  assert.deepEqual(Array.from(g.weights.slice(0, -1)), text.map((_, i) => (i % 5 === 3 ? 1 : 0)), 'the status character of each "rc=S" item');
  assert.deepEqual(scanExample(grid, tok, 3), g, 'same seed, same scan');
  assert.notEqual(scanExample(grid, tok, 4).response, g.response);

  const chart = getSplit('chart', 'train', 1)[0]!;
  const bars = (chart.scene as { bars: { colour: string; value: number }[] }).bars;
  const c = scanExample(chart, tok, 1);
  assert.deepEqual(c.response.split(' ').sort(), bars.map((b) => `${b.colour}=${b.value}`).sort(), 'every bar once');

  const shapes = getSplit('shapes', 'train', 1)[0]!;
  const objs = (shapes.scene as { objects: { row: number; col: number; colour: string; shape: string }[] }).objects;
  for (const it of scanExample(shapes, tok, 2).response.split(' ')) {
    const o = objs.find((x) => x.row === Number(it[0]) && x.col === Number(it[1]));
    assert.equal(it.slice(3), o ? o.colour + o.shape : '..', it);
  }
});

test('layout batches carry per-token loss weights where the loss mask is on', () => {
  const lay = buildLayouts([
    { text: [1, 2, 3, 4, 5], lossFrom: 3, insertAt: null, weights: [0, 1, 0.5] },
    { text: [1, 2, 3, 4], lossFrom: 2, insertAt: 3 },
  ], { ...DEFAULT_VLM, imageSize: 16, patch: 8 }, (n) => n);
  for (let i = 0; i < lay.mask.length; i++) if (!lay.mask[i]) assert.equal(lay.weight[i], 0, `position ${i}`);
  const w = (b: number) => Array.from(lay.weight.slice(b * lay.L, (b + 1) * lay.L)).filter((_, i) => lay.mask[b * lay.L + i]);
  assert.deepEqual(w(0), [0, 1], 'targets text[3] and text[4]: the row\'s weights in order');
  assert.deepEqual(w(1), [1, 1], 'a row without weights weighs 1');
});

test('ivr sft with scan_share: scans and re-grounded solutions train together, and a run is deterministic', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-scan-sft-'));
  try {
    const cfg = parseSftConfig({
      seed: 1, model: { vocab: 112, dim: 32, layers: 1, heads: 2, mlpRatio: 2, maxText: 160, imageSize: 48, patch: 8 },
      steps: 3, batch_size: 6, lr: 3e-3, warmup: 1, val_every: 1000, val_n: 3, checkpoint_every: 3, threads: 1,
      families: ['grid', 'shapes', 'chart'], max_horizon: { grid: 3, shapes: 3, chart: 3 }, reground_prob: 0.5, scan_share: 0.5,
    }, 'test');
    const a = await runSft(cfg, { out: path.join(tmp, 'a'), resume: false, quiet: true });
    const b = await runSft(cfg, { out: path.join(tmp, 'b'), resume: false, quiet: true });
    const rows = a.runDir.readMetrics();
    assert.equal(rows.length, 3);
    assert.ok(rows.every((r) => Number.isFinite(r.loss as number)));
    assert.deepEqual(rows.map((r) => r.loss), b.runDir.readMetrics().map((r) => r.loss));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
