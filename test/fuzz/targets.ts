// Fuzz targets, one per boundary that takes outside bytes (issue #27). Each names its
// documented error; see harness.ts for what counts as a failure.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import jpeg from 'jpeg-js';
import YAML from 'yaml';
import { decodePng, encodePng, assertRgbImage } from '../../src/tasks/render/png.js';
import { decodeJpeg } from '../../src/tasks/render/jpeg.js';
import { IMAGE_LIMITS, ImageLimitError } from '../../src/tasks/render/image-limits.js';
import { parseChatRequest } from '../../src/serve/request.js';
import { ApiError } from '../../src/wire/errors.js';
import { parseRewardRequest, responseOf } from '../../src/serve-env/openrlhf.js';
import { parseTaskSpec } from '../../src/serve-env/task-spec.js';
import { FAMILY_IDS, getFamily, goldResponse, parseResponse, promptText, verifyResponse, oracleStep, type Instance } from '../../src/tasks/index.js';
import { loadInstances, TaskFileError } from '../../src/tasks/io.js';
import { parseOverride, type ConfigOverride } from '../../src/util/config-file.js';
import { ValidationError } from '../../src/util/schema.js';
import { loadSftConfig } from '../../src/sft/config.js';
import { loadRlConfig } from '../../src/rl/config.js';
import { decodeSafetensors, encodeSafetensors, loadCheckpoint, saveCheckpoint, type NamedTensor } from '../../src/engine/checkpoint.js';
import { readJsonFile } from '../../src/util/fs.js';
import { Tokenizer, SPECIALS } from '../../src/model/tokenizer.js';
import { OpenAIClient } from '../../src/client/client.js';
import { parseJudgeReply } from '../../src/client/judge.js';
import { mutatedBytes, oddValue, perturbed, tokenSoup, type FuzzTarget } from './harness.js';

/** An Error the code threw on purpose: not a TypeError/RangeError/SyntaxError/ReferenceError
 *  (a bug's signature) and, with `prefix`, with a message that starts with it. */
function deliberate(e: unknown, prefix?: string | RegExp): boolean {
  if (!(e instanceof Error) || e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError || e instanceof ReferenceError) return false;
  if (prefix === undefined) return true;
  return typeof prefix === 'string' ? e.message.startsWith(prefix) : prefix.test(e.message);
}

/** A broken invariant on an accepted input: always a failure. */
class Invariant extends TypeError {
  constructor(message: string) { super(message); this.name = 'Invariant'; }
}
function invariant(ok: unknown, message: string): asserts ok {
  if (!ok) throw new Invariant(message);
}

const tmpRoot = () => fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-fuzz-'));

// ---------------------------------------------------------------------------------------------
// Images

