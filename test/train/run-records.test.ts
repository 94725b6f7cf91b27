// Run records (#15 item 6): TensorBoard event files mirroring metrics.jsonl, and run.json.
// The event files are read back with a decoder written here from the TFRecord and protobuf
// specs (bitwise CRC32C, generic wire-format parser), independent of src/train/tfevents.ts,
// so the test checks the format rather than the writer agreeing with itself.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RunDir } from '../../src/train/run-dir.js';
import type { RunRecordFile } from '../../src/train/run-record.js';
import { crc32c } from '../../src/train/tfevents.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const RUN_DIR_JS = path.join(REPO, 'dist/src/train/run-dir.js');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-run-records-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = () => path.join(root, `d${counter++}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- independent reader -------------------------------------------------------------------

function crc32cBitwise(bytes: Uint8Array): number {
  let c = ~0 >>> 0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return (~c) >>> 0;
}
const masked = (bytes: Uint8Array) => {
  const c = crc32cBitwise(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) % 2 ** 32;
};

type Field = { field: number; wire: number; value: bigint | Uint8Array };

function protoFields(p: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = () => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      assert.ok(i < p.length, 'truncated varint');
      const b = p[i++];
      v += BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
    }
  };
  while (i < p.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (wire === 0) out.push({ field, wire, value: varint() });
    else if (wire === 1 || wire === 5) { const n = wire === 1 ? 8 : 4; out.push({ field, wire, value: p.slice(i, i + n) }); i += n; }
    else if (wire === 2) { const n = Number(varint()); out.push({ field, wire, value: p.slice(i, i + n) }); i += n; }
    else assert.fail(`wire type ${wire}`);
  }
  assert.equal(i, p.length, 'fields overran the message');
  return out;
}

interface Ev { wallTime: number; step: number; fileVersion?: string; scalars?: Map<string, number> }

function readEvents(file: string): Ev[] {
  const buf = fs.readFileSync(file);
  const events: Ev[] = [];
  let off = 0;
  while (off < buf.length) {
    const lenBytes = buf.subarray(off, off + 8);
    assert.equal(buf.readUInt32LE(off + 8), masked(lenBytes), `length CRC at ${off}`);
    const len = Number(buf.readBigUInt64LE(off));
    const payload = buf.subarray(off + 12, off + 12 + len);
    assert.equal(payload.length, len, 'truncated record');
    assert.equal(buf.readUInt32LE(off + 12 + len), masked(payload), `payload CRC at ${off}`);
    off += 16 + len;
    const ev: Ev = { wallTime: NaN, step: 0 };
    for (const f of protoFields(payload)) {
      if (f.field === 1 && f.wire === 1) ev.wallTime = Buffer.from(f.value as Uint8Array).readDoubleLE(0);
      else if (f.field === 2 && f.wire === 0) ev.step = Number(BigInt.asIntN(64, f.value as bigint));
      else if (f.field === 3 && f.wire === 2) ev.fileVersion = Buffer.from(f.value as Uint8Array).toString('utf8');
      else if (f.field === 5 && f.wire === 2) {
        ev.scalars = new Map();
        for (const v of protoFields(f.value as Uint8Array)) {
          assert.equal(v.field, 1, 'Summary holds only values');
          let tag = '';
          let value = NaN;
          for (const x of protoFields(v.value as Uint8Array)) {
            if (x.field === 1) tag = Buffer.from(x.value as Uint8Array).toString('utf8');
            if (x.field === 2) { assert.equal(x.wire, 5, 'simple_value is a float'); value = Buffer.from(x.value as Uint8Array).readFloatLE(0); }
          }
          ev.scalars.set(tag, value);
        }
      } else assert.fail(`unexpected Event field ${f.field} (wire ${f.wire})`);
    }
    events.push(ev);
  }
  return events;
}

function eventFile(dir: string): string {
  const files = fs.readdirSync(dir).filter((f) => f.startsWith('events.'));
  assert.equal(files.length, 1, `one event file in ${dir}: ${files.join(', ')}`);
  assert.match(files[0], new RegExp(`^events\\.out\\.tfevents\\.\\d{10}\\.${os.hostname().replace(/[.]/g, '\\.')}$`));
  return path.join(dir, files[0]);
}

const scalarEvents = (dir: string) => {
  const evs = readEvents(eventFile(dir));
  assert.equal(evs[0].fileVersion, 'brain.Event:2', 'the first record names the format version');
  return evs.slice(1);
};

