import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng, exportInstances, getSplit, loadInstances, renderLarge, renderSmall, TaskFileError, verifyResponse } from '../../src/tasks/index.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'ivr-tasks-'));
}

test('export then load round-trips instances and images', () => {
  const dir = tmp();
  try {
    const insts = [...getSplit('grid', 'test', 4), ...getSplit('shapes', 'ood', 3), ...getSplit('chart', 'val', 3)];
    const { file, count } = exportInstances(insts, dir, 'mixed');
    assert.equal(count, 10);
    assert.equal(file, join(dir, 'mixed.jsonl'));
    assert.ok(!readdirSync(dir).some((n) => n.includes('.tmp-')), 'no temporary files left behind');
    const back = loadInstances(file);
    assert.equal(back.length, insts.length);
    back.forEach((b, i) => {
      const { images, ...rest } = b;
      assert.deepEqual(rest, insts[i]);
      assert.deepEqual(decodePng(readFileSync(images!.small)), renderSmall(insts[i]!));
      assert.deepEqual(decodePng(readFileSync(images!.large)), renderLarge(insts[i]!));
    });
    const rec = JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!);
    for (const k of ['id', 'family', 'split', 'seed', 'horizon', 'question', 'scene', 'steps', 'answer', 'images', 'prompt', 'response']) assert.ok(k in rec, k);
    assert.equal(verifyResponse(back[0]!, rec.response).complete, true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function expectError(file: string, line: number, field: string | null, detail: RegExp) {
  assert.throws(() => loadInstances(file), (e: unknown) => {
    assert.ok(e instanceof TaskFileError, String(e));
    assert.equal(e.line, line, e.message);
    assert.equal(e.field, field, e.message);
    assert.match(e.message, detail);
    assert.ok(e.message.startsWith(`${file}:${line}:`), e.message);
    return true;
  });
}

test('loader errors name the line and the field', () => {
  const dir = tmp();
  try {
    const insts = getSplit('grid', 'test', 3);
    const { file } = exportInstances(insts, dir, 'g');
    const good = readFileSync(file, 'utf8').trimEnd().split('\n');
    const rec = () => JSON.parse(good[1]!);
    const write = (line2: string) => { writeFileSync(file, [good[0], line2, good[2]].join('\n') + '\n'); };
    const cases: Array<[string, string | null, RegExp]> = [
      ['{"id": "x", ', null, /invalid JSON/],
      ['[1,2]', '(line)', /expected a JSON object/],
      [JSON.stringify({ ...rec(), horizon: '3' }), 'horizon', /key "horizon": must be an integer >= 1, got "3"/],
      [JSON.stringify({ ...rec(), horizon: 2.5 }), 'horizon', /must be an integer >= 1, got 2\.5/],
      [JSON.stringify({ ...rec(), family: 'maze' }), 'family', /must be one of "grid", "shapes", "chart", got "maze"/],
      [JSON.stringify((({ question, ...r }) => r)(rec())), 'question', /missing/],
      [JSON.stringify({ ...rec(), question: 42 }), 'question', /must be a string, got 42/],
      [JSON.stringify({ ...rec(), question: 'go left' }), 'question', /expected "moves/],
      [JSON.stringify({ ...rec(), steps: 'R 00 o 00' }), 'steps', /must be an array \(items: a string\), got "R 00 o 00"/],
      [JSON.stringify({ ...rec(), steps: [1, ...rec().steps.slice(1)] }), 'steps[0]', /must be a string, got 1/],
      [JSON.stringify({ ...rec(), steps: ['R 99 o 99', ...rec().steps.slice(1)] }), 'steps[0]', /does not match the scene/],
      [JSON.stringify({ ...rec(), answer: '55' === rec().answer ? '44' : '55' }), 'answer', /does not match/],
      [JSON.stringify({ ...rec(), answer: null }), 'answer', /must be a string, got null/],
      [JSON.stringify({ ...rec(), scene: { ...rec().scene, rows: rec().scene.rows.slice(1) } }), 'scene.rows', /6 strings/],
      [JSON.stringify({ ...rec(), scene: { ...rec().scene, rows: ['......', '..x...', ...rec().scene.rows.slice(2)] } }), 'scene.rows[1]', /"\." \(open\) or "#"/],
      [JSON.stringify({ ...rec(), scene: { ...rec().scene, start: [0, 9] } }), 'scene.start', /integers in 0\.\.5/],
      [JSON.stringify({ ...rec(), split: 'dev' }), 'split', /one of "train", "val", "test", "ood", got "dev"/],
      [JSON.stringify({ ...rec(), images: 'a.png' }), 'images', /must be an object, got "a\.png"/],
      [JSON.stringify({ ...rec(), images: { ...rec().images, large: 7 } }), 'images.large', /must be a non-empty string, got 7/],
      [JSON.stringify({ ...rec(), images: { ...rec().images, small: 'images/nope.png' } }), 'images.small', /image file not found/],
      [JSON.stringify({ ...rec(), images: { ...rec().images, small: 'g.jsonl' } }), 'images.small', /not a PNG/],
      [JSON.stringify({ ...rec(), horizon: 400 }), 'horizon', /must be in 1\.\.\d+ for family "grid", got 400/],
      [JSON.stringify({ ...rec(), anwser: '3' }), 'anwser', /key "anwser": is unknown \(did you mean "answer"\?\)/],
      [good[0]!, 'id', /duplicate id .* \(first on line 1\)/],
    ];
    for (const [line, field, detail] of cases) {
      write(line);
      expectError(file, 2, field, detail);
    }
    // a removed image file is reported on its own line
    writeFileSync(file, good.join('\n') + '\n');
    unlinkSync(join(dir, rec().images.large));
    expectError(file, 2, 'images.large', /image file not found/);
    assert.equal(loadInstances(file, { checkImages: false }).length, 3);
    // blank lines are fine; a missing file is a clear error
    writeFileSync(file, '\n' + good[0] + '\n\n');
    assert.equal(loadInstances(file, { checkImages: false }).length, 1);
    assert.throws(() => loadInstances(join(dir, 'absent.jsonl')), /absent\.jsonl:0: cannot read file \(ENOENT\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loader validates shapes and chart scenes with field paths', () => {
  const dir = tmp();
  try {
    const s = getSplit('shapes', 'test', 1)[0]!, c = getSplit('chart', 'test', 1)[0]!;
    const { file } = exportInstances([s, c], dir, 'sc');
    const [ls, lc] = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    const put = (a: unknown, b: unknown) => writeFileSync(file, JSON.stringify(a) + '\n' + JSON.stringify(b) + '\n');
    put({ ...ls, scene: { ...ls.scene, objects: [{ row: 0, col: 0, colour: 'purple', shape: 'c' }] } }, lc);
    expectError(file, 1, 'scene.objects[0].colour', /expected one of r g b y/);
    put(ls, { ...lc, scene: { ...lc.scene, bars: [{ ...lc.scene.bars[0], value: 12 }, ...lc.scene.bars.slice(1)] } });
    expectError(file, 2, 'scene.bars[0].value', /1\.\.9/);
    const firstBar = (lc.question as string).slice('bars '.length, 'bars '.length + 1);
    put(ls, { ...lc, scene: { ...lc.scene, bars: lc.scene.bars.filter((b: { colour: string }) => b.colour !== firstBar) } });
    expectError(file, 2, 'question', /there is no \w+ bar/);
    put(ls, { ...lc, horizon: lc.horizon + 1 });
    expectError(file, 2, 'question', /needs \d+ steps but horizon is/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