const smallImage = fc.record({ width: fc.integer({ min: 1, max: 12 }), height: fc.integer({ min: 1, max: 12 }), seed: fc.nat() }).map(({ width, height, seed }) => {
  const data = new Uint8Array(width * height * 3);
  let s = seed | 1;
  for (let i = 0; i < data.length; i++) { s = (s * 1103515245 + 12345) & 0x7fffffff; data[i] = (s >> 16) & 0xff; }
  return { width, height, data };
});

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; t[n] = c >>> 0; }
  return t;
})();
function crc32(b: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
/** Rewrites every chunk's CRC that fits, so a mutation reaches past the CRC check. */
function fixPngCrcs(u: Uint8Array): Uint8Array {
  const b = Buffer.from(u);
  let pos = 8;
  while (pos + 12 <= b.length) {
    const len = b.readUInt32BE(pos);
    if (pos + 12 + len > b.length) break;
    b.writeUInt32BE(crc32(b, pos + 4, pos + 8 + len), pos + 8 + len);
    pos += 12 + len;
  }
  return new Uint8Array(b);
}
function pngChunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out, 4, 8 + data.length), 8 + data.length);
  return out;
}
const SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const validPng = fc.tuple(smallImage, fc.constantFrom(0, 1, 2, 3, 4) as fc.Arbitrary<0 | 1 | 2 | 3 | 4>).map(([img, f]) => new Uint8Array(encodePng(img, { filter: f })));
/** A PNG built chunk by chunk: any IHDR fields, optional PLTE, IDATs of deflated random rows. */
const craftedPng = fc.record({
  width: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(8192, 8193, 4096, 65535, 2 ** 31, 2 ** 32 - 1)),
  height: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.constantFrom(8192, 4096, 1, 2 ** 32 - 1)),
  depth: fc.constantFrom(8, 8, 8, 1, 16), ctype: fc.constantFrom(0, 2, 3, 4, 6, 6, 5), interlace: fc.constantFrom(0, 0, 0, 1),
  palette: fc.option(fc.uint8Array({ maxLength: 60 })), raw: fc.uint8Array({ maxLength: 4000 }), zeros: fc.integer({ min: 0, max: 1 << 20 }),
  split: fc.integer({ min: 1, max: 3 }), end: fc.boolean(),
}).map((p) => {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(p.width >>> 0, 0); ihdr.writeUInt32BE(p.height >>> 0, 4);
  ihdr[8] = p.depth; ihdr[9] = p.ctype; ihdr[12] = p.interlace;
  // Random row bytes then a run of zeros: a small file that inflates to a lot.
  const z = zlib.deflateSync(Buffer.concat([Buffer.from(p.raw), Buffer.alloc(p.zeros)]));
  const parts = [SIG, pngChunk('IHDR', ihdr)];
  if (p.palette) parts.push(pngChunk('PLTE', p.palette));
  const step = Math.ceil(z.length / p.split);
  for (let i = 0; i < z.length; i += step) parts.push(pngChunk('IDAT', z.subarray(i, i + step)));
  if (p.end) parts.push(pngChunk('IEND', new Uint8Array(0)));
  return new Uint8Array(Buffer.concat(parts));
});

const pngInput = fc.oneof(
  { weight: 3, arbitrary: mutatedBytes(validPng) },
  { weight: 3, arbitrary: mutatedBytes(validPng).map(fixPngCrcs) },
  { weight: 3, arbitrary: craftedPng },
  { weight: 1, arbitrary: mutatedBytes(craftedPng).map(fixPngCrcs) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array(Buffer.concat([SIG, b]))) },
);

function checkDecoded(img: { width: number; height: number; data: Uint8Array }): void {
  assertRgbImage(img);
  invariant(img.width <= IMAGE_LIMITS.maxSide && img.height <= IMAGE_LIMITS.maxSide && img.width * img.height <= IMAGE_LIMITS.maxPixels, `decoded ${img.width}x${img.height} is over the limits`);
}

export const pngTarget: FuzzTarget<Uint8Array> = {
  name: 'png',
  about: 'decodePng (task files, ivr serve images): an RgbImage within IMAGE_LIMITS, or an Error "PNG: ..." (ImageLimitError over the limits)',
  arbitrary: pngInput,
  run: (b) => checkDecoded(decodePng(b)),
  expected: (e) => e instanceof ImageLimitError || deliberate(e, 'PNG: '),
};

const validJpeg = fc.tuple(smallImage, fc.integer({ min: 5, max: 95 })).map(([img, q]) => {
  const rgba = Buffer.alloc(img.width * img.height * 4, 255);
  for (let p = 0; p < img.width * img.height; p++) rgba.set(img.data.subarray(p * 3, p * 3 + 3), p * 4);
  return new Uint8Array(jpeg.encode({ data: rgba, width: img.width, height: img.height }, q).data);
});
/** A valid JPEG whose frame header claims another size (the decoder must not trust it blindly). */
const resizedJpeg = fc.tuple(validJpeg, fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 65535 })).map(([b, w, h]) => {
  const out = Buffer.from(b);
  for (let i = 2; i + 9 < out.length; i++) {
    if (out[i] === 0xff && out[i + 1] === 0xc0) { out.writeUInt16BE(h, i + 5); out.writeUInt16BE(w, i + 7); break; }
  }
  return new Uint8Array(out);
});

