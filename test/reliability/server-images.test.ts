// Images sent to `ivr serve` (issue #17 rows 4-5, #15 item 5), over real HTTP on loopback:
// decompression bombs and a second IHDR are refused before any large allocation, sizes over
// the documented limits are a 400 naming the limit, and PNG or JPEG images of any size within
// them are resized to the model's input. The decoder is the one `ivr eval` uses, so the
// decoder-level checks here cover it too.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { deflateSync } from 'node:zlib';
import jpeg from 'jpeg-js';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import { resizeArea } from '../../src/model/image.js';
import { createChatServer, type ChatServer } from '../../src/serve/server.js';
import { IMAGE_LIMITS, ImageLimitError } from '../../src/tasks/render/image-limits.js';
import { decodeJpeg } from '../../src/tasks/render/jpeg.js';
import { decodePng, encodePng } from '../../src/tasks/render/png.js';
import { generateInstance } from '../../src/tasks/index.js';
import { exportTasks, tempDir, untrainedCheckpoint } from '../helpers/remote-fixture.js';

const MODEL = 'tiny';
let server: ChatServer;
let smallPng: Buffer; // a 48x48 task image

const CRC = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
function chunk(type: string, payload: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), payload]);
  let c = 0xffffffff;
  for (const b of body) c = CRC[(c ^ b) & 0xff]! ^ (c >>> 8);
  const out = Buffer.alloc(12 + payload.length);
  out.writeUInt32BE(payload.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0, 8 + payload.length);
  return out;
}
const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
function ihdr(width: number, height: number): Buffer {
  const h = Buffer.alloc(13);
  h.writeUInt32BE(width, 0); h.writeUInt32BE(height, 4); h[8] = 8; h[9] = 2;
  return chunk('IHDR', h);
}
/** A PNG from raw chunks: IHDR(s), one IDAT of `raw` deflated, IEND. */
function png(headers: Buffer[], raw: Buffer): Buffer {
  return Buffer.concat([SIG, ...headers, chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

const dataUrl = (bytes: Buffer, media = 'image/png') => `data:${media};base64,${bytes.toString('base64')}`;
const body = (url: string, extra: Record<string, unknown> = {}) => ({ model: MODEL, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url } }, { type: 'text', text: 'moves RRDL' }] }], max_tokens: 8, seed: 4, temperature: 1, ...extra });

