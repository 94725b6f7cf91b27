// `ivr synth --format luffy`: the synth JSONL (trl layout) becomes a parquet file with verl's
// columns and LUFFY's `target` column, read back with hyparquet (an independent reader).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parquetReadObjects } from 'hyparquet';
import { LUFFY_COLUMNS, writeLuffyParquet } from '../../src/ivr/luffy.js';
import { encodePng, generateInstance, goldResponse, renderLarge } from '../../src/tasks/index.js';

test('luffy parquet: verl columns, target = [{role: assistant, content: demo}], images embedded', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-luffy-'));
  try {
    const inst = generateInstance('grid', 7, 4);
    const png = encodePng(renderLarge(inst));
    const img = path.join(dir, 'grid-7-4.png');
    fs.writeFileSync(img, png);
    const demo = goldResponse(inst);
    const rec = {
      messages: [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: inst.question }] }, { role: 'assistant', content: [{ type: 'text', text: demo }] }],
      images: [img], id: inst.id, family: 'grid', horizon: 4, source: 'rectified', rounds: 2, rewritten: false, rewritten_steps: 0, first_error: { step: 1, kind: 'visual' }, localizer: 'verifier', model: 'tiny', answer: inst.answer,
    };
    const jsonl = path.join(dir, 'demos.jsonl');
    fs.writeFileSync(jsonl, JSON.stringify(rec) + '\n' + JSON.stringify({ ...rec, source: 'rollout', rounds: 0 }) + '\n');
    const { file, rows } = writeLuffyParquet(jsonl);
    assert.equal(file, path.join(dir, 'demos.parquet'));
    assert.equal(rows, 2);
    const buf = fs.readFileSync(file);
    const data = await parquetReadObjects({ file: buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), utf8: false });
    assert.equal(data.length, 2);
    assert.deepEqual(Object.keys(data[0]!).sort(), [...LUFFY_COLUMNS].sort());
    assert.deepEqual(data[0]!.target, [{ content: demo, role: 'assistant' }]);
    assert.deepEqual(data[0]!.prompt, [{ content: '<image>' + inst.question, role: 'user' }]);
    assert.deepEqual(data[0]!.reward_model, { ground_truth: inst.answer, style: 'rule' });
    assert.equal(data[0]!.data_source, 'ivr-r1/grid');
    assert.deepEqual(Buffer.from(data[0]!.images[0].bytes), png);
    assert.equal(data[1]!.extra_info.source, 'rollout');
    assert.equal(Number(data[0]!.extra_info.rounds), 2);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