export const jpegTarget: FuzzTarget<Uint8Array> = {
  name: 'jpeg',
  about: 'decodeJpeg (ivr serve images): an RgbImage within IMAGE_LIMITS, or an Error "JPEG: ..." (ImageLimitError over the limits)',
  arbitrary: fc.oneof({ weight: 4, arbitrary: mutatedBytes(validJpeg) }, { weight: 2, arbitrary: mutatedBytes(resizedJpeg) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array(Buffer.concat([Buffer.from([0xff, 0xd8]), b]))) }),
  run: (b) => checkDecoded(decodeJpeg(b)),
  expected: (e) => e instanceof ImageLimitError || deliberate(e, 'JPEG: '),
};

// ---------------------------------------------------------------------------------------------
// ivr serve: chat-completion request bodies

const tinyPngUrl = 'data:image/png;base64,' + encodePng({ width: 2, height: 2, data: new Uint8Array(12) }).toString('base64');
const textish = fc.oneof(fc.string({ maxLength: 30 }), tokenSoup(['<think>', '</think>', '<answer>', '</answer>', '\n', 'moves RRDL'], 8));
const part = fc.oneof(
  fc.record({ type: fc.constant('text'), text: textish }),
  fc.record({ type: fc.constant('image_url'), image_url: fc.oneof(fc.record({ url: fc.constantFrom(tinyPngUrl, 'http://x/y.png', 'data:,', '') }), fc.constant(tinyPngUrl)) }),
).map((p) => p as Record<string, unknown>);
const message = perturbed(fc.record({
  role: fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'bogus'),
  content: fc.oneof(textish, fc.array(perturbed(part), { maxLength: 3 }), fc.constant(null)),
}));
const chatBody = perturbed(fc.record({
  model: fc.constantFrom('tiny', ''),
  messages: fc.array(message, { maxLength: 3 }),
  temperature: fc.option(fc.double({ min: -1, max: 3 })), top_p: fc.option(fc.double({ min: -0.5, max: 1.5 })),
  max_tokens: fc.option(fc.integer({ min: -2, max: 1 << 21 })), n: fc.option(fc.integer({ min: -1, max: 20 })),
  stop: fc.option(fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 6 }))), seed: fc.option(fc.integer()),
  logprobs: fc.option(fc.boolean()), top_logprobs: fc.option(fc.integer({ min: -1, max: 25 })), stream: fc.option(fc.boolean()),
  stream_options: fc.option(fc.record({ include_usage: fc.boolean() })),
}, { requiredKeys: ['model', 'messages'] }));

export const chatRequestTarget: FuzzTarget<unknown> = {
  name: 'chat-request',
  about: 'parseChatRequest (POST /v1/chat/completions of ivr serve): a ChatRequest, or ApiError 400 naming the field',
  // Through JSON, as the server sees it (no undefined, no -0).
  arbitrary: fc.oneof({ weight: 9, arbitrary: chatBody }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) }).map((v) => JSON.parse(JSON.stringify(v) ?? 'null')),
  run: (body) => {
    const r = parseChatRequest(body, { maxN: 8 });
    invariant(r.messages.length >= 1 && r.n >= 1 && r.n <= 8, 'accepted a request without messages or with n out of range');
    for (const m of r.messages) for (const p of m.parts) invariant(p.type === 'text' ? typeof p.text === 'string' : typeof p.url === 'string', 'a part of the wrong type was accepted');
  },
  expected: (e) => e instanceof ApiError && e.status === 400,
};

// ---------------------------------------------------------------------------------------------
// ivr serve-env: /get_reward bodies and task specs

