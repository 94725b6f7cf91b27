// `--format llamafactory`: read the ShareGPT file and dataset_info.json back, check them against
// the instances, and check that registering merges with (never clobbers) an existing registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportLlamaFactory, registerDataset, sharegptEntry } from '../../src/tasks/export/index.js';
import { goldResponse, instructionPrompt } from '../../src/tasks/index.js';
import { assertLargePng, sampleInstances, tempExportDir } from './export-helpers.js';

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

test('llamafactory export round-trips: sharegpt messages + images, registered in dataset_info.json', () => {
  const dir = tempExportDir('lf');
  try {
    writeFileSync(join(dir, 'dataset_info.json'), JSON.stringify({ mine: { file_name: 'mine.json' } }));
    const insts = sampleInstances();
    const res = exportLlamaFactory(insts, dir, 'mixed');
    assert.equal(res.file, join(dir, 'mixed.json'));
    const recs = readJson(res.file);
    assert.ok(Array.isArray(recs));
    assert.equal(recs.length, insts.length);
    recs.forEach((rec: any, i: number) => {
      const inst = insts[i]!;
      assert.deepEqual(rec.messages, [
        { role: 'user', content: '<image>' + instructionPrompt(inst) },
        { role: 'assistant', content: goldResponse(inst) },
      ]);
      // LLaMA-Factory requires as many <image> tokens as images.
      assert.equal(rec.messages[0].content.split('<image>').length - 1, rec.images.length);
      assert.deepEqual(rec.images, [`images/${inst.id}.large.png`]);
      assert.equal(rec.id, inst.id);
      assert.equal(rec.answer, inst.answer);
      assertLargePng(readFileSync(join(dir, rec.images[0])), inst);
    });
    const info = readJson(join(dir, 'dataset_info.json'));
    assert.deepEqual(Object.keys(info), ['mine', 'mixed'], 'the existing entry is kept');
    assert.deepEqual(info.mine, { file_name: 'mine.json' });
    assert.deepEqual(info.mixed, {
      file_name: 'mixed.json', formatting: 'sharegpt', columns: { messages: 'messages', images: 'images' },
      tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant' },
    });
    // Re-exporting replaces the entry in place and leaves no temporary files behind.
    exportLlamaFactory(insts.slice(0, 2), dir, 'mixed');
    assert.deepEqual(Object.keys(readJson(join(dir, 'dataset_info.json'))), ['mine', 'mixed']);
    assert.equal(readJson(res.file).length, 2);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('registerDataset refuses to overwrite a dataset_info.json it cannot read as an object', () => {
  const dir = tempExportDir('lf-bad');
  try {
    const file = join(dir, 'dataset_info.json');
    writeFileSync(file, '{"mine": ');
    assert.throws(() => registerDataset(dir, 'x', sharegptEntry('x.json')), /dataset registry .*dataset_info\.json is not valid JSON/);
    writeFileSync(file, '[1, 2]');
    assert.throws(() => registerDataset(dir, 'x', sharegptEntry('x.json')), /must hold a JSON object of dataset entries; not overwriting it/);
    assert.equal(readFileSync(file, 'utf8'), '[1, 2]');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
