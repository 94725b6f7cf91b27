import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatResponse, getFamily, loadInstances } from '../../src/tasks/index.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const ivr = (...args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8' });

test('ivr tasks export writes JSONL + PNGs that load back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ivr-cli-'));
  try {
    const r = ivr('tasks', 'export', '--family', 'all', '--split', 'ood', '--n', '3', '--out', dir);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(readdirSync(dir).sort(), ['chart-ood.jsonl', 'grid-ood.jsonl', 'images', 'shapes-ood.jsonl']);
    assert.equal(readdirSync(join(dir, 'images')).length, 18);
    const insts = loadInstances(join(dir, 'grid-ood.jsonl'));
    assert.equal(insts.length, 3);
    assert.ok(insts.every((i) => i.split === 'ood' && i.horizon >= 12));
    const v = ivr('tasks', 'validate', '--file', join(dir, 'chart-ood.jsonl'));
    assert.equal(v.status, 0, v.stderr);
    assert.match(v.stdout, /3 valid instances/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ivr tasks export --format trl|verl|llamafactory writes each format into one directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ivr-cli-fmt-'));
  try {
    for (const format of ['trl', 'verl', 'llamafactory']) {
      const r = ivr('tasks', 'export', '--family', 'grid', '--split', 'test', '--n', '2', '--format', format, '--out', dir);
      assert.equal(r.status, 0, r.stderr);
    }
    assert.deepEqual(readdirSync(dir).sort(), ['dataset_info.json', 'grid-test.json', 'grid-test.parquet', 'grid-test.trl.jsonl', 'images']);
    assert.equal(readdirSync(join(dir, 'images')).length, 2, 'trl and llamafactory share the large PNGs');
    const bad = ivr('tasks', 'export', '--split', 'test', '--out', dir, '--format', 'csv');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /option '--format <format>' argument 'csv' is invalid\. Allowed choices are jsonl, trl, verl, llamafactory/);
    const badPrompt = ivr('tasks', 'export', '--split', 'test', '--out', dir, '--format', 'trl', '--prompt', 'long');
    assert.equal(badPrompt.status, 2);
    assert.match(badPrompt.stderr, /option '--prompt <style>' argument 'long' is invalid\. Allowed choices are instruction, question/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ivr tasks show prints the scene, question, gold response and answer', () => {
  const r = ivr('tasks', 'show', '--family', 'grid', '--seed', '42', '--horizon', '5');
  assert.equal(r.status, 0, r.stderr);
  const inst = getFamily('grid').generate(42, 5);
  assert.ok(r.stdout.includes(getFamily('grid').ascii(inst)));
  assert.ok(r.stdout.includes(formatResponse(inst.steps, inst.answer)));
  assert.ok(r.stdout.includes(`answer: ${inst.answer}`));
  assert.ok(r.stdout.includes(inst.question));
});

test('ivr tasks reports usage errors clearly', () => {
  const r = ivr('tasks', 'show', '--family', 'maze', '--seed', '1');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /option '--family <id>' argument 'maze' is invalid\. Allowed choices are grid, shapes, chart/);
  const r2 = ivr('tasks', 'export', '--family', 'grid', '--split', 'test', '--n', '2');
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /required option '--out <dir>' not specified/);
  const r3 = ivr('tasks', 'frobnicate');
  assert.equal(r3.status, 2);
  assert.match(r3.stderr, /unknown command 'frobnicate'/);
});

test('ivr tasks verify judges a response from stdin', () => {
  const inst = getFamily('chart').generate(9, 4);
  const ok = spawnSync(process.execPath, [MAIN, 'tasks', 'verify', '--family', 'chart', '--seed', '9', '--horizon', '4'], { encoding: 'utf8', input: formatResponse(inst.steps, inst.answer) });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /complete: every step verified/);
  const steps = inst.steps.slice();
  steps[1] = steps[1] + '!';
  const bad = spawnSync(process.execPath, [MAIN, 'tasks', 'verify', '--family', 'chart', '--seed', '9', '--horizon', '4'], { encoding: 'utf8', input: formatResponse(steps, inst.answer) });
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /first error: step 2 \(format\)/);
});