const instanceId = fc.oneof(
  fc.tuple(fc.constantFrom(...FAMILY_IDS, 'nope'), fc.nat({ max: 2 ** 33 }), fc.integer({ min: 0, max: 12 })).map(([f, s, h]) => `${f}-${s}-${h}`),
  fc.string({ maxLength: 20 }),
);
const externalTask = perturbed(fc.record({
  image: fc.oneof(fc.constant(tinyPngUrl), mutatedBytes(validPng).map((b) => Buffer.from(b).toString('base64')), mutatedBytes(validJpeg).map((b) => 'data:image/jpeg;base64,' + Buffer.from(b).toString('base64')), fc.string({ maxLength: 20 })),
  question: fc.constantFrom('moves RRDL', 'how many red', ' ', ''), answer: fc.constantFrom('32', '3', 'x'),
  prior: fc.option(fc.record({ family: fc.constantFrom(...FAMILY_IDS, 'x'), scene: oddValue, horizon: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }) }), { nil: undefined }),
}, { requiredKeys: ['image', 'question', 'answer'] }));
const label = fc.oneof(instanceId, fc.record({ id: instanceId }), externalTask, externalTask.map((t) => JSON.stringify(t)), oddValue);
const query = tokenSoup(['<|im_start|>assistant\n', '<|im_end|>', '<eos>', '<pad>', '[/INST]', '<think>', '</think>', '<answer>', '</answer>', '\n', ' ', 'R 23 o 23'], 12);
const rewardBody = fc.integer({ min: 0, max: 4 }).chain((n) => perturbed(fc.record({
  query: fc.array(query, { minLength: n, maxLength: n }),
  prompts: fc.option(fc.array(fc.oneof(fc.string({ maxLength: 20 }), fc.constant('<think>\n')), { minLength: n, maxLength: n })),
  labels: fc.array(label, { minLength: n, maxLength: n }),
})));

export const envRequestTarget: FuzzTarget<unknown> = {
  name: 'serve-env-request',
  about: 'parseRewardRequest / parseTaskSpec (POST /get_reward, /v1/verify of ivr serve-env): samples, or ApiError 400 naming the field',
  arbitrary: fc.oneof({ weight: 6, arbitrary: rewardBody }, { weight: 3, arbitrary: fc.record({ task: label }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) }).map((v) => JSON.parse(JSON.stringify(v) ?? 'null')),
  run: (body) => {
    if (body && typeof body === 'object' && !Array.isArray(body) && 'task' in body) {
      parseTaskSpec((body as { task: unknown }).task, 'task');
      return;
    }
    for (const s of parseRewardRequest(body, 16)) invariant(typeof s.response === 'string', 'a sample without a response string');
  },
  expected: (e) => e instanceof ApiError && e.status === 400,
};

// ---------------------------------------------------------------------------------------------
// Task JSONL files (ivr eval --tasks, ivr synth --tasks)

function goldRecord(family: string, seed: number, hRaw: number): Record<string, unknown> {
  const fam = getFamily(family as Instance['family']);
  const [lo, hi] = fam.horizonLimits;
  const inst = fam.generate(seed, lo + (hRaw % (hi - lo + 1)));
  return { id: inst.id, family: inst.family, seed: inst.seed, horizon: inst.horizon, question: inst.question, scene: inst.scene, steps: inst.steps, answer: inst.answer, prompt: promptText(inst), response: goldResponse(inst) };
}
const recordArb = fc.tuple(fc.constantFrom(...FAMILY_IDS), fc.nat({ max: 1000 }), fc.nat()).map(([f, s, h]) => goldRecord(f, s, h));
const jsonlLine = fc.oneof(
  { weight: 3, arbitrary: recordArb.map((r) => JSON.stringify(r)) },
  { weight: 5, arbitrary: perturbed(recordArb).map((r) => JSON.stringify(r)) },
  { weight: 2, arbitrary: fc.tuple(recordArb, fc.nat(), fc.nat()).map(([r, a, b]) => { const s = JSON.stringify(r); return s.slice(0, a % s.length) + s.slice((a % s.length) + (b % 4)); }) },
  { weight: 1, arbitrary: fc.oneof(fc.constant(''), fc.constant('\r'), fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v))) },
);
let tasksDir = '';
export const taskJsonlTarget: FuzzTarget<string[]> = {
  name: 'task-jsonl',
  about: 'loadInstances (ivr eval --tasks, ivr synth --tasks): instances, or TaskFileError naming file, line and field',
  arbitrary: fc.array(jsonlLine, { maxLength: 5 }),
  setup: () => { tasksDir = tmpRoot(); },
  teardown: () => fs.rmSync(tasksDir, { recursive: true, force: true }),
  run: (lines) => {
    const file = path.join(tasksDir, 'tasks.jsonl');
    fs.writeFileSync(file, lines.join('\n'));
    for (const inst of loadInstances(file, { checkImages: true })) {
      invariant(verifyResponse(inst, goldResponse(inst)).complete, `instance ${inst.id} loaded but its gold response does not verify`);
    }
  },
  expected: (e) => e instanceof TaskFileError,
};

