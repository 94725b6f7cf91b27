// TensorFlow's event-file format, the one TensorBoard reads, reduced to what scalar logging
// needs. A file is a sequence of records: payload length (u64 LE), masked CRC32C of those 8
// bytes, the payload, masked CRC32C of the payload. Each payload is an `Event` protobuf:
//   Event   { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; }
//   Summary { repeated Value value = 1; }
//   Value   { string tag = 1; float simple_value = 2; }
// Written by hand: it is this small, and the npm packages that write it pull in TensorFlow-sized
// protobuf stacks.

export const FILE_VERSION = 'brain.Event:2';

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1; // Castagnoli, reflected
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC32C_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord stores CRCs rotated and offset, so that CRCs of data that embeds CRCs stay strong. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return (((c >>> 15) | (c << 17)) + 0xa282ead8) >>> 0;
}

/** Protobuf encoding of the few wire types an Event uses. */
class ProtoWriter {
  private parts: Uint8Array[] = [];

  private varint(v: bigint): void {
    let x = BigInt.asUintN(64, v); // negative int64s take ten bytes, as protobuf specifies
    const out: number[] = [];
    while (x >= 0x80n) { out.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    out.push(Number(x));
    this.parts.push(Uint8Array.from(out));
  }

  private key(field: number, wireType: number): void { this.varint(BigInt((field << 3) | wireType)); }

  int64(field: number, v: number): this { this.key(field, 0); this.varint(BigInt(v)); return this; }

  double(field: number, v: number): this {
    this.key(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.parts.push(b);
    return this;
  }

  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(b);
    return this;
  }

  bytes(field: number, v: Uint8Array): this { this.key(field, 2); this.varint(BigInt(v.length)); this.parts.push(v); return this; }
  string(field: number, v: string): this { return this.bytes(field, Buffer.from(v, 'utf8')); }
  finish(): Uint8Array { return Buffer.concat(this.parts); }
}

export type EventBody = { fileVersion: string } | { scalars: ReadonlyArray<readonly [tag: string, value: number]> };

/** One serialized `Event`. `step` must be an integer. */
export function encodeEvent(wallTime: number, step: number, body: EventBody): Uint8Array {
  if (!Number.isSafeInteger(step)) throw new RangeError(`event step must be an integer, got ${step}`);
  const w = new ProtoWriter().double(1, wallTime).int64(2, step);
  if ('fileVersion' in body) return w.string(3, body.fileVersion).finish();
  const summary = new ProtoWriter();
  for (const [tag, value] of body.scalars) summary.bytes(1, new ProtoWriter().string(1, tag).float(2, value).finish());
  return w.bytes(5, summary.finish()).finish();
}

/** Frames a payload as one TFRecord. */
export function encodeRecord(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(16 + payload.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(payload.length), true);
  view.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(payload, 12);
  view.setUint32(12 + payload.length, maskedCrc32c(payload), true);
  return out;
}

/**
 * wall_time by step of the scalar events in an event file, so that a rewrite keeps when each
 * step happened. Reading stops at the first torn or corrupt record (a crash mid-append).
 */
export function eventWallTimes(file: Uint8Array): Map<number, number> {
  const times = new Map<number, number>();
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  let off = 0;
  while (off + 12 <= file.length) {
    const len = Number(view.getBigUint64(off, true));
    if (view.getUint32(off + 8, true) !== maskedCrc32c(file.subarray(off, off + 8)) || off + 16 + len > file.length) break;
    const payload = file.subarray(off + 12, off + 12 + len);
    if (view.getUint32(off + 12 + len, true) !== maskedCrc32c(payload)) break;
    let ev;
    try { ev = readEventHeader(payload); } catch { break; } // CRC-valid but not an Event: not ours
    if (ev.hasSummary && ev.wallTime !== undefined) times.set(ev.step, ev.wallTime);
    off += 16 + len;
  }
  return times;
}

/** Fields 1, 2 and whether 5 is present, of one serialized Event; other fields are skipped. */
function readEventHeader(p: Uint8Array): { wallTime?: number; step: number; hasSummary: boolean } {
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let off = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; off < p.length; shift += 7n) {
      const b = p[off++];
      v |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw new Error('truncated varint');
  };
  const r: { wallTime?: number; step: number; hasSummary: boolean } = { step: 0, hasSummary: false };
  while (off < p.length) {
    const key = Number(varint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) { const v = varint(); if (field === 2) r.step = Number(BigInt.asIntN(64, v)); }
    else if (wire === 1) { if (field === 1) r.wallTime = view.getFloat64(off, true); off += 8; }
    else if (wire === 2) { const n = Number(varint()); if (field === 5) r.hasSummary = true; off += n; }
    else if (wire === 5) off += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
  return r;
}
