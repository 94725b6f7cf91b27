// Server faults (issue #27 item 4), against a real `ivr serve-env` on loopback: clients that
// send headers byte by byte, disconnect mid-body or mid-request, send oversized headers or
// bodies, or hold hundreds of idle keep-alive connections. The server keeps answering others
// within its limits and its heap stays bounded. Sizes are bounded so the test stays fast.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { createEnvServer, type EnvServer } from '../../src/serve-env/server.js';

let server: EnvServer;
let port: number;
const MAX_BODY = 64 << 10;

before(async () => {
  server = createEnvServer({ maxBodyBytes: MAX_BODY });
  port = (await server.listen(0, '127.0.0.1')).port;
});
after(() => server.close(2000));

/** One raw exchange: writes `chunks` (with `gapMs` between them) and reads until the server closes or `untilMs`. */
function raw(chunks: (string | Buffer)[], opts: { gapMs?: number; untilMs?: number; destroyAfterWrite?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const done = () => { clearTimeout(timer); s.destroy(); resolve(out); };
    const timer = setTimeout(done, opts.untilMs ?? 3000);
    s.on('data', (d) => { out += d.toString('latin1'); });
    s.on('close', done);
    s.on('error', done);
    void (async () => {
      for (const c of chunks) {
        if (s.destroyed) return;
        s.write(c);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      if (opts.destroyAfterWrite) done();
    })();
  });
}

const verifyBody = JSON.stringify({ task: 'grid-7-4', response: '<think>\nR 23 o 23\n</think><answer>23</answer>' });
const post = (body: string, extra = '') => `POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`;

/** A normal request from a well-behaved client; returns status and latency. */
async function healthy(): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/v1/verify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: verifyBody });
  await res.text();
  return { status: res.status, ms: performance.now() - t0 };
}

test('a request whose headers and body arrive byte by byte is answered; others are answered meanwhile', async () => {
  const slow = raw(post(verifyBody).match(/[\s\S]{1,1}/g)!.slice(0, 400).concat(post(verifyBody).slice(400)), { gapMs: 1, untilMs: 8000 });
  const h = await healthy();
  assert.equal(h.status, 200);
  assert.ok(h.ms < 2000, `a healthy request took ${h.ms} ms`);
  assert.match(await slow, /^HTTP\/1\.1 200 /);
});

test('clients that disconnect mid-headers, mid-body or right after the request leave the server answering', async () => {
  const full = post(verifyBody);
  await Promise.all([
    raw([full.slice(0, 30)], { destroyAfterWrite: true }),
    raw([full.slice(0, full.length - 10)], { destroyAfterWrite: true }),
    raw([full], { destroyAfterWrite: true }),
    ...Array.from({ length: 50 }, (_, i) => raw([full.slice(0, (i * 37) % full.length)], { destroyAfterWrite: true })),
  ]);
  assert.equal((await healthy()).status, 200);
});

test('an oversized header gets a 400 and an oversized body 413, without reading it all', async () => {
  // Over node's 16 KB header limit: the bare 400 of http-kit's clientError rule (the reply can be
  // lost to the TCP reset of a close with unread bytes; then the connection is simply closed).
  const big = await raw([`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(64 << 10)}\r\n\r\n`]);
  assert.ok(big === '' || /^HTTP\/1\.1 (400|431) /.test(big), `got ${big.slice(0, 80)}`);
  const body = 'x'.repeat(MAX_BODY + 1);
  assert.match(await raw([post(body)]), /^HTTP\/1\.1 413 /);
  // A declared length over the limit is refused before the body is sent.
  assert.match(await raw([`POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${1 << 30}\r\n\r\n{`], { untilMs: 3000 }), /^HTTP\/1\.1 413 /);
  assert.equal((await healthy()).status, 200);
});

test('garbage request lines and malformed bodies are 4xx, never 5xx, and the server answers after them', async () => {
  const replies = await Promise.all([
    raw(['\x00\x01\x02 / HTTP/1.1\r\n\r\n']),
    raw(['GET / HTTP/9.9\r\n\r\n']),
    raw([`POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`]),
    raw([post('{"task": "grid-7-4", "response": ')]),
    raw([post('[' .repeat(5000))]),
  ]);
  for (const r of replies) {
    const status = Number(/^HTTP\/1\.1 (\d+)/.exec(r)?.[1] ?? 0);
    assert.ok(status === 0 || (status >= 400 && status < 500), `got ${r.slice(0, 80)}`);
  }
  assert.equal((await healthy()).status, 200);
});

test('hundreds of idle keep-alive connections do not stop others being answered, and the heap stays bounded', async () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const idle: net.Socket[] = [];
  await Promise.all(Array.from({ length: 400 }, () => new Promise<void>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => { s.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`); resolve(); });
    s.on('error', () => resolve());
    idle.push(s);
  })));
  try {
    for (let i = 0; i < 5; i++) {
      const h = await healthy();
      assert.equal(h.status, 200);
      assert.ok(h.ms < 2000, `a healthy request took ${h.ms} ms with 400 idle connections`);
    }
  } finally {
    for (const s of idle) s.destroy();
  }
  gc?.();
  const grewMB = (process.memoryUsage().heapUsed - heap0) / (1 << 20);
  assert.ok(grewMB < 64, `heap grew by ${grewMB.toFixed(1)} MB`);
});