// ---------------------------------------------------------------------------------------------
// Config files (JSON and YAML) with --set overrides

const sftBase = JSON.parse(fs.readFileSync(new URL('../../../configs/sft-base.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const rlBase = JSON.parse(fs.readFileSync(new URL('../../../configs/grpo-smoke.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const override = fc.oneof(
  fc.tuple(fc.constantFrom('lr', 'seed', 'iterations', 'group_size', 'method', 'a.b', 'prompts.curriculum.x', 'ivr.rounds', 'x', '', '1a', 'a..b', '__proto__.x', 'constructor.prototype'), fc.constantFrom('=', '=', ' = ', ''), fc.oneof(fc.constantFrom('1', '1e-4', 'true', 'null', '[1', '{a: 1}', '""', '', '*a', '&a [*a, *a]', '!!binary x', '- x', '"', "'"), fc.string({ maxLength: 12 }))).map(([k, eq, v]) => `${k}${eq}${v}`),
  fc.string({ maxLength: 20 }),
);
const configText = fc.tuple(fc.constantFrom(sftBase, rlBase), fc.boolean()).chain(([base, yaml]) => fc.oneof(
  { weight: 4, arbitrary: perturbed(fc.constant(base)).map((v) => (yaml ? YAML.stringify(v) : JSON.stringify(v))) },
  { weight: 1, arbitrary: tokenSoup(['{', '}', '[', ']', ':', ',', '"lr"', 'lr: ', '- ', '\n', '  ', '&a ', '*a', '!!str', '---', '#', '1e-4', 'null'], 20) },
).map((text) => ({ text, yaml, rl: base === rlBase })));
let configDir = '';
export const configTarget: FuzzTarget<{ file: { text: string; yaml: boolean; rl: boolean }; sets: string[] }> = {
  name: 'config',
  about: 'loadRlConfig / loadSftConfig with --set (ivr train, ivr sft): a config, or ConfigError naming the file and key (parseOverride: an Error saying what is wrong with the text)',
  arbitrary: fc.record({ file: configText, sets: fc.array(override, { maxLength: 3 }) }),
  setup: () => { configDir = tmpRoot(); },
  teardown: () => fs.rmSync(configDir, { recursive: true, force: true }),
  run: ({ file, sets }) => {
    const overrides: ConfigOverride[] = [];
    for (const s of sets) {
      try { overrides.push(parseOverride(s)); } catch (e) {
        if (!deliberate(e, /^(Expected key\.path=value|The value of )/)) throw e;
      }
    }
    const f = path.join(configDir, file.yaml ? 'c.yaml' : 'c.json');
    fs.writeFileSync(f, file.text);
    if (file.rl) loadRlConfig(f, {}, overrides);
    else loadSftConfig(f, overrides);
  },
  expected: (e) => e instanceof ValidationError,
};

// ---------------------------------------------------------------------------------------------
// safetensors headers and checkpoint directories

const tensorArb: fc.Arbitrary<NamedTensor> = fc.record({
  name: fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom('0', '1', 'w.a', 'x::m')),
  dtype: fc.constantFrom('float32', 'float64', 'int32', 'int64', 'uint8') as fc.Arbitrary<NamedTensor['dtype']>,
  shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  fill: fc.double({ noNaN: true, noDefaultInfinity: true, min: -10, max: 10 }),
}).filter((t) => t.name !== '__metadata__').map(({ name, dtype, shape, fill }) => {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'float32' ? new Float32Array(n).fill(fill) : dtype === 'float64' ? new Float64Array(n).fill(fill) : dtype === 'int32' ? new Int32Array(n).fill(Math.trunc(fill)) : dtype === 'int64' ? new BigInt64Array(n).fill(BigInt(Math.trunc(fill))) : new Uint8Array(n).fill(Math.abs(Math.trunc(fill)));
  return { name, dtype, shape, data };
});
const tensors = fc.uniqueArray(tensorArb, { selector: (t) => t.name, maxLength: 4 });
const validSafetensors = fc.tuple(tensors, fc.option(fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }))).map(([t, m]) => new Uint8Array(encodeSafetensors(t, m ?? undefined)));
/** A safetensors file with a generated header: entries of odd dtypes, shapes and offsets. */
const craftedSafetensors = fc.record({
  entries: fc.array(fc.tuple(fc.string({ maxLength: 6 }), perturbed(fc.record({ dtype: fc.constantFrom('F32', 'F64', 'I32', 'I64', 'U8', 'BF16', 'f32'), shape: fc.array(fc.oneof(fc.nat(8), oddValue), { maxLength: 3 }), data_offsets: fc.array(fc.oneof(fc.nat(64), oddValue), { maxLength: 3 }) }))), { maxLength: 4 }),
  data: fc.nat(128), lenDelta: fc.constantFrom(0, 0, 0, 1, -1, 2 ** 40), dup: fc.boolean(),
}).map(({ entries, data, lenDelta, dup }) => {
  const kv = entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  if (dup && kv.length) kv.push(kv[0]!);
  const header = Buffer.from(`{${kv.join(',')}}`);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Math.max(0, header.length + lenDelta)));
  return new Uint8Array(Buffer.concat([len, header, Buffer.alloc(data)]));
});

