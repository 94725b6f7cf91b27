// `--format trl`: read the JSONL back as TRL would see it and compare every column with the instances.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { exportTrl } from '../../src/tasks/export/index.js';
import { goldResponse, instructionPrompt, promptText, verifyResponse } from '../../src/tasks/index.js';
import { assertLargePng, sampleInstances, tempExportDir } from './export-helpers.js';

test('trl export round-trips: conversational prompt, completion, images, solution/answer', () => {
  const dir = tempExportDir('trl');
  try {
    const insts = sampleInstances();
    const res = exportTrl(insts, dir, 'mixed');
    assert.equal(res.file, join(dir, 'mixed.trl.jsonl'));
    assert.equal(res.count, insts.length);
    const lines = readFileSync(res.file, 'utf8').split('\n');
    assert.equal(lines.pop(), '', 'file ends with a newline');
    assert.equal(lines.length, insts.length);
    lines.forEach((line, i) => {
      const rec = JSON.parse(line);
      const inst = insts[i]!;
      assert.deepEqual(Object.keys(rec), ['prompt', 'completion', 'images', 'solution', 'answer', 'id', 'family', 'split', 'seed', 'horizon', 'question']);
      assert.deepEqual(rec.prompt, [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: instructionPrompt(inst) }] }]);
      assert.deepEqual(rec.completion, [{ role: 'assistant', content: [{ type: 'text', text: goldResponse(inst) }] }]);
      assert.ok(verifyResponse(inst, rec.completion[0].content[0].text).complete);
      assert.equal(rec.solution, inst.answer);
      assert.equal(rec.answer, inst.answer);
      assert.deepEqual([rec.id, rec.family, rec.split, rec.seed, rec.horizon, rec.question], [inst.id, inst.family, inst.split, inst.seed, inst.horizon, inst.question]);
      assert.equal(rec.images.length, 1);
      assert.equal(rec.images[0], `images/${inst.id}.large.png`, 'relative to the JSONL file');
      assertLargePng(readFileSync(join(dir, rec.images[0])), inst);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('trl export: --prompt question gives the bare question; bad ids and names are refused', () => {
  const dir = tempExportDir('trl-q');
  try {
    const [inst] = sampleInstances();
    const res = exportTrl([inst!], dir, 'q', { prompt: 'question' });
    const rec = JSON.parse(readFileSync(res.file, 'utf8'));
    assert.equal(rec.prompt[0].content[1].text, promptText(inst!));
    assert.throws(() => exportTrl([{ ...inst!, id: '../escape' }], dir, 'x'), /instance id "\.\.\/escape" cannot be used as a file name/);
    assert.throws(() => exportTrl([inst!, inst!], dir, 'x'), /duplicate instance id/);
    assert.throws(() => exportTrl([inst!], dir, 'a/b'), /dataset name "a\/b"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
