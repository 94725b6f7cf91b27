// The OpenAI-compatible client (retries, backoff, timeouts, spreading over endpoints) and
// the judge (structured output validation, retry on malformed replies, error reporting),
// against small real node:http servers standing in for remote services.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { OpenAIClient, normalizeEndpoint } from '../../src/client/client.js';
import { ApiError } from '../../src/wire/errors.js';
import { JudgeError, RemoteJudge, parseJudgeReply } from '../../src/client/judge.js';
import { fromInstance } from '../../src/client/task.js';
import { generateInstance } from '../../src/tasks/index.js';
import { completion, listen, readJson, tempDir, type Running } from '../helpers/remote-fixture.js';

const open: Running[] = [];
after(async () => { await Promise.all(open.map((s) => s.close())); });
async function serve(handler: Parameters<typeof listen>[0]): Promise<Running> {
  const s = await listen(handler);
  open.push(s);
  return s;
}
const fast = { retryBaseMs: 5, retryMaxMs: 40 };
const body = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('OpenAIClient', () => {
  test('normalizes endpoints', () => {
    assert.equal(normalizeEndpoint('http://127.0.0.1:8000'), 'http://127.0.0.1:8000/v1');
    assert.equal(normalizeEndpoint('http://127.0.0.1:8000/v1/'), 'http://127.0.0.1:8000/v1');
    assert.equal(normalizeEndpoint('https://h/api/openai/v1'), 'https://h/api/openai/v1');
    assert.throws(() => normalizeEndpoint('ftp://x'), /http/);
    assert.throws(() => normalizeEndpoint('not a url'), /not a URL/);
  });

  test('retries 500, 503 and 429 with backoff, then succeeds', async () => {
    let n = 0;
    const s = await serve((_req, res) => {
      n++;
      const status = [500, 503, 429][n - 1];
      if (status) { res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '0' }); res.end(JSON.stringify({ error: { message: `fail ${n}` } })); return; }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(completion('ok'));
    });
    const retries: string[] = [];
    const c = new OpenAIClient({ endpoints: [s.url], ...fast, onRetry: (i) => retries.push(i.error) });
    const r = await c.chat(body);
    assert.equal(r.choices[0]!.message.content, 'ok');
    assert.equal(c.counters.retries, 3);
    assert.match(retries.join('|'), /HTTP 500: fail 1\|HTTP 503: fail 2\|HTTP 429: fail 3/);
  });

  test('retries dropped connections, timeouts and malformed 200 bodies', async () => {
    let n = 0;
    const s = await serve((req, res) => {
      n++;
      if (n === 1) { req.socket.destroy(); return; }
      if (n === 2) return; // never answers: the client's timeout fires
      if (n === 3) { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"choices": [tr'); return; }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(completion('fine'));
    });
    const c = new OpenAIClient({ endpoints: [s.url], ...fast, timeoutMs: 300 });
    const r = await c.chat(body);
    assert.equal(r.choices[0]!.message.content, 'fine');
    assert.equal(c.counters.retries, 3);
  });

  test('a 4xx other than 408/409/429 fails at once with the server\'s message', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'temperature: must be between 0 and 2', type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' } }));
    });
    const c = new OpenAIClient({ endpoints: [s.url], ...fast });
    await assert.rejects(c.chat(body), (e: unknown) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 400);
      assert.equal(e.param, 'temperature');
      assert.match(e.message, /must be between 0 and 2/);
      return true;
    });
    assert.equal(c.counters.attempts, 1);
  });

  test('gives up after maxRetries with the last error', async () => {
    const s = await serve((_req, res) => { res.writeHead(502); res.end('bad gateway'); });
    const c = new OpenAIClient({ endpoints: [s.url], ...fast, maxRetries: 2 });
    await assert.rejects(c.chat(body), /failed after 3 attempts: HTTP 502: bad gateway/);
    const down = new OpenAIClient({ endpoints: ['http://127.0.0.1:1/v1'], ...fast, maxRetries: 1 });
    await assert.rejects(down.chat(body), (e: unknown) => { assert.ok(e instanceof ApiError); assert.equal(e.status, 0); assert.equal(e.code, 'connection_error'); return true; });
  });

  test('spreads concurrent requests over endpoints and routes around a dead one', async () => {
    const slow = () => serve((_req, res) => setTimeout(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(completion('x')); }, 40));
    const a = await slow();
    const b = await slow();
    const c = new OpenAIClient({ endpoints: [a.url, b.url], ...fast });
    await Promise.all(Array.from({ length: 10 }, () => c.chat(body)));
    assert.equal(a.count() + b.count(), 10);
    assert.ok(a.count() >= 4 && b.count() >= 4, `unbalanced: ${a.count()} / ${b.count()}`);

    const withDead = new OpenAIClient({ endpoints: ['http://127.0.0.1:1/v1', a.url], ...fast });
    const before = a.count();
    await Promise.all(Array.from({ length: 6 }, () => withDead.chat(body)));
    assert.equal(a.count() - before, 6);
    assert.ok(withDead.endpoints[0]!.failures >= 1 && withDead.endpoints[0]!.failures <= 6);
  });
});