export const safetensorsTarget: FuzzTarget<Uint8Array> = {
  name: 'safetensors',
  about: 'decodeSafetensors (checkpoints from disk): tensors that tile the data section, or an Error "safetensors <file>: ..."',
  arbitrary: fc.oneof({ weight: 4, arbitrary: mutatedBytes(validSafetensors) }, { weight: 4, arbitrary: craftedSafetensors }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }) }),
  run: (b) => {
    const { tensors: ts } = decodeSafetensors(b, 'fuzz');
    for (const t of ts) invariant(t.data.length === t.shape.reduce((a, c) => a * c, 1), `tensor ${t.name}: data length ${t.data.length} does not match shape [${t.shape}]`);
  },
  expected: (e) => deliberate(e, 'safetensors fuzz: '),
};

const tokenizerJson = fc.oneof(
  fc.constant(new Tokenizer().toJson() as unknown),
  perturbed(fc.constant(new Tokenizer().toJson() as unknown as Record<string, unknown>)),
  fc.record({ kind: fc.constant('ivr-char-v1'), specials: fc.oneof(fc.constant([...SPECIALS] as unknown[]), fc.array(oddValue, { maxLength: 10 }), fc.array(fc.string({ maxLength: 9 }), { maxLength: 10 }).map((a) => [...SPECIALS.slice(0, 4), ...a])), chars: fc.oneof(fc.string({ maxLength: 100 }), oddValue) }),
);
const checkpointCase = fc.record({
  weights: fc.oneof(fc.constant(null), mutatedBytes(validSafetensors)),
  config: fc.oneof(fc.constant(null), perturbed(fc.constant({ model: { dim: 8 }, step: 3 } as Record<string, unknown>)).map((c) => JSON.stringify(c)), fc.string({ maxLength: 20 })),
  tokenizer: fc.oneof(tokenizerJson.map((j) => JSON.stringify(j)), fc.string({ maxLength: 20 })),
  tensors,
});
let ckptDir = '';
export const checkpointTarget: FuzzTarget<any> = {
  name: 'checkpoint-dir',
  about: 'loadCheckpoint + tokenizer.json (ivr eval/serve/train --resume on a checkpoint directory): weights, config and a working tokenizer, or an Error naming the file',
  arbitrary: checkpointCase,
  setup: () => { ckptDir = tmpRoot(); },
  teardown: () => fs.rmSync(ckptDir, { recursive: true, force: true }),
  run: (c: { weights: Uint8Array | null; config: string | null; tokenizer: string; tensors: NamedTensor[] }) => {
    const dir = path.join(ckptDir, 'ck');
    fs.rmSync(dir, { recursive: true, force: true });
    // A real save, then the damage: checksums in config.json must catch damaged weights.
    saveCheckpoint(dir, { tensors: c.tensors, config: { model: { dim: 8 } } });
    if (c.weights) fs.writeFileSync(path.join(dir, 'model.safetensors'), c.weights);
    if (c.config !== null) fs.writeFileSync(path.join(dir, 'config.json'), c.config);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), c.tokenizer);
    loadCheckpoint(dir);
    const tok = Tokenizer.fromJson(readJsonFile(path.join(dir, 'tokenizer.json'), 'tokenizer'), 'tokenizer.json');
    const ids = tok.encode('<think>\nR 23 o 23\n</think><answer>32</answer><x');
    invariant(typeof tok.decode(ids) === 'string', 'decode did not return a string');
  },
  expected: (e) => deliberate(e),
};

