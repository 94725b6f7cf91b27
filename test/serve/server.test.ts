// The OpenAI-compatible server, end to end on loopback with the official `openai` client
// (and raw fetch for malformed requests): shapes, n, streaming, images, logprobs, seeds,
// stop strings, invalid requests, API keys, batching of concurrent requests, queue limits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import OpenAI from 'openai';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import { createChatServer, type ChatServer } from '../../src/serve/server.js';
import { generateInstance } from '../../src/tasks/index.js';
import { exportTasks, pngDataUrl, tempDir, untrainedCheckpoint } from '../helpers/remote-fixture.js';

const MODEL = 'tiny';
let server: ChatServer;
let client: OpenAI;
let small: string; // data URL of a 48x48 task PNG
let large: string; // data URL of a 384x384 task PNG
let other: string; // another 48x48 task PNG

type Msg = OpenAI.Chat.Completions.ChatCompletionMessageParam;
const userTurn = (text = 'moves RRDL', url = small): Msg => ({ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text }] });

async function raw(body: unknown, opts: { path?: string; headers?: Record<string, string>; method?: string; rawBody?: string } = {}) {
  const res = await fetch(server.url.replace(/\/v1$/, '') + (opts.path ?? '/v1/chat/completions'), {
    method: opts.method ?? 'POST',
    headers: { 'content-type': 'application/json', ...opts.headers },
    ...(opts.method === 'GET' ? {} : { body: opts.rawBody ?? JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* SSE or empty */ }
  return { status: res.status, headers: res.headers, text, json };
}

before(async () => {
  const ckpt = untrainedCheckpoint();
  const dir = tempDir('srv');
  const file = exportTasks(dir, [generateInstance('grid', 7, 4), generateInstance('grid', 8, 4)]);
  other = pngDataUrl(path.join(path.dirname(file), 'images', 'grid-8-4.small.png'));
  small = pngDataUrl(path.join(path.dirname(file), 'images', 'grid-7-4.small.png'));
  large = pngDataUrl(path.join(path.dirname(file), 'images', 'grid-7-4.large.png'));
  server = createChatServer({ policy: loadPolicy(ckpt, 1).policy, modelName: MODEL, maxBodyBytes: 256 * 1024, batchWindowMs: 15 });
  await server.listen(0);
  client = new OpenAI({ baseURL: server.url, apiKey: 'unused', maxRetries: 0, timeout: 60_000 });
});

after(async () => { await server.close(); });

describe('openai client', () => {
  test('GET /v1/models lists the model with its input format', async () => {
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    assert.deepEqual(ids, [MODEL]);
    const card = models.data[0] as unknown as { ivr: { image_size: number; prompt_format: string } };
    assert.equal(card.ivr.image_size, 48);
    assert.equal(card.ivr.prompt_format, 'question');
    const one = await client.models.retrieve(MODEL);
    assert.equal(one.id, MODEL);
  });

  test('plain completion with an image: OpenAI response shape and usage', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: [userTurn()], max_tokens: 12, seed: 3 });
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, MODEL);
    assert.equal(typeof r.created, 'number');
    assert.equal(r.choices.length, 1);
    const c = r.choices[0]!;
    assert.equal(c.index, 0);
    assert.equal(c.message.role, 'assistant');
    assert.equal(typeof c.message.content, 'string');
    assert.ok(c.finish_reason === 'stop' || c.finish_reason === 'length');
    assert.equal(c.logprobs, null);
    assert.ok(r.usage!.completion_tokens >= 1 && r.usage!.completion_tokens <= 12);
    // 36 image patches + <bos> + "moves RRDL\n"
    assert.equal(r.usage!.prompt_tokens, 36 + 1 + 11);
    assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  test('n > 1 gives n choices with their own seeds', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: [userTurn()], max_tokens: 10, n: 3, seed: 5 });
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
    assert.ok(new Set(r.choices.map((c) => c.message.content)).size > 1, 'choices should differ');
    // Choice i uses seed + i, so a single request with seed 6 reproduces choice 1.
    const one = await client.chat.completions.create({ model: MODEL, messages: [userTurn()], max_tokens: 10, seed: 6 });
    assert.equal(one.choices[0]!.message.content, r.choices[1]!.message.content);
  });

  test('seed reproducibility', async () => {
    const req = { model: MODEL, messages: [userTurn()], max_tokens: 16, seed: 42, temperature: 1 };
    const a = await client.chat.completions.create(req);
    const b = await client.chat.completions.create(req);
    const c = await client.chat.completions.create({ ...req, seed: 43 });
    assert.equal(a.choices[0]!.message.content, b.choices[0]!.message.content);
    assert.notEqual(a.choices[0]!.message.content, c.choices[0]!.message.content);
  });

  test('streaming: chunks concatenate to the non-streamed content; usage chunk; [DONE]', async () => {
    const req = { model: MODEL, messages: [userTurn()], max_tokens: 16, seed: 9 };
    const full = await client.chat.completions.create(req);
    const stream = await client.chat.completions.create({ ...req, stream: true, stream_options: { include_usage: true } });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined = null;
    let chunks = 0;
    for await (const ch of stream) {
      chunks++;
      assert.equal(ch.object, 'chat.completion.chunk');
      for (const c of ch.choices) {
        text += c.delta.content ?? '';
        if (c.finish_reason) finish = c.finish_reason;
      }
      if (ch.usage) usage = ch.usage;
    }
    assert.ok(chunks >= 3);
    assert.equal(text, full.choices[0]!.message.content);
    assert.equal(finish, full.choices[0]!.finish_reason);
    assert.deepEqual(usage, full.usage);
    // The wire format: "data: {...}\n\n" events ending with "data: [DONE]".
    const r = await raw({ ...req, stream: true });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /text\/event-stream/);
    const events = r.text.split('\n\n').filter(Boolean);
    assert.ok(events.every((e) => e.startsWith('data: ')));
    assert.equal(events.at(-1), 'data: [DONE]');
    const rawText = events.slice(0, -1).map((e) => JSON.parse(e.slice(6))).flatMap((j) => j.choices.map((c: any) => c.delta.content ?? '')).join('');
    assert.equal(rawText, text);
  });

  test('streaming with n = 2 and logprobs: per-choice deltas match the non-streamed choices', async () => {
    const req = { model: MODEL, messages: [userTurn()], max_tokens: 12, seed: 21, n: 2, logprobs: true, top_logprobs: 2 };
    const full = await client.chat.completions.create(req);
    const stream = await client.chat.completions.create({ ...req, stream: true });
    const texts = ['', ''];
    const tokens: string[][] = [[], []];
    for await (const ch of stream) {
      for (const c of ch.choices) {
        texts[c.index] += c.delta.content ?? '';
        for (const e of c.logprobs?.content ?? []) { tokens[c.index]!.push(e.token); assert.equal(e.top_logprobs.length, 2); }
      }
    }
    assert.deepEqual(texts, full.choices.map((c) => c.message.content));
    assert.deepEqual(tokens.map((t) => t.join('')), texts);
    assert.deepEqual(tokens[0], full.choices[0]!.logprobs!.content!.map((e) => e.token));
  });

  test('logprobs and top_logprobs: OpenAI shape, aligned with the content', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: [userTurn()], max_tokens: 10, seed: 1, logprobs: true, top_logprobs: 3 });
    const c = r.choices[0]!;
    const entries = c.logprobs!.content!;
    assert.equal(entries.map((e) => e.token).join(''), c.message.content);
    for (const e of entries) {
      assert.ok(e.logprob <= 0);
      assert.deepEqual(e.bytes, [...Buffer.from(e.token, 'utf8')]);
      assert.equal(e.top_logprobs.length, 3);
      const lps = e.top_logprobs.map((t) => t.logprob);
      assert.deepEqual(lps, [...lps].sort((a, b) => b - a));
      assert.ok(e.logprob <= lps[0]! + 1e-6);
    }
    const plain = await client.chat.completions.create({ model: MODEL, messages: [userTurn()], max_tokens: 10, seed: 1, logprobs: true });
    assert.ok(plain.choices[0]!.logprobs!.content!.every((e) => e.top_logprobs.length === 0));
    assert.equal(plain.choices[0]!.message.content, c.message.content, 'logprobs do not change sampling');
  });

  test('stop strings cut the content before the match (streamed or not)', async () => {
    const base = { model: MODEL, messages: [userTurn()], max_tokens: 24, temperature: 0 };
    const full = (await client.chat.completions.create(base)).choices[0]!.message.content!;
    assert.ok(full.length >= 6, `greedy text too short: ${JSON.stringify(full)}`);
    // A 2-character stop string whose first occurrence is not at the start.
    let stop = full.slice(0, 2);
    for (let i = 2; i + 2 <= full.length; i++) if (full.indexOf(full.slice(i, i + 2)) === i) { stop = full.slice(i, i + 2); break; }
    const want = full.slice(0, full.indexOf(stop));
    const r = await client.chat.completions.create({ ...base, stop: [stop, '\u0001never'] });
    assert.equal(r.choices[0]!.message.content, want);
    assert.equal(r.choices[0]!.finish_reason, 'stop');
    const s = await client.chat.completions.create({ ...base, stop, stream: true });
    let text = '';
    for await (const ch of s) text += ch.choices[0]?.delta.content ?? '';
    assert.equal(text, want);
  });

  test('continuing an assistant prefix, and re-grounding with the image again', async () => {
    const prefix: Msg = { role: 'assistant', content: '<think>\n' };
    const a = await client.chat.completions.create({ model: MODEL, messages: [userTurn(), prefix], max_tokens: 8, seed: 2 });
    assert.equal(typeof a.choices[0]!.message.content, 'string');
    const b = await client.chat.completions.create({ model: MODEL, messages: [userTurn(), prefix, { role: 'user', content: [{ type: 'image_url', image_url: { url: small } }, { type: 'text', text: 'look again' }] }], max_tokens: 8, seed: 2 });
    assert.equal(b.usage!.prompt_tokens, 2 * 36 + 1 + 11 + 2, 'the image counts twice');
    await assert.rejects(
      client.chat.completions.create({ model: MODEL, messages: [userTurn(), prefix, { role: 'user', content: [{ type: 'image_url', image_url: { url: other } }] }], max_tokens: 4 }),
      (e: unknown) => { assert.ok(e instanceof OpenAI.BadRequestError); assert.match(e.message, /same image/); return true; },
    );
  });

  test('the client surfaces 4xx errors with the param named', async () => {
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [userTurn()], temperature: 5 }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.status, 400);
      assert.equal(e.param, 'temperature');
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model: 'gpt-4o', messages: [userTurn()] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.equal(e.code, 'model_not_found');
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model: MODEL, messages: [userTurn('q', 'data:image/gif;base64,R0lGODlh')] }), (e: unknown) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.code, 'unsupported_value');
      assert.match(e.message, /PNG or JPEG/);
      return true;
    });
  });

  test('a 384x384 PNG is resized to the model input, not refused', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: [userTurn('q', large)], max_tokens: 4, seed: 1 });
    assert.equal(r.choices.length, 1);
    assert.equal(r.usage!.prompt_tokens, 36 + 1 + 2, 'still 36 image patches');
  });

  test('8 concurrent requests all succeed and share decode batches', async () => {
    const before = server.scheduler.metrics.batches;
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) =>
      client.chat.completions.create({ model: MODEL, messages: [userTurn()], max_tokens: 8, seed: 100 + i }).withResponse()));
    const rows = results.map((r) => Number(r.response.headers.get('x-ivr-batch-rows')));
    assert.ok(results.every((r) => r.data.choices.length === 1));
    assert.ok(Math.max(...rows) > 1, `no batch had more than one row: ${rows}`);
    assert.ok(server.scheduler.metrics.batches - before < 8, 'fewer batches than requests');
    // Batching does not change what a seeded request gets.
    const alone = await client.chat.completions.create({ model: MODEL, messages: [userTurn()], max_tokens: 8, seed: 103 });
    assert.equal(alone.choices[0]!.message.content, results[3]!.data.choices[0]!.message.content);
    const m = await raw(null, { path: '/metrics', method: 'GET' });
    assert.ok(m.json.scheduler.maxBatchRows > 1);
  });
});

