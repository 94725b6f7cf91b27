// Scan examples (src/sft/scan.ts): what the response claims is what the scene holds, the loss
// weights fall on the contents only, and the draw is seeded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '../../src/model/tokenizer.js';
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
    const [r, c, s] = [Number(it[0]), Number(it[1]), it[2]];
    const want = scene.start[0] === r && scene.start[1] === c ? 's' : scene.rows[r]![c] === '#' ? 'w' : 'o';
    assert.equal(s, want, it);
  }
  assert.equal(g.weights.length, tok.encode(g.response).length + 1, 'one weight per response token and one for <eos>');
  const text = [...g.response];
  assert.deepEqual(Array.from(g.weights.slice(0, -1)), text.map((_, i) => (i % 4 === 2 ? 1 : 0)), 'the status character of each "rcS" item');
  assert.deepEqual(scanExample(grid, tok, 3), g, 'same seed, same scan');
  assert.notEqual(scanExample(grid, tok, 4).response, g.response);

  const chart = getSplit('chart', 'train', 1)[0]!;
  const bars = (chart.scene as { bars: { colour: string; value: number }[] }).bars;
  const c = scanExample(chart, tok, 1);
  assert.deepEqual(c.response.split(' ').sort(), bars.map((b) => b.colour + b.value).sort(), 'every bar once');

  const shapes = getSplit('shapes', 'train', 1)[0]!;
  const objs = (shapes.scene as { objects: { row: number; col: number; colour: string; shape: string }[] }).objects;
  for (const it of scanExample(shapes, tok, 2).response.split(' ')) {
    const o = objs.find((x) => x.row === Number(it[0]) && x.col === Number(it[1]));
    assert.equal(it.slice(2), o ? o.colour + o.shape : '..', it);
  }
});
