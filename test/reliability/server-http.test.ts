// The server's HTTP hardening (issue #17 rows 6, 11, 13), on a real server on loopback:
// an empty API key is refused (library and CLI), foreign Host headers get 421 (DNS
// rebinding), POST needs Content-Type: application/json, malformed URLs are 400s, and
// dropped streams are logged and counted in /metrics.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import type { Policy } from '../../src/model/policy.js';
import { createChatServer, type ChatServer } from '../../src/serve/server.js';
import { generateInstance } from '../../src/tasks/index.js';
import { exportTasks, pngDataUrl, tempDir, untrainedCheckpoint } from '../helpers/remote-fixture.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const MODEL = 'tiny';
let ckpt: string;
let policy: Policy;
let server: ChatServer;
let port: number;
let image: string;
const logs: string[] = [];

const chat = (extra: Record<string, unknown> = {}) => JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: image } }, { type: 'text', text: 'moves RRDL' }] }], max_tokens: 4, ...extra });

/** A raw request (node:http, so Host and Content-Type are exactly what the test says). */
function request(opts: { method?: string; path: string; headers?: Record<string, string>; body?: string; port?: number }): Promise<{ status: number; json: any; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: opts.port ?? port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers ?? {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => { let json: any = null; try { json = JSON.parse(text); } catch { /* not JSON */ } resolve({ status: res.statusCode ?? 0, json, text }); });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

before(async () => {
  ckpt = untrainedCheckpoint();
  policy = loadPolicy(ckpt, 1).policy;
  const file = exportTasks(tempDir('http'), [generateInstance('grid', 7, 4)]);
  image = pngDataUrl(path.join(path.dirname(file), 'images', 'grid-7-4.small.png'));
  server = createChatServer({ policy, modelName: MODEL, batchWindowMs: 1, log: (l) => logs.push(l) });
  port = (await server.listen(0)).port;
});

after(async () => { await server.close(); });

describe('API key', () => {
  test('an empty or blank key is an error, not "authentication off"', () => {
    for (const apiKey of ['', '   ']) {
      assert.throws(() => createChatServer({ policy, modelName: MODEL, apiKey }), /API key is empty; an empty key would turn authentication off/);
    }
    assert.throws(() => createChatServer({ policy, modelName: MODEL, apiKey: ' k ' }), /leading or trailing whitespace/);
  });

  for (const [name, args, env, message] of [
    ['--api-key ""', ['--api-key', ''], {}, /--api-key is empty/],
    ['IVR_API_KEY=""', [], { IVR_API_KEY: '' }, /IVR_API_KEY is set but empty/],
    ['--api-key "" with IVR_API_KEY set', ['--api-key', ''], { IVR_API_KEY: 'k' }, /--api-key is empty/],
  ] as const) {
    test(`ivr serve ${name} exits 2 before serving`, async () => {
      const child = spawn(process.execPath, [MAIN, 'serve', '--checkpoint', ckpt, '--port', '0', '--threads', '1', ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => { out += d; });
      child.stderr.on('data', (d: Buffer) => { err += d; });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      clearTimeout(timer);
      assert.equal(code, 2, `stdout ${out} stderr ${err}`);
      assert.match(err, message);
      assert.doesNotMatch(out, /listening/);
    });
  }
});

describe('Host header (DNS rebinding)', () => {
  test('a foreign Host gets 421 naming the problem, on every route', async () => {
    for (const p of ['/health', '/v1/models', '/metrics']) {
      const r = await request({ path: p, headers: { host: `evil.example:${port}` } });
      assert.equal(r.status, 421, `${p}: ${r.text}`);
      assert.equal(r.json.error.code, 'misdirected_host');
      assert.match(r.json.error.message, /Host "evil\.example:\d+" does not name this server.*DNS rebinding/);
    }
    const post = await request({ method: 'POST', path: '/v1/chat/completions', headers: { host: 'rebind.attacker.test', 'content-type': 'application/json' }, body: chat() });
    assert.equal(post.status, 421);
    // Right name, wrong port: still not this server.
    assert.equal((await request({ path: '/v1/models', headers: { host: `127.0.0.1:${port + 1}` } })).status, 421);
  });

  test('loopback names with the bound port are served', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
      const r = await request({ path: '/v1/models', headers: { host } });
      assert.equal(r.status, 200, `${host}: ${r.text}`);
    }
  });

  test('allowedHosts admits a named host on any port; "*" turns the check off', async () => {
    for (const [allowedHosts, host, status] of [[['proxy.example'], 'proxy.example', 200], [['proxy.example'], 'other.example', 421], [['*'], 'anything.example:1', 200]] as const) {
      const s = createChatServer({ policy, modelName: MODEL, allowedHosts: [...allowedHosts] });
      const p = (await s.listen(0)).port;
      try {
        assert.equal((await request({ port: p, path: '/health', headers: { host } })).status, status, `${allowedHosts} ${host}`);
      } finally {
        await s.close();
      }
    }
  });
});

describe('request hygiene', () => {
  test('POST without Content-Type: application/json is 415', async () => {
    for (const headers of [{}, { 'content-type': 'text/plain' }, { 'content-type': 'application/x-www-form-urlencoded' }] as Record<string, string>[]) {
      const r = await request({ method: 'POST', path: '/v1/chat/completions', headers, body: chat() });
      assert.equal(r.status, 415, `${JSON.stringify(headers)}: ${r.text}`);
      assert.equal(r.json.error.code, 'unsupported_media_type');
      assert.match(r.json.error.message, /Content-Type must be application\/json, got (none|"text\/plain"|"application\/x-www-form-urlencoded")/);
    }
    const ok = await request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json; charset=utf-8' }, body: chat() });
    assert.equal(ok.status, 200, ok.text);
  });

  test('malformed URLs are 400, never 500', async () => {
    for (const p of ['/v1/models/%', '/v1/models/%E0%A4%A', '/v1/models/a%zz']) {
      const r = await request({ path: p });
      assert.equal(r.status, 400, `${p}: ${r.text}`);
      assert.equal(r.json.error.code, 'invalid_url');
      assert.match(r.json.error.message, /malformed URL/);
    }
    assert.equal((await request({ path: '/v1/models/%74iny' })).status, 200, 'valid escapes still decode');
  });
});

describe('dropped streams', () => {
  test('a client that hangs up mid-stream is logged and counted in /metrics', async () => {
    const req = { max_tokens: 80, seed: 11, temperature: 1, stream: true };
    // The same seeded stream, read to the end, is long: hanging up after its first chunk is mid-stream.
    const full = await request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: chat(req) });
    assert.ok(full.text.split('\n\n').filter(Boolean).length > 20, full.text);
    const before = (await request({ path: '/metrics' })).json.http.droppedStreams;
    await new Promise<void>((resolve, reject) => {
      const r = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' } }, (res) => {
        assert.equal(res.statusCode, 200);
        res.once('data', () => { r.destroy(); resolve(); });
      });
      r.on('error', (e) => { if ((e as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(e); });
      r.end(chat(req));
    });
    let m: any;
    for (let i = 0; i < 200; i++) {
      m = (await request({ path: '/metrics' })).json;
      if (m.http.droppedStreams > before) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(m.http.droppedStreams, before + 1);
    assert.ok(m.memory.rssBytes > 0);
    assert.ok(logs.some((l) => /^POST \/v1\/chat\/completions dropped: the client closed the connection mid-stream after \d+ms$/.test(l)), logs.join('\n'));
    assert.equal((await request({ path: '/health' })).status, 200);
  });
});