describe('invalid requests (raw HTTP): 4xx with an OpenAI error body naming the problem', () => {
  const ok = () => ({ model: MODEL, messages: [userTurn()], max_tokens: 4 });
  const cases: [string, () => Promise<Awaited<ReturnType<typeof raw>>>, number, RegExp, string | null][] = [
    ['bad JSON', () => raw(null, { rawBody: '{"model": "tiny", "messages": [' }), 400, /parse the JSON body/, null],
    ['body not an object', () => raw([1, 2]), 400, /JSON object/, null],
    ['missing messages', () => raw({ model: MODEL }), 400, /messages/, 'messages'],
    ['empty messages', () => raw({ model: MODEL, messages: [] }), 400, /must be an array of at least 1/, 'messages'],
    ['missing model', () => raw({ messages: [userTurn()] }), 400, /model/, 'model'],
    ['max_tokens of the wrong type', () => raw({ ...ok(), max_tokens: 'ten' }), 400, /max_tokens.*integer/, 'max_tokens'],
    ['n = 0', () => raw({ ...ok(), n: 0 }), 400, /n: must be an integer in \[1, \d+\]/, 'n'],
    ['top_p > 1', () => raw({ ...ok(), top_p: 1.5 }), 400, /top_p/, 'top_p'],
    ['top_logprobs without logprobs', () => raw({ ...ok(), top_logprobs: 2 }), 400, /requires logprobs/, 'top_logprobs'],
    ['5 stop strings', () => raw({ ...ok(), stop: ['a', 'b', 'c', 'd', 'e'] }), 400, /at most 4/, 'stop'],
    ['unsupported penalty', () => raw({ ...ok(), presence_penalty: 0.5 }), 400, /only 0/, 'presence_penalty'],
    ['json response_format', () => raw({ ...ok(), response_format: { type: 'json_object' } }), 400, /not supported/, 'response_format'],
    ['unknown parameter', () => raw({ ...ok(), temprature: 0.5 }), 400, /temprature: is unknown \(did you mean "temperature"\?\)/, 'temprature'],
    ['bad role', () => raw({ model: MODEL, messages: [{ role: 'robot', content: 'x' }] }), 400, /must be one of "system", "developer", "user", "assistant"/, 'messages[0].role'],
    ['text without an image', () => raw({ model: MODEL, messages: [{ role: 'user', content: 'moves RR' }] }), 400, /needs an image/, 'messages[0].content'],
    ['image that is not base64', () => raw({ model: MODEL, messages: [userTurn('q', 'data:image/png;base64,!!!notbase64!!!')] }), 400, /not valid base64/, 'messages[0].content[0].image_url.url'],
    ['image that is not a PNG', () => raw({ model: MODEL, messages: [userTurn('q', 'data:image/png;base64,' + Buffer.from('GIF89a-not-a-png-at-all-really').toString('base64'))] }), 400, /not a PNG/, 'messages[0].content[0].image_url.url'],
    ['JPEG media type with data that is not a JPEG', () => raw({ model: MODEL, messages: [userTurn('q', 'data:image/jpeg;base64,AAAA')] }), 400, /not a JPEG file/, 'messages[0].content[0].image_url.url'],
    ['GIF media type', () => raw({ model: MODEL, messages: [userTurn('q', 'data:image/gif;base64,AAAA')] }), 400, /must be PNG or JPEG/, 'messages[0].content[0].image_url.url'],
    ['remote image URL', () => raw({ model: MODEL, messages: [userTurn('q', 'https://example.com/a.png')] }), 400, /not fetched/, 'messages[0].content[0].image_url.url'],
    ['truncated PNG', () => raw({ model: MODEL, messages: [userTurn('q', small.slice(0, 200))] }), 400, /PNG|base64/, 'messages[0].content[0].image_url.url'],
    ['two questions', () => raw({ model: MODEL, messages: [userTurn(), { role: 'assistant', content: 'x' }, userTurn('again?'), { role: 'assistant', content: 'y' }] }), 400, /turns/, 'messages'],
    ['prompt longer than the context', () => raw({ model: MODEL, messages: [userTurn('x'.repeat(200))] }), 400, /context holds 96/, 'messages'],
    ['unknown model', () => raw({ ...ok(), model: 'gpt-4o' }), 404, /does not exist/, 'model'],
    ['body too large', () => raw({ ...ok(), pad: 'x'.repeat(400 * 1024) }), 413, /limit is 262144 bytes/, null],
    ['wrong content type', () => raw(ok(), { headers: { 'content-type': 'text/plain' } }), 415, /Content-Type/, null],
    ['unknown URL', () => raw(ok(), { path: '/v1/completions' }), 404, /Invalid URL/, null],
    ['wrong method', () => raw(null, { path: '/v1/chat/completions', method: 'GET' }), 405, /not allowed/, null],
  ];
  for (const [name, call, status, message, param] of cases) {
    test(name, async () => {
      const r = await call();
      assert.equal(r.status, status, r.text);
      assert.ok(r.json && r.json.error, `error body: ${r.text}`);
      assert.match(r.json.error.message, message);
      assert.equal(typeof r.json.error.type, 'string');
      assert.equal(r.json.error.param, param);
      assert.ok('code' in r.json.error);
    });
  }

  test('the server is still healthy after all of that, and a dropped stream does not hurt it', async () => {
    const ac = new AbortController();
    const res = await fetch(server.url + '/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...ok(), max_tokens: 60, stream: true }), signal: ac.signal });
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    const h = await raw(null, { path: '/health', method: 'GET' });
    assert.equal(h.status, 200);
    const r = await raw(ok());
    assert.equal(r.status, 200);
  });
});

describe('API key and queue limits', () => {
  test('a server with --api-key answers 401 without the right bearer token', async () => {
    const s = createChatServer({ policy: loadPolicy(untrainedCheckpoint(), 1).policy, modelName: MODEL, apiKey: 'sekret' });
    await s.listen(0);
    try {
      const wrong = new OpenAI({ baseURL: s.url, apiKey: 'nope', maxRetries: 0 });
      await assert.rejects(wrong.models.list(), (e: unknown) => { assert.ok(e instanceof OpenAI.AuthenticationError); assert.equal(e.status, 401); assert.equal(e.code, 'invalid_api_key'); return true; });
      const none = await fetch(s.url + '/chat/completions', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
      assert.equal(none.status, 401);
      assert.equal((await none.json() as any).error.code, 'missing_api_key');
      const right = new OpenAI({ baseURL: s.url, apiKey: 'sekret', maxRetries: 0 });
      const r = await right.chat.completions.create({ model: MODEL, messages: [userTurn()], max_tokens: 4 });
      assert.equal(r.choices.length, 1);
      assert.equal((await fetch(s.url.replace(/\/v1$/, '/health'))).status, 200, 'health needs no key');
    } finally {
      await s.close();
    }
  });

  test('a full queue answers 429 with Retry-After; the rest succeed', async () => {
    // A long batch window: all 8 requests arrive while the first two wait, so 6 are refused.
    const s = createChatServer({ policy: loadPolicy(untrainedCheckpoint(), 1).policy, modelName: MODEL, maxQueue: 2, maxBatchRows: 1, batchWindowMs: 300 });
    await s.listen(0);
    try {
      const body = JSON.stringify({ model: MODEL, messages: [userTurn()], max_tokens: 6 });
      const res = await Promise.all(Array.from({ length: 8 }, () => fetch(s.url + '/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body })));
      const statuses = res.map((r) => r.status);
      const busy = res.filter((r) => r.status === 429);
      assert.ok(busy.length >= 1, `statuses ${statuses}`);
      assert.ok(statuses.filter((x) => x === 200).length >= 2, `statuses ${statuses}`);
      assert.equal(busy[0]!.headers.get('retry-after'), '1');
      const err = (await busy[0]!.json()) as any;
      assert.equal(err.error.code, 'queue_full');
      assert.equal(err.error.type, 'rate_limit_error');
      await Promise.all(res.map((r) => r.text().catch(() => '')));
      assert.ok(s.scheduler.metrics.rejectedQueueFull >= 1);
    } finally {
      await s.close();
    }
  });
});
