import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  decodeSafetensors, encodeSafetensors, loadCheckpoint, loadSafetensors, saveCheckpoint, saveSafetensors,
  type NamedTensor,
} from '../../src/engine/checkpoint.js';
import { appendJsonl, atomicWriteFile, atomicWriteJson, readJsonFile } from '../../src/util/fs.js';

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-ckpt-'));

/** A safetensors file built by hand straight from the spec: u64 LE header length, header, data.
 *  Independent of the encoder, so it checks compatibility rather than self-consistency. */
function handBuilt(header: string, data: number[]): Uint8Array {
  const h = Buffer.from(header, 'utf8');
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const allDtypes = (): NamedTensor[] => [
  { name: 'w', dtype: 'float32', shape: [2, 2], data: new Float32Array([1.5, -0, NaN, Infinity]) },
  { name: 'scalar', dtype: 'float64', shape: [], data: new Float64Array([Math.PI]) },
  { name: 'ids', dtype: 'int32', shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
  { name: 'big', dtype: 'int64', shape: [2, 2], data: new BigInt64Array([0n, -1n, 2n ** 63n - 1n, -(2n ** 63n)]) },
  { name: 'mask', dtype: 'uint8', shape: [3], data: new Uint8Array([0, 7, 255]) },
  { name: 'empty', dtype: 'float32', shape: [0, 4], data: new Float32Array(0) },
  // Integer-like names: JS objects reorder such keys; the file order must still survive.
  { name: '1', dtype: 'uint8', shape: [1], data: new Uint8Array([1]) },
  { name: '0', dtype: 'uint8', shape: [1], data: new Uint8Array([0]) },
];

test('round trip: every dtype, scalar, empty tensor, metadata, order preserved', () => {
  const tensors = allDtypes();
  const buf = encodeSafetensors(tensors, { format: 'ivr', step: '12' });
  const out = decodeSafetensors(buf);
  assert.deepEqual(out.metadata, { format: 'ivr', step: '12' });
  assert.deepEqual(out.tensors.map((t) => t.name), tensors.map((t) => t.name));
  for (const [i, t] of tensors.entries()) {
    const o = out.tensors[i]!;
    assert.equal(o.dtype, t.dtype);
    assert.deepEqual(o.shape, t.shape);
    assert.equal(o.data.constructor, t.data.constructor);
    assert.deepEqual(o.data, t.data);
    assert.equal(o.data.byteOffset, 0, 'decoded data lives in its own aligned buffer');
  }
  // Decoded tensors are copies: scribbling on the file image must not change them.
  buf.fill(0);
  assert.equal(out.tensors[0]!.data[0], 1.5);
  assert.deepEqual(decodeSafetensors(encodeSafetensors([])), { tensors: [], metadata: {} });
});

test('decodes a hand-built spec file with an unpadded header and unaligned data', () => {
  // 1.0f, -2.5f | int64 -3 | u8 1 2 255 ; the header is not padded, so data starts unaligned.
  let header = '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
    + '"n":{"dtype":"I64","shape":[],"data_offsets":[8,16]},"b":{"dtype":"U8","shape":[3],"data_offsets":[16,19]}}';
  if ((8 + header.length) % 4 === 0) header += ' ';
  const file = handBuilt(header, [0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 255]);
  // Also place the whole image at an odd byte offset in memory.
  const shifted = new Uint8Array(file.length + 1);
  shifted.set(file, 1);
  const { tensors, metadata } = decodeSafetensors(shifted.subarray(1));
  assert.deepEqual(metadata, { format: 'pt' });
  assert.deepEqual(tensors, [
    { name: 'w', dtype: 'float32', shape: [2], data: new Float32Array([1, -2.5]) },
    { name: 'n', dtype: 'int64', shape: [], data: new BigInt64Array([-3n]) },
    { name: 'b', dtype: 'uint8', shape: [3], data: new Uint8Array([1, 2, 255]) },
  ]);
});

test('encode matches the spec layout byte for byte', () => {
  const buf = encodeSafetensors([{ name: 'a', dtype: 'float32', shape: [2], data: new Float32Array([1, -2.5]) }], { k: 'v' });
  const n = Number(buf.readBigUInt64LE(0));
  assert.equal(n % 8, 0, 'header padded so the data section is 8-byte aligned');
  assert.equal(buf.length, 8 + n + 8);
  const headerBytes = buf.subarray(8, 8 + n);
  assert.equal(headerBytes[0], '{'.charCodeAt(0));
  const text = headerBytes.toString('utf8');
  const json = text.trimEnd();
  assert.ok(/^ *$/.test(text.slice(json.length)), 'padding is spaces');
  assert.deepEqual(JSON.parse(json), { __metadata__: { k: 'v' }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
  assert.deepEqual([...buf.subarray(8 + n)], [0, 0, 0x80, 0x3f, 0, 0, 0x20, 0xc0]);
});

test('encode validates its input', () => {
  const f = (name: string, shape: number[], data: NamedTensor['data'], dtype: NamedTensor['dtype'] = 'float32'): NamedTensor => ({ name, dtype, shape, data });
  assert.throws(() => encodeSafetensors([f('w', [2, 3], new Float32Array(5))]), /tensor "w": data has 5 elements but shape \[2, 3\] needs 6/);
  assert.throws(() => encodeSafetensors([f('', [1], new Float32Array(1))]), /non-empty/);
  assert.throws(() => encodeSafetensors([f('w', [1], new Float32Array(1)), f('w', [1], new Float32Array(1))]), /duplicate tensor name "w"/);
  assert.throws(() => encodeSafetensors([f('w', [1], new Int32Array(1))]), /tensor "w": dtype float32 needs a Float32Array, got Int32Array/);
  assert.throws(() => encodeSafetensors([f('w', [-1], new Float32Array(0))]), /tensor "w": shape must be non-negative integers/);
  assert.throws(() => encodeSafetensors([f('w', [1], new Float32Array(1), 'bfloat16' as never)]), /tensor "w": unknown dtype "bfloat16"/);
  assert.throws(() => encodeSafetensors([f('__metadata__', [1], new Float32Array(1))]), /reserved/);
});

test('decode rejects damaged files with messages that name the problem', () => {
  const good = encodeSafetensors([
    { name: 'a', dtype: 'float32', shape: [2], data: new Float32Array([1, 2]) },
    { name: 'b', dtype: 'int32', shape: [1], data: new Int32Array([3]) },
  ]);
  assert.throws(() => decodeSafetensors(new Uint8Array(5), 'x.safetensors'), /x\.safetensors: file is 5 bytes, shorter than the 8-byte header length/);
  const badLen = Buffer.from(good);
  badLen.writeBigUInt64LE(1n << 40n, 0);
  assert.throws(() => decodeSafetensors(badLen), /header length 1099511627776 exceeds the file size/);
  assert.throws(() => decodeSafetensors(handBuilt('{garbage', [])), /header is not valid JSON/);
  assert.throws(() => decodeSafetensors(handBuilt('[1,2]   ', [])), /header is not a JSON object/);
  assert.throws(() => decodeSafetensors(good.subarray(0, good.length - 3)), /tensor "b": data_offsets \[8, 12\] run past the end of the data section \(9 bytes\); file truncated/);
  assert.throws(() => decodeSafetensors(Buffer.concat([good, Buffer.alloc(4)])), /4 trailing bytes/);
  assert.throws(() => decodeSafetensors(handBuilt('{"x":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}', [0, 0])), /tensor "x": unknown dtype "BF16"/);
  assert.throws(() => decodeSafetensors(handBuilt('{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Array(8).fill(0))),
    /tensor "x": dtype F32 shape \[3\] needs 12 bytes but data_offsets \[0, 8\] span 8/);
  assert.throws(() => decodeSafetensors(handBuilt('{"x":{"dtype":"U8","shape":[1],"data_offsets":[5,4]}}', [0])), /tensor "x": data_offsets must be \[begin, end\]/);
  assert.throws(() => decodeSafetensors(handBuilt('{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"y":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', [0, 0, 0])),
    /tensor "y" data_offsets \[1, 3\] overlap tensor "x" \[0, 2\]/);
  assert.throws(() => decodeSafetensors(handBuilt('{"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [0, 0])), /1 bytes before tensor "x" .* belong to no tensor/);
  assert.throws(() => decodeSafetensors(handBuilt('{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"x":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', [0, 0])),
    /duplicate tensor name "x"/);
  assert.throws(() => decodeSafetensors(handBuilt('{"__metadata__":{"step":3}}', [])), /"__metadata__" entry "step" must be a string/);
});

test('saveSafetensors / loadSafetensors: round trip, and errors name the file', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'w.safetensors');
  saveSafetensors(file, allDtypes(), { a: 'b' });
  assert.deepEqual(loadSafetensors(file), { tensors: allDtypes(), metadata: { a: 'b' } });
  assert.deepEqual(fs.readdirSync(dir), ['w.safetensors']);
  fs.truncateSync(file, fs.statSync(file).size - 1);
  assert.throws(() => loadSafetensors(file), (e: Error) => e.message.includes(file) && /truncated/.test(e.message));
  assert.throws(() => loadSafetensors(path.join(dir, 'nope.safetensors')), /safetensors file not found: .*nope\.safetensors/);
});

// ---------------------------------------------------------------------------------------------

const modelV = (v: number): NamedTensor[] => [
  { name: 'layer.w', dtype: 'float32', shape: [2, 3], data: new Float32Array(6).fill(v) },
  { name: 'layer.b', dtype: 'float32', shape: [3], data: new Float32Array(3).fill(-v) },
  { name: 'step', dtype: 'int64', shape: [], data: new BigInt64Array([BigInt(v)]) },
];
const expected = modelV(0).map(({ name, shape, dtype }) => ({ name, shape, dtype }));

test('saveCheckpoint / loadCheckpoint round trip with config, extra files and expected tensors', () => {
  const root = tmpDir();
  const dir = path.join(root, 'nested', 'ckpt');
  saveCheckpoint(dir, { tensors: modelV(1), config: { hidden: 3, name: 'tiny' }, extraFiles: { 'tokenizer.json': '{"v":1}\n', 'opt.bin': new Uint8Array([9, 8]) } });
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors', 'opt.bin', 'tokenizer.json']);
  assert.deepEqual([...fs.readFileSync(path.join(dir, 'opt.bin'))], [9, 8]);
  assert.ok(fs.readFileSync(path.join(dir, 'config.json'), 'utf8').endsWith('}\n'));
  const ck = loadCheckpoint(dir, expected);
  assert.equal(ck.dir, dir);
  assert.deepEqual(ck.config, { hidden: 3, name: 'tiny' });
  assert.deepEqual([...ck.tensors.keys()], ['layer.w', 'layer.b', 'step']);
  assert.deepEqual(ck.tensors.get('layer.w')!.data, new Float32Array(6).fill(1));
  assert.equal(ck.tensors.get('step')!.data[0], 1n);
  assert.throws(() => saveCheckpoint(dir, { tensors: [], config: {}, extraFiles: { '../escape': 'x' } }), /invalid extra file name "\.\.\/escape"/);
  assert.throws(() => saveCheckpoint(dir, { tensors: [], config: {}, extraFiles: { 'config.json': 'x' } }), /invalid extra file name "config\.json"/);
});

test('loadCheckpoint reports missing, unexpected, wrong-shape and wrong-dtype tensors', () => {
  const dir = path.join(tmpDir(), 'ckpt');
  saveCheckpoint(dir, { tensors: modelV(1), config: {} });
  const file = path.join(dir, 'model.safetensors').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const withMissing = [...expected, { name: 'layer.g', shape: [3], dtype: 'float32' as const }];
  assert.throws(() => loadCheckpoint(dir, withMissing), new RegExp(`checkpoint ${file} does not match the model:[^]*missing tensor "layer\\.g" \\(expected float32 \\[3\\]\\)`));
  assert.throws(() => loadCheckpoint(dir, expected.slice(0, 2)), /unexpected tensor "step" \(int64 \[\]\) not in the model/);
  const wrongShape = expected.map((e) => (e.name === 'layer.w' ? { ...e, shape: [3, 2] } : e));
  assert.throws(() => loadCheckpoint(dir, wrongShape), /tensor "layer\.w" has shape \[2, 3\] but the model expects \[3, 2\]/);
  const wrongDtype = expected.map((e) => (e.name === 'step' ? { ...e, dtype: 'int32' as const } : e));
  assert.throws(() => loadCheckpoint(dir, wrongDtype), /tensor "step" has dtype int64 but the model expects int32/);
  assert.throws(() => loadCheckpoint(path.join(dir, '..', 'other')), /checkpoint directory not found: .*other/);
  fs.writeFileSync(path.join(dir, 'config.json'), '{oops');
  assert.throws(() => loadCheckpoint(dir), /checkpoint config .*config\.json is not valid JSON/);
  fs.rmSync(path.join(dir, 'config.json'));
  assert.throws(() => loadCheckpoint(dir), /checkpoint config not found: .*config\.json/);
});

test('saveCheckpoint replaces an existing checkpoint and leaves no temp files', () => {
  const root = tmpDir();
  const dir = path.join(root, 'ckpt');
  saveCheckpoint(dir, { tensors: modelV(1), config: { v: 1 }, extraFiles: { 'stale.txt': 'old' } });
  saveCheckpoint(dir, { tensors: modelV(2), config: { v: 2 } });
  const ck = loadCheckpoint(dir, expected);
  assert.deepEqual(ck.config, { v: 2 });
  assert.deepEqual(ck.tensors.get('layer.b')!.data, new Float32Array(3).fill(-2));
  assert.deepEqual(fs.readdirSync(root), ['ckpt']);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['config.json', 'model.safetensors'], 'the old directory is replaced, not merged');
});

test('a failing saveCheckpoint leaves the old checkpoint intact and cleans up', () => {
  const root = tmpDir();
  const dir = path.join(root, 'ckpt');
  saveCheckpoint(dir, { tensors: modelV(1), config: { v: 1 } });
  const bad = modelV(2);
  bad[0] = { ...bad[0]!, data: new Float32Array(5) };
  // Rejected by validation before anything is written...
  assert.throws(() => saveCheckpoint(dir, { tensors: bad, config: { v: 2 } }), /tensor "layer\.w": data has 5 elements but shape \[2, 3\] needs 6/);
  assert.throws(() => saveCheckpoint(dir, { tensors: modelV(2), config: { big: 1n } }), /BigInt/);
  // ...and a failure halfway through writing the temp directory.
  assert.throws(() => saveCheckpoint(dir, { tensors: modelV(2), config: { v: 2 }, extraFiles: { 'x.bin': 42 as unknown as Uint8Array } }), /cannot write a number/);
  const ck = loadCheckpoint(dir, expected);
  assert.deepEqual(ck.config, { v: 1 });
  assert.deepEqual(ck.tensors.get('layer.w')!.data, new Float32Array(6).fill(1));
  assert.deepEqual(fs.readdirSync(root), ['ckpt']);
});

test('loadCheckpoint points at leftovers of an interrupted save', () => {
  const root = tmpDir();
  saveCheckpoint(path.join(root, 'ckpt.old-1-abcd'), { tensors: modelV(1), config: {} });
  assert.throws(() => loadCheckpoint(path.join(root, 'ckpt')), /not found: .*ckpt \(an interrupted save left ckpt\.old-1-abcd next to it\)/);
});

// ---------------------------------------------------------------------------------------------
// src/util/fs.ts

test('atomicWriteFile / atomicWriteJson / appendJsonl / readJsonFile', () => {
  const dir = tmpDir();
  const f = path.join(dir, 'a.json');
  atomicWriteJson(f, { a: [1, 2] });
  assert.equal(fs.readFileSync(f, 'utf8'), '{\n  "a": [\n    1,\n    2\n  ]\n}\n');
  assert.deepEqual(readJsonFile(f, 'run state'), { a: [1, 2] });
  atomicWriteFile(f, [new Uint8Array([0x7b]), Buffer.from('}')]);
  assert.equal(fs.readFileSync(f, 'utf8'), '{}');
  assert.throws(() => atomicWriteJson(f, undefined), /not JSON-serialisable/);

  // Renaming over a directory fails; the temp file must not be left behind.
  fs.mkdirSync(path.join(dir, 'sub'));
  assert.throws(() => atomicWriteFile(path.join(dir, 'sub'), 'x'));
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a.json', 'sub']);

  const log = path.join(dir, 'log.jsonl');
  appendJsonl(log, { step: 1 });
  appendJsonl(log, { step: 2, loss: 0.5 });
  assert.equal(fs.readFileSync(log, 'utf8'), '{"step":1}\n{"step":2,"loss":0.5}\n');

  assert.throws(() => readJsonFile(path.join(dir, 'missing.json'), 'run state'), /run state not found: .*missing\.json/);
  fs.writeFileSync(path.join(dir, 'bad.json'), '{"a":');
  assert.throws(() => readJsonFile(path.join(dir, 'bad.json'), 'run state'), /run state .*bad\.json is not valid JSON/);
});
