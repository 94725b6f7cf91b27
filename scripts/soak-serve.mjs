#!/usr/bin/env node
// Soak test for `ivr serve` (issue #17): starts the server on loopback with a checkpoint,
// fires N chat requests with C in flight at a time (a mix of 48x48 PNG, 384x384 PNG and
// JPEG images, every K-th one streamed), and reports the requests, status codes, p50/p99
// latency and the server's RSS before and after (read from its /metrics). Bounded in count
// and time: at most 10000 requests, and whatever is still pending at --time-limit-s is
// aborted and counted as "timeout". Exit 0 when every reply was 2xx or 429, else 1.
//
//   npx tsc -p . && node scripts/soak-serve.mjs [--checkpoint checkpoints/base] [--requests 200]
//     [--concurrency 50] [--max-tokens 16] [--stream-every 4] [--time-limit-s 120] [--threads N] [--json]
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const main = path.join(root, 'dist/src/cli/main.js');
if (!fs.existsSync(main)) { console.error('soak-serve: dist/ is missing; run `npx tsc -p .` first'); process.exit(2); }

const { values: opt } = parseArgs({
  options: {
    checkpoint: { type: 'string', default: 'checkpoints/base' },
    requests: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '50' },
    'max-tokens': { type: 'string', default: '16' },
    'stream-every': { type: 'string', default: '4' },
    'time-limit-s': { type: 'string', default: '120' },
    threads: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
function bounded(name, lo, hi) {
  const v = Number(opt[name]);
  if (!Number.isInteger(v) || v < lo || v > hi) { console.error(`soak-serve: --${name} must be an integer in [${lo}, ${hi}], got ${opt[name]}`); process.exit(2); }
  return v;
}
const N = bounded('requests', 1, 10_000);
const C = Math.min(N, bounded('concurrency', 1, 1000));
const maxTokens = bounded('max-tokens', 1, 256);
const streamEvery = bounded('stream-every', 0, 10_000);
const timeLimitS = bounded('time-limit-s', 1, 1800);
if (!fs.existsSync(path.join(opt.checkpoint, 'config.json'))) { console.error(`soak-serve: no checkpoint at ${opt.checkpoint} (config.json missing)`); process.exit(2); }

const { encodePng, generateInstance, renderLarge, renderSmall } = await import(path.join(root, 'dist/src/tasks/index.js'));
const { default: jpeg } = await import('jpeg-js');

// Images: the task's own two renderings as PNG, and the large one as JPEG.
const inst = generateInstance('grid', 7, 4);
const large = renderLarge(inst);
const rgba = Buffer.alloc(large.width * large.height * 4, 255);
for (let i = 0; i < large.width * large.height; i++) for (let c = 0; c < 3; c++) rgba[i * 4 + c] = large.data[i * 3 + c];
const images = [
  'data:image/png;base64,' + encodePng(renderSmall(inst)).toString('base64'),
  'data:image/png;base64,' + encodePng(large).toString('base64'),
  'data:image/jpeg;base64,' + jpeg.encode({ width: large.width, height: large.height, data: rgba }, 90).data.toString('base64'),
];

// The server, on loopback, as its own process (so its RSS is its own).
const serveArgs = [main, 'serve', '--checkpoint', opt.checkpoint, '--host', '127.0.0.1', '--port', '0', '--model-name', 'soak', '--quiet', ...(opt.threads ? ['--threads', opt.threads] : [])];
const child = spawn(process.execPath, serveArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
let serverErr = '';
child.stderr.on('data', (d) => { serverErr += d; });
const exited = new Promise((r) => child.on('exit', (code, sig) => r(code ?? sig)));
const base = await new Promise((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
    const nl = out.indexOf('\n');
    if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)).url);
  });
  exited.then((c) => reject(new Error(`ivr serve exited (${c}) before listening:\n${serverErr}`)));
  setTimeout(() => reject(new Error(`ivr serve did not start within 60 s:\n${serverErr}`)), 60_000).unref();
}).catch((e) => { console.error(`soak-serve: ${e.message}`); child.kill('SIGKILL'); process.exit(1); });

