// A minimal protobuf writer for the parts of onnx.proto we emit (ModelProto, GraphProto,
// NodeProto, AttributeProto, TensorProto, ValueInfoProto). Field numbers follow onnx.proto.
// Writing our own keeps the engine dependency-free and the emitted bytes deterministic.

class Writer {
  private chunks: Uint8Array[] = [];
  private scratch: number[] = [];

  private flushScratch(): void {
    if (this.scratch.length) { this.chunks.push(Uint8Array.from(this.scratch)); this.scratch = []; }
  }
  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    while (x >= 0x80n) { this.scratch.push(Number(x & 0x7fn) | 0x80); x >>= 7n; }
    this.scratch.push(Number(x));
  }
  tag(field: number, wire: number): void { this.varint((field << 3) | wire); }
  int(field: number, v: number | bigint): void { this.tag(field, 0); this.varint(v); }
  float(field: number, v: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.scratch.push(...b);
  }
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.varint(data.length);
    this.flushScratch();
    this.chunks.push(data);
  }
  string(field: number, s: string): void { this.bytes(field, new TextEncoder().encode(s)); }
  message(field: number, build: (w: Writer) => void): void {
    const inner = new Writer();
    build(inner);
    this.bytes(field, inner.finish());
  }
  finish(): Uint8Array {
    this.flushScratch();
    const total = this.chunks.reduce((n, c) => n + c.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of this.chunks) { out.set(c, off); off += c.length; }
    return out;
  }
}

/** onnx TensorProto.DataType codes. */
export const ONNX_DTYPE = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11 } as const;
export type OnnxDtypeName = keyof typeof ONNX_DTYPE;

export type AttrValue =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] }
  | { kind: 'string'; value: string };

/** The domain of onnxruntime's contrib operators (version 1). */
export const MS_DOMAIN = 'com.microsoft';

export interface OnnxNode { opType: string; inputs: string[]; outputs: string[]; attrs?: Record<string, AttrValue>; domain?: string }
export interface OnnxTensor { name: string; dtype: OnnxDtypeName; dims: number[]; raw: Uint8Array }
export interface OnnxValueInfo { name: string; dtype: OnnxDtypeName; dims: (number | string)[] }
export interface OnnxModel {
  opset: number;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  name?: string;
}

function writeAttr(w: Writer, name: string, a: AttrValue): void {
  w.string(1, name);
  switch (a.kind) {
    case 'float': w.float(2, a.value); w.int(20, 1); break;
    case 'int': w.int(3, a.value); w.int(20, 2); break;
    case 'string': w.string(4, a.value); w.int(20, 3); break;
    case 'ints': for (const v of a.value) w.int(8, v); w.int(20, 7); break;
  }
}

function writeValueInfo(w: Writer, v: OnnxValueInfo): void {
  w.string(1, v.name);
  w.message(2, (type) => type.message(1, (tt) => {
    tt.int(1, ONNX_DTYPE[v.dtype]);
    tt.message(2, (shape) => {
      for (const d of v.dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
    });
  }));
}

export function encodeModel(m: OnnxModel): Uint8Array {
  const w = new Writer();
  w.int(1, 8); // ir_version 8 (opset 18 era)
  w.string(2, 'ivr-r1');
  w.message(7, (g) => {
    for (const n of m.nodes) {
      g.message(1, (nw) => {
        for (const i of n.inputs) nw.string(1, i);
        for (const o of n.outputs) nw.string(2, o);
        nw.string(4, n.opType);
        for (const [k, v] of Object.entries(n.attrs ?? {})) nw.message(5, (aw) => writeAttr(aw, k, v));
        if (n.domain) nw.string(7, n.domain);
      });
    }
    g.string(2, m.name ?? 'graph');
    for (const t of m.initializers) {
      g.message(5, (tw) => {
        for (const d of t.dims) tw.int(1, d);
        tw.int(2, ONNX_DTYPE[t.dtype]);
        tw.string(8, t.name);
        tw.bytes(9, t.raw);
      });
    }
    for (const v of m.inputs) g.message(11, (vw) => writeValueInfo(vw, v));
    for (const v of m.outputs) g.message(12, (vw) => writeValueInfo(vw, v));
  });
  w.message(8, (op) => { op.string(1, ''); op.int(2, m.opset); });
  // onnxruntime's contrib operators (fused inference kernels) live in their own domain.
  if (m.nodes.some((n) => n.domain === MS_DOMAIN)) w.message(8, (op) => { op.string(1, MS_DOMAIN); op.int(2, 1); });
  return w.finish();
}
