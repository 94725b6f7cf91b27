// `--format verl`: read the parquet back with hyparquet (an independent reader from the
// writer's authors, also what verl's layout is checked against) and compare the nested
// columns, their parquet types, and the embedded PNGs with the instances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import { exportVerl, VERL_ABILITY, VERL_COLUMNS } from '../../src/tasks/export/index.js';
import { instructionPrompt } from '../../src/tasks/index.js';
import { assertLargePng, sampleInstances, tempExportDir } from './export-helpers.js';

test('verl export round-trips: geo3k-style columns with the PNG bytes embedded', async () => {
  const dir = tempExportDir('verl');
  try {
    const insts = sampleInstances();
    const res = exportVerl(insts, dir, 'mixed');
    assert.equal(res.count, insts.length);
    const buf = readFileSync(res.file);
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const meta = parquetMetadata(file);
    assert.equal(Number(meta.num_rows), insts.length);

    // Column layout: standard 3-level LISTs of structs and plain structs, as pyarrow writes them.
    const schema = parquetSchema(meta);
    assert.deepEqual(schema.children.map((c) => c.element.name), [...VERL_COLUMNS]);
    const col = (name: string) => schema.children.find((c) => c.element.name === name)!;
    for (const list of ['prompt', 'images']) {
      assert.equal(col(list).element.converted_type, 'LIST', list);
      assert.deepEqual(col(list).element.logical_type, { type: 'LIST' }, list);
      assert.equal(col(list).children[0]!.element.repetition_type, 'REPEATED');
    }
    assert.deepEqual(col('prompt').children[0]!.children[0]!.children.map((c) => c.element.name), ['content', 'role']);
    const img = col('images').children[0]!.children[0]!.children;
    assert.deepEqual(img.map((c) => [c.element.name, c.element.type, c.element.converted_type]), [['bytes', 'BYTE_ARRAY', undefined], ['path', 'BYTE_ARRAY', 'UTF8']]);
    assert.deepEqual(col('reward_model').children.map((c) => c.element.name), ['ground_truth', 'style']);

    // utf8: false, so binary columns come back as bytes and only UTF8-annotated ones as strings.
    const rows = await parquetReadObjects({ file, utf8: false });
    assert.equal(rows.length, insts.length);
    rows.forEach((row, i) => {
      const inst = insts[i]!;
      assert.equal(row.data_source, `ivr-r1/${inst.family}`);
      assert.deepEqual(row.prompt, [{ content: '<image>' + instructionPrompt(inst), role: 'user' }]);
      assert.equal(row.ability, VERL_ABILITY);
      assert.deepEqual(row.reward_model, { ground_truth: inst.answer, style: 'rule' });
      assert.deepEqual(row.extra_info, {
        split: inst.split, index: BigInt(i), id: inst.id, family: inst.family,
        seed: BigInt(inst.seed), horizon: BigInt(inst.horizon), question: inst.question, answer: inst.answer,
      });
      assert.equal(row.images.length, 1);
      assert.equal(row.images[0].path, `${inst.id}.png`);
      assert.ok(row.images[0].bytes instanceof Uint8Array);
      assertLargePng(row.images[0].bytes, inst);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('verl export of zero instances is a valid empty table', async () => {
  const dir = tempExportDir('verl-empty');
  try {
    const buf = readFileSync(exportVerl([], dir, 'empty').file);
    const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    assert.equal(Number(parquetMetadata(file).num_rows), 0);
    assert.deepEqual(await parquetReadObjects({ file }), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