describe('RemoteJudge', () => {
  const inst = generateInstance('grid', 31, 3);
  const task = fromInstance(inst, tempDir('judge'));

  test('parseJudgeReply validates the structured output', () => {
    assert.deepEqual(parseJudgeReply('{"first_error_step": 2, "kind": "visual", "reason": "no wall"}', 3), { verdict: { first_error_step: 2, kind: 'visual', reason: 'no wall' } });
    assert.deepEqual(parseJudgeReply('```json\n{"first_error_step": null, "kind": null, "reason": "ok"}\n```', 3), { verdict: { first_error_step: null, kind: null, reason: 'ok' } });
    assert.deepEqual(parseJudgeReply('Sure! {"first_error_step": 4, "kind": "logical", "reason": "answer"} hope it helps', 3), { verdict: { first_error_step: 4, kind: 'logical', reason: 'answer' } });
    const bad: [string, RegExp][] = [
      ['step 2 is wrong', /no JSON object/],
      ['{"first_error_step": 5, "kind": "visual", "reason": ""}', /from 1 to 4/],
      ['{"first_error_step": 0, "kind": "visual", "reason": ""}', /from 1 to 4/],
      ['{"first_error_step": 1.5, "kind": "visual", "reason": ""}', /integer/],
      ['{"first_error_step": 1, "kind": "spatial", "reason": ""}', /"kind" must be/],
      ['{"first_error_step": 1, "kind": null, "reason": ""}', /null exactly when/],
      ['{"first_error_step": null, "kind": "visual", "reason": ""}', /null exactly when/],
      ['{"first_error_step": 1, "kind": "visual"}', /missing key "reason"/],
      ['{"first_error_step": 1, "kind": "visual", "reason": "", "confidence": 1}', /unexpected key/],
      ['{"first_error_step": 1, "kind": "visual", "reason": 3}', /"reason" must be a string/],
      ['{"first_error_step": 1, "kind": "visual", "reason": "x",}', /not valid JSON/],
    ];
    for (const [text, why] of bad) {
      const r = parseJudgeReply(text, 3);
      assert.ok('error' in r, text);
      assert.match((r as { error: string }).error, why, text);
    }
  });

  test('asks with the image and a JSON schema, retries a malformed reply, returns the verdict', async () => {
    const seen: Record<string, any>[] = [];
    const s = await serve(async (req, res) => {
      const b = await readJson(req);
      seen.push(b);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(completion(seen.length === 1 ? 'Step 2 looks off to me.' : '```json\n{"first_error_step": 2, "kind": "visual", "reason": "the target cell is a wall"}\n```'));
    });
    const judge = new RemoteJudge(new OpenAIClient({ endpoints: [s.url], ...fast }), { model: 'judge' });
    const v = await judge.firstError(task, inst.steps, inst.answer);
    assert.deepEqual(v, { first_error_step: 2, kind: 'visual', reason: 'the target cell is a wall' });
    assert.equal(seen.length, 2);
    const first = seen[0]!;
    assert.equal(first.response_format.type, 'json_schema');
    const parts = first.messages[0].content;
    assert.match(parts[0].image_url.url, /^data:image\/png;base64,/);
    assert.equal(Buffer.from(parts[0].image_url.url.split(',')[1], 'base64').readUInt32BE(16), 384, 'the large image by default');
    assert.match(parts[1].text, /1\. R|1\. [UDLR]/);
    assert.match(seen[1]!.messages.at(-1).content, /invalid: the reply contains no JSON object/);
    assert.equal(judge.counters.malformed, 1);
  });

  test('falls back to prompt-only JSON when the server refuses response_format', async () => {
    const seen: Record<string, any>[] = [];
    const s = await serve(async (req, res) => {
      const b = await readJson(req);
      seen.push(b);
      if (b.response_format) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'response_format: not supported', type: 'invalid_request_error', param: 'response_format', code: 'unsupported_value' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(completion('{"first_error_step": null, "kind": null, "reason": "all steps hold"}'));
    });
    const judge = new RemoteJudge(new OpenAIClient({ endpoints: [s.url], ...fast }), { model: 'judge' });
    assert.equal((await judge.firstError(task, inst.steps, inst.answer)).first_error_step, null);
    assert.equal((await judge.firstError(task, inst.steps, inst.answer)).first_error_step, null);
    assert.equal(seen.length, 3, 'response_format is dropped once and for all');
  });

  test('a judge that never produces a valid verdict is reported as an error', async () => {
    const s = await serve(async (req, res) => {
      await readJson(req);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(completion('{"first_error_step": 9, "kind": "visual", "reason": "?"}'));
    });
    const judge = new RemoteJudge(new OpenAIClient({ endpoints: [s.url], ...fast }), { model: 'judge', maxAttempts: 3 });
    await assert.rejects(judge.firstError(task, inst.steps, inst.answer), (e: unknown) => {
      assert.ok(e instanceof JudgeError);
      assert.match(e.message, /no valid verdict after 3 attempts .*first_error_step.*from 1 to 4/);
      return true;
    });
    assert.equal(s.count(), 3);
  });

  test('task images are rendered for instances without files', () => {
    assert.equal(task.images.length, 2);
    assert.deepEqual(task.images.map((i) => i.width).sort((a, b) => a - b), [48, 384]);
    assert.ok(task.images.every((i) => path.isAbsolute(i.path)));
  });
});
