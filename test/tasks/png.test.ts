import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { decodePng, encodePng, getSplit, renderLarge, renderSmall, type RgbImage } from '../../src/tasks/index.js';

const imageArb = fc.record({ width: fc.integer({ min: 1, max: 20 }), height: fc.integer({ min: 1, max: 20 }) }).chain(({ width, height }) =>
  fc.uint8Array({ minLength: width * height * 3, maxLength: width * height * 3 }).map((data): RgbImage => ({ width, height, data })));

test('PNG round trip through our decoder, every filter type', () => {
  fc.assert(fc.property(imageArb, fc.constantFrom(0, 1, 2, 3, 4), (img, filter) => {
    const back = decodePng(encodePng(img, { filter: filter as 0 | 1 | 2 | 3 | 4 }));
    assert.equal(back.width, img.width);
    assert.equal(back.height, img.height);
    assert.deepEqual(Buffer.from(back.data), Buffer.from(img.data));
  }), { numRuns: 150, seed: 42 });
});

test('PNG round trip of rendered task images, and equal images give equal bytes', () => {
  for (const inst of [...getSplit('grid', 'test', 3), ...getSplit('shapes', 'test', 3), ...getSplit('chart', 'test', 3)]) {
    for (const img of [renderSmall(inst), renderLarge(inst)]) {
      const png = encodePng(img);
      assert.deepEqual(Buffer.from(decodePng(png).data), Buffer.from(img.data));
      assert.ok(encodePng({ ...img, data: new Uint8Array(img.data) }).equals(png));
    }
  }
});

function chunk(type: string, payload: Buffer): Buffer {
  // Build with our encoder's CRC via a tiny helper: reuse zlib's crc32 if present, else compute.
  const table = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const body = Buffer.concat([Buffer.from(type, 'latin1'), payload]);
  let c = 0xffffffff;
  for (const b of body) c = table[(c ^ b) & 0xff]! ^ (c >>> 8);
  const len = Buffer.alloc(4); len.writeUInt32BE(payload.length);
  const crc = Buffer.alloc(4); crc.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return Buffer.concat([len, body, crc]);
}

function pngOf(width: number, height: number, ctype: number, rows: number[][], plte?: number[]): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0); ihdr.writeUInt32BE(height, 4); ihdr[8] = 8; ihdr[9] = ctype;
  const raw = Buffer.from(rows.flatMap((r) => [0, ...r]));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr),
    ...(plte ? [chunk('PLTE', Buffer.from(plte))] : []), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

test('decodePng reads grey, grey+alpha, palette and RGBA images', () => {
  assert.deepEqual([...decodePng(pngOf(2, 1, 0, [[10, 200]])).data], [10, 10, 10, 200, 200, 200]);
  assert.deepEqual([...decodePng(pngOf(1, 1, 4, [[77, 255]])).data], [77, 77, 77]);
  assert.deepEqual([...decodePng(pngOf(2, 1, 3, [[1, 0]], [1, 2, 3, 4, 5, 6])).data], [4, 5, 6, 1, 2, 3]);
  assert.deepEqual([...decodePng(pngOf(1, 1, 6, [[9, 8, 7, 0]])).data], [9, 8, 7]);
});

test('decodePng rejects corrupt input with clear errors', () => {
  const good = encodePng({ width: 2, height: 2, data: new Uint8Array(12).fill(100) });
  assert.throws(() => decodePng(Buffer.from('hello world')), /bad signature/);
  const badCrc = Buffer.from(good); badCrc[20] ^= 0xff;
  assert.throws(() => decodePng(badCrc), /CRC mismatch in chunk IHDR/);
  assert.throws(() => decodePng(good.subarray(0, good.length - 12)), /missing IEND|truncated/);
  assert.throws(() => decodePng(good.subarray(0, 30)), /runs past the end|truncated/);
  assert.throws(() => encodePng({ width: 2, height: 2, data: new Uint8Array(5) }), /data must be/);
});