// ---- TensorBoard ----------------------------------------------------------------------------

test('crc32c matches the Castagnoli check value and the bitwise reference', () => {
  const check = Buffer.from('123456789');
  assert.equal(crc32cBitwise(check), 0xe3069283);
  assert.equal(crc32c(check), 0xe3069283);
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
  assert.equal(crc32c(bytes), crc32cBitwise(bytes));
});

test('metrics rows become scalar events: step from iter, numbers as tags, nested objects flattened', () => {
  const dir = fresh();
  const run = new RunDir(dir);
  const t0 = Date.now() / 1000;
  run.open({ a: 1 }, { kind: 'rl', resume: false });
  const rows = [
    { iter: 1, loss: 0.1, reward_mean: -2.5, method: 'ivr', done: true, hist: [1, 2], val_by_family: { grid: 0.5, chart: 1 / 3 } },
    { iter: 2, loss: 1e-7, reward_mean: 3, nothing: null },
    { iter: 3, loss: 123456.789, reward_mean: 0, ivr_error_kinds: { wrong_cell: 2, deep: { x: 4 } } },
  ];
  for (const r of rows) run.logMetrics(r);
  run.close();
  const t1 = Date.now() / 1000;
  const evs = scalarEvents(dir);
  assert.deepEqual(evs.map((e) => e.step), [1, 2, 3]);
  for (const e of evs) assert.ok(e.wallTime >= t0 - 1 && e.wallTime <= t1 + 1, `wall time ${e.wallTime} in [${t0}, ${t1}]`);
  const f = Math.fround;
  assert.deepEqual([...evs[0].scalars!], [['loss', f(0.1)], ['reward_mean', -2.5], ['val_by_family/grid', 0.5], ['val_by_family/chart', f(1 / 3)]]);
  assert.deepEqual([...evs[1].scalars!], [['loss', f(1e-7)], ['reward_mean', 3]]);
  assert.deepEqual([...evs[2].scalars!], [['loss', f(123456.789)], ['reward_mean', 0], ['ivr_error_kinds/wrong_cell', 2], ['ivr_error_kinds/deep/x', 4]]);
});

test('SFT rows count `step`; a new fresh run replaces the old event file', () => {
  const dir = fresh();
  const run = new RunDir(dir);
  run.open({ a: 1 }, { kind: 'sft', resume: false });
  run.logMetrics({ step: 10, loss: 2 });
  run.logMetrics({ step: 20, loss: 1, val_accuracy: 0.25 });
  run.close();
  assert.deepEqual(scalarEvents(dir).map((e) => [e.step, [...e.scalars!]]), [[10, [['loss', 2]]], [20, [['loss', 1], ['val_accuracy', 0.25]]]]);
  run.open({ a: 2 }, { kind: 'sft', resume: false });
  assert.equal(fs.readdirSync(dir).filter((f) => f.startsWith('events.')).length, 0, 'a fresh start drops the old events with metrics.jsonl');
  run.logMetrics({ step: 1, loss: 7 });
  run.close();
  assert.deepEqual(scalarEvents(dir).map((e) => [e.step, [...e.scalars!]]), [[1, [['loss', 7]]]]);
});

test('resume: rows after the checkpoint leave the event file too, earlier steps keep their wall times', async () => {
  const dir = fresh();
  const first = new RunDir(dir);
  first.open({ a: 1 }, { kind: 'rl', resume: false });
  for (let i = 1; i <= 4; i++) first.logMetrics({ iter: i, loss: i });
  first.close();
  const before = scalarEvents(dir);
  await sleep(30);
  // A crash mid-append leaves a torn record; the rebuild must not carry it over.
  fs.appendFileSync(eventFile(dir), Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 1, 2]));
  const again = new RunDir(dir);
  again.open({ a: 1 }, { kind: 'rl', resume: true });
  again.truncateMetrics((r) => (r.iter as number) <= 2);
  assert.deepEqual(scalarEvents(dir).map((e) => e.step), [1, 2], 'truncation rewrites the event file at once');
  again.logMetrics({ iter: 3, loss: 30 });
  again.close();
  const evs = scalarEvents(dir);
  assert.deepEqual(evs.map((e) => [e.step, e.scalars!.get('loss')]), [[1, 1], [2, 2], [3, 30]]);
  assert.deepEqual(evs.slice(0, 2).map((e) => e.wallTime), before.slice(0, 2).map((e) => e.wallTime));
  assert.ok(evs[2].wallTime > before[3].wallTime, 'the replayed step is stamped when it was trained again');
});