const metrics = async () => (await (await fetch(base.replace(/\/v1$/, '/metrics'))).json());
const bodyOf = (i) => JSON.stringify({
  model: 'soak', max_tokens: maxTokens, seed: i,
  messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: images[i % images.length] } }, { type: 'text', text: inst.question }] }],
  ...(streamEvery > 0 && i % streamEvery === streamEvery - 1 ? { stream: true } : {}),
});

const deadline = new AbortController();
async function one(i) {
  const t0 = performance.now();
  try {
    const res = await fetch(`${base}/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyOf(i), signal: deadline.signal });
    const text = await res.text(); // for streams: the whole SSE body
    if (res.status === 200 && text.includes('"error"') && !text.includes('"choices"')) return { status: 'error-in-200', ms: performance.now() - t0 };
    return { status: String(res.status), ms: performance.now() - t0 };
  } catch (e) {
    return { status: deadline.signal.aborted ? 'timeout' : `network:${e.cause?.code ?? e.name}`, ms: performance.now() - t0 };
  }
}

const rssStart = (await metrics()).memory.rssBytes;
await one(0); // warm-up (not counted): the first inference builds the sessions
const rssBefore = (await metrics()).memory.rssBytes;
let rssPeak = rssBefore;
const sampler = setInterval(() => { metrics().then((m) => { rssPeak = Math.max(rssPeak, m.memory.rssBytes); }, () => {}); }, 250);
const timer = setTimeout(() => deadline.abort(), timeLimitS * 1000);

const t0 = performance.now();
const results = [];
let next = 0;
await Promise.all(Array.from({ length: C }, async () => {
  while (next < N) results.push(await one(next++));
}));
const wallS = (performance.now() - t0) / 1000;
clearTimeout(timer);
clearInterval(sampler);
const m = await metrics();
const rssAfter = m.memory.rssBytes;
child.kill('SIGTERM');
await exited;

const statuses = {};
for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
const ok = results.filter((r) => r.status.startsWith('2')).map((r) => r.ms).sort((a, b) => a - b);
const pct = (p) => (ok.length ? Math.round(ok[Math.min(ok.length - 1, Math.floor((p / 100) * ok.length))]) : null);
const mb = (b) => Math.round(b / (1 << 20));
const report = {
  checkpoint: opt.checkpoint, requests: N, concurrency: C, max_tokens: maxTokens, stream_every: streamEvery,
  wall_s: Number(wallS.toFixed(2)), req_per_s: Number((results.length / wallS).toFixed(1)),
  statuses, latency_ms: { p50: pct(50), p99: pct(99), max: ok.length ? Math.round(ok.at(-1)) : null },
  rss_mb: { start: mb(rssStart), before: mb(rssBefore), peak: mb(rssPeak), after: mb(rssAfter) },
  server: { batches: m.scheduler.batches, maxBatchRows: m.scheduler.maxBatchRows, rejectedQueueFull: m.scheduler.rejectedQueueFull, droppedStreams: m.http.droppedStreams, errors5xx: m.http.errors5xx },
};
const good = results.every((r) => r.status.startsWith('2') || r.status === '429');
if (opt.json) console.log(JSON.stringify(report));
else {
  console.log(`soak-serve: ${N} requests, ${C} in flight, ${report.wall_s} s (${report.req_per_s} req/s), checkpoint ${opt.checkpoint}`);
  console.log(`  statuses   ${Object.entries(statuses).map(([k, v]) => `${k}: ${v}`).join(', ')}`);
  console.log(`  latency    p50 ${report.latency_ms.p50} ms, p99 ${report.latency_ms.p99} ms, max ${report.latency_ms.max} ms (2xx only)`);
  console.log(`  server RSS ${report.rss_mb.start} MB at start, ${report.rss_mb.before} MB after warm-up, peak ${report.rss_mb.peak} MB, ${report.rss_mb.after} MB after`);
  console.log(`  batches    ${report.server.batches} (largest ${report.server.maxBatchRows} rows), queue-full 429s ${report.server.rejectedQueueFull}, 5xx ${report.server.errors5xx}`);
  console.log(good ? '  OK: only 2xx and 429' : '  FAIL: replies other than 2xx/429');
}
process.exit(good ? 0 : 1);
