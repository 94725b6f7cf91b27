// Bugs found by the fuzz targets (issue #27), one regression test each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { applyOverrides, parseOverride, readConfigFile } from '../../src/util/config-file.js';
import { ConfigError } from '../../src/util/schema.js';
import { Tokenizer, SPECIALS } from '../../src/model/tokenizer.js';
import { responseOf } from '../../src/serve-env/openrlhf.js';
import { OpenAIClient } from '../../src/client/client.js';
import { ApiError } from '../../src/wire/errors.js';
import { parseJudgeReply } from '../../src/client/judge.js';
import jpeg from 'jpeg-js';
import { decodeJpeg } from '../../src/tasks/render/jpeg.js';
import { threadCpuMs } from './harness.js';

/** CPU time of this thread in ms (wall time where it cannot be read): the machine that runs the
 *  suite may be busy with other work, which would inflate wall-clock bounds. */
const cpuNow = () => threadCpuMs() ?? performance.now();

test('--set __proto__.x=1 is refused and never reaches Object.prototype (config target)', () => {
  assert.throws(() => parseOverride('__proto__.polluted=1'), /__proto__/);
  assert.throws(() => parseOverride('a.__proto__=1'), /__proto__/);
  // A library caller that builds the override itself is refused too.
  assert.throws(() => applyOverrides({ a: 1 }, [{ key: '__proto__.polluted', value: 1, text: '__proto__.polluted=1' }]), /__proto__/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  // Ordinary overrides still work, including keys named like Object's own members.
  assert.deepEqual(applyOverrides({ a: 1 }, [parseOverride('constructor.x=2'), parseOverride('b.c=3')]), { a: 1, constructor: { x: 2 }, b: { c: 3 } });
});

test('a YAML config with an error far into a long file is refused quickly, with its line and column (config target)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-fuzz-reg-'));
  try {
    const file = path.join(dir, 'c.yaml');
    // 71 KB: the yaml package's pretty error took 2 s to build its excerpt of this.
    fs.writeFileSync(file, '"lr"x}' + '\r\n'.repeat(35_000) + 'x "');
    const t0 = performance.now();
    assert.throws(() => readConfigFile(file), /invalid YAML: Unexpected scalar at node end at line 1, column 5/);
    assert.ok(performance.now() - t0 < 500, `took ${performance.now() - t0} ms`);
    fs.writeFileSync(file, 'a: [1\nb: 2');
    assert.throws(() => readConfigFile(file), /invalid YAML: .* at line 2, column 1/);
    assert.throws(() => parseOverride('a=[1'), /not valid YAML\/JSON \(.* at line 1, column 3\)/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a tokenizer.json with an empty special token is refused instead of hanging encode (checkpoint-dir target)', () => {
  const j = { kind: 'ivr-char-v1', specials: [...SPECIALS, ''], chars: 'ab<' };
  assert.throws(() => Tokenizer.fromJson(j), /specials must be non-empty strings/);
  assert.throws(() => Tokenizer.fromJson({ ...j, specials: [...SPECIALS, 3] }), /specials must be non-empty strings/);
  assert.deepEqual(Tokenizer.fromJson({ ...j, specials: [...SPECIALS] }).encode('a<b'), [8, 10, 9]);
});

test('responseOf strips trailing whitespace and end tokens in linear time (serve-env /get_reward, step-parser target)', () => {
  // Quadratic before: 1 s at 40,000 spaces not at the end, minutes for a megabyte query.
  const q = '<|im_start|>assistant\nx' + ' '.repeat(1_000_000) + 'y';
  const t0 = performance.now();
  assert.equal(responseOf(q, undefined).length, 1_000_002);
  assert.ok(performance.now() - t0 < 500, `took ${performance.now() - t0} ms`);
  assert.equal(responseOf('<|im_start|>assistant\n<think>\na\n</think><answer>1</answer> \n<|im_end|>\n<|endoftext|><pad><pad>', undefined), '<think>\na\n</think><answer>1</answer>');
  assert.equal(responseOf('P<think>\nstep</s>  <eos>', 'P<think>\n'), '<think>\nstep');
  assert.equal(responseOf(' \n\t', undefined), '');
});