// ---------------------------------------------------------------------------------------------
// Tokenizer decode of arbitrary ids

const defaultTokenizer = new Tokenizer();
export const tokenizerTarget: FuzzTarget<{ ids: number[]; text: string }> = {
  name: 'tokenizer',
  about: 'Tokenizer.decode of arbitrary ids (a model or a client may produce any id) and encode of any text: never throws',
  arbitrary: fc.record({
    ids: fc.array(fc.oneof(fc.integer({ min: -2, max: 110 }), fc.integer(), fc.double(), fc.constantFrom(NaN, Infinity, -0, 0.5, 2 ** 53)), { maxLength: 200 }),
    text: fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), tokenSoup([...SPECIALS, '<', '>', '/', 'R 23'], 20)),
  }),
  run: ({ ids, text }) => {
    const s = defaultTokenizer.decode(ids);
    invariant(typeof s === 'string', 'decode did not return a string');
    const enc = defaultTokenizer.encode(text);
    invariant(enc.every((i) => Number.isInteger(i) && i >= 0 && i < defaultTokenizer.vocabSize), 'encode gave an id outside the vocabulary');
    invariant(defaultTokenizer.encode(defaultTokenizer.decode(enc)).length === enc.length, 'decode(encode(text)) does not re-encode to as many ids');
  },
  expected: () => false,
};

// ---------------------------------------------------------------------------------------------
// Step parser, verifier and judge replies on arbitrary response text

const instances = FAMILY_IDS.flatMap((f) => [1, 2].map((s) => { const fam = getFamily(f); return fam.generate(s, fam.horizonLimits[0] + s); }));
const responseTokens = ['<think>', '</think>', '<answer>', '</answer>', '\n', '\r\n', ' ', ...new Set(instances.flatMap((i) => [...i.steps, i.answer]))];
export const stepParserTarget: FuzzTarget<{ inst: number; text: string; judge: string }> = {
  name: 'step-parser',
  about: 'parseResponse, verifyResponse, oracleStep and parseJudgeReply on arbitrary response text: never throw, finish in time',
  arbitrary: fc.record({
    inst: fc.nat(instances.length - 1),
    text: fc.oneof(tokenSoup(responseTokens, 30), fc.string({ unit: 'binary', maxLength: 100 })),
    judge: tokenSoup(['```', '```json', '{', '}', '"first_error_step"', '"kind"', '"reason"', ':', ',', 'null', '1', '"visual"', '"x"', '\n', ' '], 25),
  }),
  run: ({ inst: k, text, judge }) => {
    const inst = instances[k]!;
    const p = parseResponse(text);
    invariant(Array.isArray(p.steps) && (p.answer === null || typeof p.answer === 'string'), 'parseResponse returned a bad shape');
    const v = verifyResponse(inst, text);
    invariant(v.verifiedPrefix.length <= p.steps.length, 'verified prefix longer than the steps');
    oracleStep(inst, v.verifiedPrefix);
    parseJudgeReply(judge, p.steps.length);
    responseOf(text, judge);
  },
  expected: () => false,
};