// ---- run.json -------------------------------------------------------------------------------

const readRecord = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecordFile;
const versionOf = (pkgJson: string) => (JSON.parse(fs.readFileSync(pkgJson, 'utf8')) as { version: string }).version;

test('run.json records commit, argv, versions and machine, and one session per start or resume', () => {
  const dir = fresh();
  const run = new RunDir(dir);
  const t0 = new Date().toISOString();
  run.open({ a: 1 }, { kind: 'sft', resume: false });
  let rec = readRecord(dir);
  assert.equal(rec.sessions.length, 1);
  const s = rec.sessions[0];
  assert.equal(s.end, undefined, 'no end while the run is open');
  assert.ok(s.start >= t0);
  assert.deepEqual([s.kind, s.resumed, s.pid, s.host, s.cwd], ['sft', false, process.pid, os.hostname(), process.cwd()]);
  assert.deepEqual(s.argv, process.argv);
  assert.deepEqual(s.versions, {
    ivr_r1: versionOf(path.join(REPO, 'package.json')),
    node: process.version,
    onnxruntime_node: versionOf(path.join(REPO, 'node_modules/onnxruntime-node/package.json')),
  });
  assert.equal(s.platform.cpus, os.cpus().length);
  assert.equal(s.platform.os, process.platform);
  let head = 'unknown';
  try { head = execFileSync('git', ['-C', REPO, 'rev-parse', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { /* not a checkout */ }
  assert.equal(s.git.commit, head);
  if (head === 'unknown') assert.deepEqual(s.git, { commit: 'unknown', short: 'unknown', dirty: null });
  else { assert.equal(s.git.short, head.slice(0, 7)); assert.equal(typeof s.git.dirty, 'boolean'); }
  run.close();
  rec = readRecord(dir);
  assert.ok(rec.sessions[0].end! >= rec.sessions[0].start, 'close() writes the end time');

  const firstEnd = rec.sessions[0].end;
  run.open({ a: 1 }, { kind: 'sft', resume: true });
  run.close();
  rec = readRecord(dir);
  assert.equal(rec.sessions.length, 2, 'a resume adds a session');
  assert.equal(rec.sessions[0].end, firstEnd, 'the earlier session is kept as it was');
  assert.deepEqual(rec.sessions.map((x) => x.resumed), [false, true]);
  assert.ok(rec.sessions[1].start >= rec.sessions[0].end! && rec.sessions[1].end! >= rec.sessions[1].start);

  run.open({ a: 2 }, { kind: 'sft', resume: false });
  run.close();
  assert.equal(readRecord(dir).sessions.length, 1, 'a fresh start begins the list again');
});

test('run.json says how the process ended: its exit code after close or exit, or the signal it died of', async () => {
  const child = (dir: string, body: string) => spawn(process.execPath, ['--input-type=module', '-e',
    `import { RunDir } from ${JSON.stringify(RUN_DIR_JS)};
     const run = new RunDir(${JSON.stringify(dir)});
     run.open({ a: 1 }, { kind: 'rl', resume: false });
     ${body}`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ended = (c: ReturnType<typeof spawn>) => new Promise<[number | null, string | null]>((r) => c.on('exit', (code, sig) => r([code, sig])));

  const closed = fresh();
  assert.deepEqual(await ended(child(closed, 'run.close(); process.exitCode = 3;')), [3, null]);
  const a = readRecord(closed).sessions[0];
  assert.equal(a.exit_code, 3);
  assert.ok(a.end! >= a.start);

  const exited = fresh();
  assert.deepEqual(await ended(child(exited, 'process.exit(5);')), [5, null], 'exits without close()');
  const b = readRecord(exited).sessions[0];
  assert.equal(b.exit_code, 5);
  assert.ok(b.end! >= b.start);

  const killed = fresh();
  const c = child(killed, "console.log('ready'); setInterval(() => {}, 1000);");
  const gone = ended(c);
  await new Promise<void>((r) => c.stdout!.once('data', () => r()));
  c.kill('SIGTERM');
  assert.deepEqual(await gone, [null, 'SIGTERM']);
  const k = readRecord(killed).sessions[0];
  assert.equal(k.signal, 'SIGTERM');
  assert.equal(k.exit_code, undefined);
  assert.ok(k.end! >= k.start);
});