test('a 2xx reply whose message content is not a string, or whose usage is not numbers, is malformed (client-replies target)', async () => {
  const realFetch = globalThis.fetch;
  const reply = (body: unknown) => { globalThis.fetch = (async () => new Response(JSON.stringify(body), { status: 200 })) as typeof fetch; };
  const client = new OpenAIClient({ endpoints: ['http://127.0.0.1:9/v1'], maxRetries: 0 });
  const ask = () => client.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
  try {
    reply({ choices: [{ index: 0, message: { role: 'assistant', content: 4.5 } }] });
    await assert.rejects(ask(), (e: unknown) => e instanceof ApiError && /content is a number/.test(e.message));
    reply({ choices: [{ index: 0, message: null }] });
    await assert.rejects(ask(), (e: unknown) => e instanceof ApiError && /has no "message"/.test(e.message));
    reply({ choices: [], usage: { prompt_tokens: 3, completion_tokens: '' } });
    await assert.rejects(ask(), (e: unknown) => e instanceof ApiError && /usage.completion_tokens/.test(e.message));
    assert.equal(client.counters.completionTokens, 0);
    reply({ choices: [{ index: 0, message: { role: 'assistant', content: null } }], usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
    assert.equal((await ask()).choices.length, 1);
    assert.equal(client.counters.completionTokens, 2);
  } finally {
    globalThis.fetch = realFetch;
  }
});

test('parseJudgeReply unwraps a fenced reply in linear time (step-parser target)', () => {
  const t0 = performance.now();
  assert.deepEqual(parseJudgeReply('```json```😀' + '\r\n'.repeat(36_000) + '"visual"}:', 3), { error: 'the reply contains no JSON object' });
  assert.ok(performance.now() - t0 < 500, `took ${performance.now() - t0} ms`);
  const ok = { verdict: { first_error_step: 2, kind: 'visual', reason: 'r' } };
  const json = '{"first_error_step": 2, "kind": "visual", "reason": "r"}';
  assert.deepEqual(parseJudgeReply('```json\n' + json + '\n```', 3), ok);
  assert.deepEqual(parseJudgeReply('  ```JSON ' + json + '```  ', 3), ok);
  assert.deepEqual(parseJudgeReply('```\n' + json + '\n```', 3), ok);
  assert.deepEqual(parseJudgeReply(json, 3), ok);
});

test('a small JPEG whose frame header claims 16 M pixels is refused at once, not decoded for seconds (jpeg target)', () => {
  // The fuzzer's input: 1.7 KB declaring 6514x2499 (within the 2^24-pixel limit) took 1-2.7 s
  // in jpeg-js before it failed. Now: refused from the header, as no file that small holds it.
  const b = Buffer.from(jpeg.encode({ data: Buffer.alloc(16 * 16 * 4, 200), width: 16, height: 16 }, 50).data);
  const sof = b.indexOf(Buffer.from([0xff, 0xc0]));
  b.writeUInt16BE(2499, sof + 5);
  b.writeUInt16BE(6514, sof + 7);
  const t0 = performance.now();
  assert.throws(() => decodeJpeg(b), /JPEG: the frame header claims 6514x2499 pixels, more than \d+ bytes can encode/);
  assert.ok(performance.now() - t0 < 100, `refused in ${(performance.now() - t0).toFixed(0)} ms`);
  // Flat images compress far, and still decode: 2048x2048 of one colour.
  const big = { data: Buffer.alloc(2048 * 2048 * 4, 90), width: 2048, height: 2048 };
  const enc = jpeg.encode(big, 75).data;
  assert.ok(2048 * 2048 <= 1024 * enc.length, `a flat 2048x2048 JPEG is ${enc.length} bytes`);
  assert.equal(decodeJpeg(enc).width, 2048);
});

test('responseOf finds a long prompt inside the query in linear time (step-parser target)', () => {
  // The fuzzer's inputs (seeds 10 and 11): ~86 KB of backticks and newlines, where the prompt is
  // a long run that almost matches everywhere. query.lastIndexOf(prompt) compares naively, in
  // time (query - prompt) x prompt: 0.2 s at 54 KB, 2 s here.
  const prompt = '`'.repeat(40_000) + 'y';
  const q = '`'.repeat(200_000) + 'x';
  const t0 = cpuNow();
  assert.equal(responseOf(q, prompt), q);
  assert.equal(responseOf('a' + prompt + 'b' + prompt + 'c\n', prompt), 'c');
  assert.ok(cpuNow() - t0 < 500, `took ${(cpuNow() - t0).toFixed(0)} ms`);
  // The prompt is found where it starts the query, and otherwise at its last occurrence.
  assert.equal(responseOf('xPPyPP z <|im_end|>', 'PP'), 'z');
  assert.equal(responseOf('PPxPPyPP z', 'PP'), 'xPPyPP z');
  const long = 'ab'.repeat(40) + 'c';
  assert.equal(responseOf('ab'.repeat(100) + 'c1' + 'ab'.repeat(41) + 'c 2' + 'ab'.repeat(39) + 'c3', long), '2' + 'ab'.repeat(39) + 'c3');
  assert.equal(responseOf('abcabcabd r', 'abcabd'), 'r');
  assert.equal(responseOf('aaaaab', 'aab'), '');
  assert.equal(responseOf('<|im_start|>assistant\nok', 'not there'), 'ok');
});

test('a config nested deeper than 64 levels is refused before the yaml package recurses (config target)', () => {
  // The fuzzer's inputs (seed 7): runs of tens of thousands of "[" or "{" took 1-1.9 s. The yaml
  // package composes nodes recursively, catches its own stack overflow, and carries on with the
  // stack nearly full: a later parse then aborted the whole process (V8 "FATAL ERROR:
  // RegExpCompiler Allocation failed"). Now the nesting is counted as the text is parsed, and
  // the file is refused at the 65th level.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-fuzz-reg-'));
  try {
    const file = path.join(dir, 'c.yaml');
    const t0 = cpuNow();
    for (const deep of ['lr: ' + '['.repeat(40_000), '{'.repeat(40_000), '- '.repeat(5_000) + 'x', '? '.repeat(5_000) + 'x', 'a: [' + '{b: '.repeat(3_000)]) {
      fs.writeFileSync(file, deep);
      assert.throws(() => readConfigFile(file), (e: unknown) => e instanceof ConfigError && /invalid YAML: nested more than 64 levels deep at line 1, column \d+/.test(e.message));
    }
    assert.throws(() => parseOverride('lr=' + '['.repeat(10_000)), /The value of lr is not valid YAML\/JSON \(nested more than 64 levels deep at line 1, column 65\)/);
    assert.ok(cpuNow() - t0 < 500, `took ${(cpuNow() - t0).toFixed(0)} ms`);
    // 64 levels parse as before; so do the usual errors and multiple documents.
    const ok = 'a: ' + '['.repeat(62) + '1' + ']'.repeat(62);
    fs.writeFileSync(file, ok);
    assert.deepEqual(readConfigFile(file), { a: JSON.parse('['.repeat(62) + '1' + ']'.repeat(62)) });
    fs.writeFileSync(file, 'a:\n  b:\n    - c: [1, {d: 2}]\n');
    assert.deepEqual(readConfigFile(file), { a: { b: [{ c: [1, { d: 2 }] }] } });
    // JSON configs too: JSON.parse takes any depth, but copying the value for --set overflowed the stack (RangeError).
    const json = path.join(dir, 'c.json');
    fs.writeFileSync(json, '{"a": "[[{{\\"[[", "b": ' + '['.repeat(10_000) + ']'.repeat(10_000) + '}');
    assert.throws(() => readConfigFile(json), (e: unknown) => e instanceof ConfigError && /invalid JSON: nested more than 64 levels deep \(line 1, column 87\)/.test(e.message));
    fs.writeFileSync(json, '{"a": "[[{{\\"[[", "b": ' + '['.repeat(63) + ']'.repeat(63) + '}');
    assert.equal((readConfigFile(json) as { a: string }).a, '[[{{"[[');
    fs.writeFileSync(file, 'a: 1\n---\nb: 2\n');
    assert.throws(() => readConfigFile(file), /invalid YAML: Source contains multiple documents/);
    fs.writeFileSync(file, 'a: [1\nb: 2');
    assert.throws(() => readConfigFile(file), /invalid YAML: .* at line 2, column 1/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a YAML config with tens of thousands of distinct keys parses in linear time (config target)', () => {
  // The yaml package compared each key with every earlier key of its mapping: 1.9 s of CPU for
  // 100 KB of distinct keys, 6 s at 200 KB (found by timing the config path on large inputs).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-fuzz-reg-'));
  try {
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(file, Array.from({ length: 20_000 }, (_, i) => `k${i}: ${i}`).join('\n'));
    const t0 = cpuNow();
    assert.equal(Object.keys(readConfigFile(file) as object).length, 20_000);
    assert.ok(cpuNow() - t0 < 500, `took ${(cpuNow() - t0).toFixed(0)} ms`);
    // Repeated keys are still refused, at the repeat, as the yaml package did.
    fs.writeFileSync(file, 'a: 1\nb:\n  c: 1\n  d: [1, {e: 1, e: 2}]\na: 2\n');
    assert.throws(() => readConfigFile(file), /invalid YAML: Map keys must be unique at line 4, column 17/);
    fs.writeFileSync(file, '1: x\n1.0: y\n');
    assert.throws(() => readConfigFile(file), /invalid YAML: Map keys must be unique at line 2, column 1/);
    fs.writeFileSync(file, '"1": x\n1: y\nl: [a: 1, a: 2]\n');
    assert.deepEqual(readConfigFile(file), { 1: 'y', l: [{ a: 1 }, { a: 2 }] });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a YAML text with an error at every character is refused in linear time and without a stack trace per error (config target)', () => {
  // The fuzzer's input (seed 8, #7382): an alias followed by 37,000 "{" and tabs took 0.38 s of
  // CPU, 8 us per "{": the yaml package made an Error per token and captured a stack trace for
  // each. 100,000 of them took 0.8 s (0.2 s now).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-fuzz-reg-'));
  try {
    const file = path.join(dir, 'c.yaml');
    for (const [text, message] of [
      ['*a' + '{'.repeat(100_000), /invalid YAML: Unexpected flow-map-start at node end at line 1, column 3/],
      ['lr: ' + '&a '.repeat(60_000), /invalid YAML: A node can have at most one anchor at line 1, column 8/],
    ] as const) {
      fs.writeFileSync(file, text);
      const t0 = cpuNow();
      assert.throws(() => readConfigFile(file), message);
      assert.ok(cpuNow() - t0 < 400, `took ${(cpuNow() - t0).toFixed(0)} ms`);
    }
    // Errors still carry their stack outside the parse.
    assert.ok((new Error('x').stack ?? '').split('\n').length > 1);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