// ---------------------------------------------------------------------------------------------
// Remote server replies to the OpenAI client

interface Reply { status: number; body: string; cut: number | null; retryAfter: string | null }
const goodCompletion = fc.record({
  id: fc.string({ maxLength: 8 }), model: fc.string({ maxLength: 8 }),
  choices: fc.array(perturbed(fc.record({ index: fc.nat(3), message: perturbed(fc.record({ role: fc.constant('assistant'), content: fc.option(fc.string({ maxLength: 40 })) })).map((m) => m as unknown), finish_reason: fc.constantFrom('stop', 'length', null) })), { maxLength: 3 }),
  usage: fc.option(perturbed(fc.record({ prompt_tokens: fc.nat(), completion_tokens: fc.nat(), total_tokens: fc.nat() })), { nil: undefined }),
});
const replyArb: fc.Arbitrary<Reply> = fc.record({
  status: fc.constantFrom(200, 200, 200, 200, 201, 400, 404, 429, 500, 503),
  body: fc.oneof(
    { weight: 5, arbitrary: perturbed(goodCompletion).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.constantFrom('', 'data: {"choices": []}\n\n', 'data: [DONE]', '{"error": {"message": "x"}}', '{"error": "bad"}', '<html>', 'null') },
    { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map((s) => JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content: s.repeat(200_000) }, finish_reason: 'stop' }] })) },
  ),
  cut: fc.option(fc.nat(), { freq: 4 }),
  retryAfter: fc.option(fc.constantFrom('1', '-1', 'abc', '1e9')),
});
const realFetch = globalThis.fetch;
let client: OpenAIClient | null = null;
export const clientTarget: FuzzTarget<Reply> = {
  name: 'client-replies',
  about: 'OpenAIClient.chat against any server reply (wrong types, huge fields, bodies cut off mid-way): a completion whose choices have a string-or-null content and numeric usage, or ApiError',
  arbitrary: replyArb,
  setup: () => {
    client = new OpenAIClient({ endpoints: ['http://127.0.0.1:9/v1'], maxRetries: 0, retryBaseMs: 0, retryMaxMs: 0, timeoutMs: 2000 });
  },
  teardown: () => { globalThis.fetch = realFetch; client = null; },
  run: async (r) => {
    globalThis.fetch = (async () => {
      const bytes = Buffer.from(r.body);
      const cut = r.cut === null ? null : r.cut % (bytes.length + 1);
      // A body cut off mid-way: the stream errors after `cut` bytes, as a dropped connection does.
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          if (cut === null) { c.enqueue(bytes); c.close(); return; }
          c.enqueue(bytes.subarray(0, cut));
          c.error(new TypeError('terminated'));
        },
      });
      return new Response(stream, { status: r.status, headers: { 'content-type': 'application/json', ...(r.retryAfter ? { 'retry-after': r.retryAfter } : {}) } });
    }) as typeof fetch;
    try {
      const res = await client!.chat({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      invariant(Array.isArray(res.choices), 'accepted a reply without a choices array');
      for (const c of res.choices) {
        invariant(c !== null && typeof c === 'object' && c.message !== null && typeof c.message === 'object', 'accepted a choice without a message object');
        invariant(c.message.content === null || c.message.content === undefined || typeof c.message.content === 'string', `accepted message.content of type ${typeof c.message.content}`);
        // What the consumers do with it (RemoteReasoner, RemoteJudge).
        parseJudgeReply(c.message.content ?? '', 3);
        parseResponse(c.message.content ?? '');
      }
      invariant(Number.isFinite(client!.counters.promptTokens) && Number.isFinite(client!.counters.completionTokens), 'usage counters are no longer numbers');
    } finally {
      globalThis.fetch = realFetch;
    }
  },
  expected: (e) => e instanceof ApiError,
};

export const TARGETS: FuzzTarget[] = [pngTarget, jpegTarget, chatRequestTarget, envRequestTarget, taskJsonlTarget, configTarget, safetensorsTarget, checkpointTarget, tokenizerTarget, stepParserTarget, clientTarget];