async function post(payload: unknown): Promise<{ status: number; json: any; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(server.url + '/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text), ms: performance.now() - t0 };
}

before(async () => {
  const file = exportTasks(tempDir('img'), [generateInstance('grid', 7, 4)]);
  smallPng = fs.readFileSync(path.join(path.dirname(file), 'images', 'grid-7-4.small.png'));
  server = createChatServer({ policy: loadPolicy(untrainedCheckpoint(), 1).policy, modelName: MODEL, batchWindowMs: 1 });
  await server.listen(0);
});

after(async () => { await server.close(); });

describe('PNG decoding limits (the decoder ivr eval and ivr serve share)', () => {
  // 48x48 declared, but the image data inflates to 64 MiB: the old decoder inflated all of it.
  const bomb = () => png([ihdr(48, 48)], Buffer.alloc(64 << 20));

  test('a PNG whose data inflates past what its IHDR implies stops at that size', () => {
    const b = bomb();
    assert.ok(b.length < 200_000, `bomb is ${b.length} bytes`);
    assert.throws(() => decodePng(b), /inflates to more than the 6960 bytes a 48x48 image needs/);
  });

  test('a declared size over the pixel or side limit is refused before inflating', () => {
    const side = Math.sqrt(IMAGE_LIMITS.maxPixels) + 16; // under maxSide, over maxPixels
    assert.ok(side < IMAGE_LIMITS.maxSide);
    assert.throws(() => decodePng(png([ihdr(side, side)], Buffer.alloc(10))), (e: unknown) => e instanceof ImageLimitError && e.limit === 'maxPixels' && /limit is 16777216 pixels \(maxPixels\)/.test(e.message));
    assert.throws(() => decodePng(png([ihdr(IMAGE_LIMITS.maxSide + 1, 1)], Buffer.alloc(10))), (e: unknown) => e instanceof ImageLimitError && e.limit === 'maxSide');
  });

  test('exactly one IHDR, and it comes first', () => {
    const raw96 = Buffer.alloc((96 * 3 + 1) * 96);
    assert.throws(() => decodePng(png([ihdr(48, 48), ihdr(96, 96)], raw96)), /more than one IHDR/);
    const noFirst = Buffer.concat([SIG, chunk('tEXt', Buffer.from('a\0b')), ihdr(1, 1), chunk('IDAT', deflateSync(Buffer.alloc(4))), chunk('IEND', Buffer.alloc(0))]);
    assert.throws(() => decodePng(noFirst), /first chunk must be IHDR, got tEXt/);
  });
});

describe('images over HTTP', () => {
  test('the inflate bomb is a fast 400, not a 200 after a stall', async () => {
    const r = await post(body(dataUrl(png([ihdr(48, 48)], Buffer.alloc(64 << 20)))));
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.equal(r.json.error.code, 'invalid_image');
    assert.match(r.json.error.message, /inflates to more than/);
    assert.equal(r.json.error.param, 'messages[0].content[0].image_url.url');
  });

  test('a size over the limits is a 400 naming the limit', async () => {
    const r = await post(body(dataUrl(png([ihdr(5000, 5000)], Buffer.alloc(10)))));
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'image_too_large');
    assert.match(r.json.error.message, /5000x5000 = 25000000 pixels; the limit is 16777216 pixels \(maxPixels\)/);
    // JPEG: a frame header declaring 9000x9000 is refused before jpeg-js allocates anything.
    const sof = Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0, 17, 8, 0x23, 0x28, 0x23, 0x28, 3, 1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0]);
    const j = await post(body(dataUrl(sof, 'image/jpeg')));
    assert.equal(j.status, 400);
    assert.equal(j.json.error.code, 'image_too_large');
    assert.match(j.json.error.message, /9000x9000; the limit is 8192 pixels per side \(maxSide\)/);
  });

  test('a second IHDR is a 400, not a 500', async () => {
    // First IHDR matches the model (48x48), the second (and the data) describe a 96x96 image.
    const r = await post(body(dataUrl(png([ihdr(48, 48), ihdr(96, 96)], Buffer.alloc((96 * 3 + 1) * 96)))));
    assert.equal(r.status, 400, JSON.stringify(r.json));
    assert.match(r.json.error.message, /more than one IHDR/);
  });

  test('a PNG of another size is resized by area averaging: a 2x upscale reads as the original', async () => {
    const img = decodePng(smallPng);
    const big = new Uint8Array(96 * 96 * 3);
    for (let y = 0; y < 96; y++) for (let x = 0; x < 96; x++) for (let c = 0; c < 3; c++) big[(y * 96 + x) * 3 + c] = img.data[((y >> 1) * 48 + (x >> 1)) * 3 + c]!;
    assert.deepEqual(Buffer.from(resizeArea({ width: 96, height: 96, data: big }, 48, 48).data), Buffer.from(img.data));
    const a = await post(body(dataUrl(smallPng)));
    const b = await post(body(dataUrl(encodePng({ width: 96, height: 96, data: big }))));
    assert.equal(a.status, 200);
    assert.equal(b.status, 200, JSON.stringify(b.json));
    assert.equal(b.json.choices[0].message.content, a.json.choices[0].message.content);
  });

  test('JPEG images of any shape are decoded and resized', async () => {
    const w = 100, h = 60;
    const rgba = Buffer.alloc(w * h * 4);
    for (let i = 0; i < w * h; i++) { rgba[i * 4] = (i * 7) & 255; rgba[i * 4 + 1] = 128; rgba[i * 4 + 2] = (i >> 3) & 255; rgba[i * 4 + 3] = 255; }
    const jpg = jpeg.encode({ width: w, height: h, data: rgba }, 90).data;
    assert.equal(decodeJpeg(jpg).width, 100);
    const r = await post(body(dataUrl(jpg, 'image/jpeg')));
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.usage.prompt_tokens, 36 + 1 + 11);
    const truncated = await post(body(dataUrl(jpg.subarray(0, jpg.length >> 1), 'image/jpeg')));
    assert.equal(truncated.status, 400);
    assert.equal(truncated.json.error.code, 'invalid_image');
    assert.match(truncated.json.error.message, /cannot decode the JPEG/);
  });

  test('area averaging keeps a flat image flat at any ratio', () => {
    const flat = { width: 37, height: 91, data: new Uint8Array(37 * 91 * 3).fill(200) };
    for (const [w, h] of [[48, 48], [10, 7], [120, 300]] as const) {
      const out = resizeArea(flat, w, h);
      assert.equal(out.data.length, w * h * 3);
      assert.ok(out.data.every((v) => v === 200), `${w}x${h}`);
    }
  });
});
