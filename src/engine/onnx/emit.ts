// Lowers an IR graph (everything reachable from the named outputs) to an ONNX model.
// Each IR primitive maps to one or a few standard ONNX ops (opset 18), the fused inference
// kernels to one node each (com.microsoft's when ONNX has none); symbolic dims in
// reshape targets are rebuilt at run time from Shape() of the inputs that carry them.
import { Tensor, shapeSymbols, topoSort, type DType, type Dim } from '../tensor.js';
import type { TypedData } from '../ops.js';
import { encodeModel, MS_DOMAIN, type AttrValue, type OnnxModel, type OnnxNode, type OnnxTensor } from './proto.js';

export const OPSET = 18;

const SIMPLE: Record<string, string> = {
  add: 'Add', sub: 'Sub', mul: 'Mul', div: 'Div', pow: 'Pow',
  equal: 'Equal', less: 'Less', greater: 'Greater', and: 'And', not: 'Not',
  neg: 'Neg', exp: 'Exp', log: 'Log', sqrt: 'Sqrt', tanh: 'Tanh', erf: 'Erf', relu: 'Relu', sigmoid: 'Sigmoid',
  stop_gradient: 'Identity', matmul: 'MatMul', where: 'Where',
};

const ONNX_CODE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9, float64: 11 };

export interface EmittedGraph {
  bytes: Uint8Array;
  inputs: { name: string; shape: Dim[]; dtype: DType }[];
  outputs: { name: string; shape: Dim[]; dtype: DType }[];
}

function rawBytes(data: TypedData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

export function emitOnnx(outputs: Record<string, Tensor>, name = 'graph'): EmittedGraph {
  const outList = Object.values(outputs);
  const order = topoSort(outList);
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  const names = new Map<number, string>();
  const inputs: EmittedGraph['inputs'] = [];
  const symbolSource = new Map<string, { input: string; axis: number }>();

  for (const t of order) {
    if (t.op !== 'input') continue;
    const n = t.attrs.name as string;
    if (inputs.some((i) => i.name === n)) throw new Error(`emit: two different inputs named "${n}"`);
    if (n in outputs) throw new Error(`emit: "${n}" is both an input and an output name`);
    names.set(t.id, n);
    inputs.push({ name: n, shape: [...t.shape], dtype: t.dtype });
    t.shape.forEach((d, axis) => {
      if (typeof d === 'string' && !d.includes('*') && !symbolSource.has(d)) symbolSource.set(d, { input: n, axis });
    });
  }

  let counter = 0;
  const fresh = (hint: string) => `${hint}_${counter++}`;
  const constCache = new Map<string, string>();
  const addConst = (dtype: DType, dims: number[], data: TypedData): string => {
    const raw = rawBytes(data);
    const key = raw.length <= 256 ? `${dtype}|${dims}|${Buffer.from(raw).toString('base64')}` : null;
    if (key && constCache.has(key)) return constCache.get(key)!;
    const nm = fresh('const');
    inits.push({ name: nm, dtype, dims, raw });
    if (key) constCache.set(key, nm);
    return nm;
  };
  const i64 = (values: number[]) => addConst('int64', [values.length], BigInt64Array.from(values.map(BigInt)));
  const scalarOf = (dtype: DType, v: number): string => {
    const data = dtype === 'float64' ? Float64Array.of(v) : dtype === 'int64' ? BigInt64Array.of(BigInt(v)) : dtype === 'int32' ? Int32Array.of(v) : Float32Array.of(v);
    return addConst(dtype, [], data);
  };
  const emit = (opType: string, ins: string[], attrs?: Record<string, AttrValue>, out?: string): string => {
    const o = out ?? fresh(opType.toLowerCase());
    nodes.push({ opType, inputs: ins, outputs: [o], attrs });
    return o;
  };
  /** A node of onnxruntime's contrib domain (com.microsoft). */
  const emitMs = (opType: string, ins: string[], attrs: Record<string, AttrValue>, out: string): void => {
    nodes.push({ opType, inputs: ins, outputs: [out], attrs, domain: MS_DOMAIN });
  };
  const shapeCache = new Map<string, string>();
  const symbolValue = (sym: string): string => {
    const key = `sym:${sym}`;
    if (shapeCache.has(key)) return shapeCache.get(key)!;
    const src = symbolSource.get(sym);
    if (!src) throw new Error(`emit: symbolic dim "${sym}" does not appear in any graph input`);
    const v = emit('Shape', [src.input], { start: { kind: 'int', value: src.axis }, end: { kind: 'int', value: src.axis + 1 } });
    shapeCache.set(key, v);
    return v;
  };
  const shapeTensor = (dims: readonly Dim[]): string => {
    if (dims.every((d) => typeof d === 'number')) return i64(dims as number[]);
    const key = `shape:${dims.join(',')}`;
    if (shapeCache.has(key)) return shapeCache.get(key)!;
    const pieces = dims.map((d) => {
      if (typeof d === 'number') return i64([d]);
      const coeff = d.split('*').filter((p) => Number.isFinite(Number(p))).reduce((a, p) => a * Number(p), 1);
      let v = shapeSymbols([d]).map(symbolValue).reduce((acc, s) => emit('Mul', [acc, s]));
      if (coeff !== 1) v = emit('Mul', [v, i64([coeff])]);
      return v;
    });
    const v = emit('Concat', pieces, { axis: { kind: 'int', value: 0 } });
    shapeCache.set(key, v);
    return v;
  };

  const outputNames = new Map<number, string>();
  for (const [nm, t] of Object.entries(outputs)) if (!outputNames.has(t.id) && t.op !== 'input') outputNames.set(t.id, nm);

  for (const t of order) {
    if (t.op === 'input') continue;
    const ins = t.inputs.map((x) => names.get(x.id)!);
    const out = outputNames.get(t.id) ?? fresh(t.op);
    const a = t.attrs;
    const int = (v: number): AttrValue => ({ kind: 'int', value: v });
    if (t.op === 'constant') {
      const c = addConst(t.dtype, t.shape as number[], a.value as TypedData);
      if (outputNames.has(t.id)) emit('Identity', [c], undefined, out); else { names.set(t.id, c); continue; }
    } else if (SIMPLE[t.op]) emit(SIMPLE[t.op]!, ins, undefined, out);
    else switch (t.op) {
      case 'cast': emit('Cast', ins, { to: int(ONNX_CODE[a.to as DType]) }, out); break;
      case 'clamp': {
        const dt = t.dtype;
        emit('Clip', [ins[0]!, scalarOf(dt, a.min as number), scalarOf(dt, a.max as number)], undefined, out);
        break;
      }
      case 'softmax': emit('Softmax', ins, { axis: int(a.axis as number) }, out); break;
      case 'log_softmax': emit('LogSoftmax', ins, { axis: int(a.axis as number) }, out); break;
      case 'reduce_sum': case 'reduce_mean': case 'reduce_max': {
        const op = { reduce_sum: 'ReduceSum', reduce_mean: 'ReduceMean', reduce_max: 'ReduceMax' }[t.op];
        emit(op, [ins[0]!, i64(a.axes as number[])], { keepdims: int(a.keepdims ? 1 : 0) }, out);
        break;
      }
      case 'reshape': emit('Reshape', [ins[0]!, shapeTensor(t.shape)], undefined, out); break;
      case 'reshape_like': emit('Reshape', [ins[0]!, emit('Shape', [ins[1]!])], undefined, out); break;
      case 'expand_like': emit('Expand', [ins[0]!, emit('Shape', [ins[1]!])], undefined, out); break;
      case 'transpose':
        // A transpose that only moves axes of size 1 keeps the data in order: a reshape, which
        // onnxruntime does without a copy (decode's one-token heads split and merge this way).
        if (movesOnlyUnitAxes(t.inputs[0]!.shape, a.perm as number[])) emit('Reshape', [ins[0]!, shapeTensor(t.shape)], undefined, out);
        else emit('Transpose', ins, { perm: { kind: 'ints', value: a.perm as number[] } }, out);
        break;
      case 'slice':
        emit('Slice', [ins[0]!, i64([a.start as number]), i64([a.end as number]), i64([a.axis as number])], undefined, out);
        break;
      case 'pad_axis': {
        const pads = new Array<number>(2 * t.rank).fill(0);
        pads[a.axis as number] = a.before as number;
        pads[t.rank + (a.axis as number)] = a.after as number;
        emit('Pad', [ins[0]!, i64(pads)], undefined, out);
        break;
      }
      case 'concat': emit('Concat', ins, { axis: int(a.axis as number) }, out); break;
      case 'gather': emit('Gather', ins, { axis: int(0) }, out); break;
      case 'one_hot': {
        const depth = a.depth as number;
        const col = emit('Unsqueeze', [ins[0]!, i64([-1])]);
        const hit = emit('Equal', [col, i64([...Array(depth).keys()])]);
        emit('Cast', [hit], { to: int(ONNX_CODE[t.dtype]) }, out);
        break;
      }
      case 'scatter_add_rows': {
        // out[v] = Σ_{i: idx[i] = v} updates[i], as one-hot(idx)ᵀ · updates. ScatterND with
        // reduction "add" would be the direct lowering, but onnxruntime's CPU kernel adds
        // duplicate indices from several threads without synchronisation: measured, 1 in 15
        // runs at 2 threads on a busy machine lost updates (max error 4.2 on a [112, 128]
        // table), which made embedding gradients, and so training, silently wrong and
        // irreproducible. The MatMul form is deterministic and costs 2·V·N·R FLOPs, small for
        // the embedding tables here (V ≤ a few hundred rows).
        const shape = t.shape as number[];
        const V = shape[0]!;
        const R = shape.slice(1).reduce((a, b) => a * b, 1);
        const flat = emit('Reshape', [ins[0]!, i64([-1, 1])]);
        const hit = emit('Cast', [emit('Equal', [flat, i64([...Array(V).keys()])])], { to: int(ONNX_CODE[t.dtype]) });
        const rows = emit('Reshape', [ins[1]!, i64([-1, R])]);
        const summed = emit('MatMul', [emit('Transpose', [hit], { perm: { kind: 'ints', value: [1, 0] } }), rows]);
        emit('Reshape', [summed, i64(shape)], {}, out);
        break;
      }
      case 'fused_layer_norm':
        emit('LayerNormalization', ins, { axis: int(-1), epsilon: { kind: 'float', value: a.eps as number } }, out);
        break;
      case 'bias_gelu': emitMs('BiasGelu', ins, {}, out); break;
      default: throw new Error(`emit: no ONNX lowering for op "${t.op}"`);
    }
    names.set(t.id, out);
  }

  // Outputs that alias an input or another output's tensor need an Identity of their own.
  const outs: EmittedGraph['outputs'] = [];
  for (const [nm, t] of Object.entries(outputs)) {
    const have = names.get(t.id)!;
    if (have !== nm) emit('Identity', [have], undefined, nm);
    outs.push({ name: nm, shape: [...t.shape], dtype: t.dtype });
  }
  const model: OnnxModel = {
    opset: OPSET, name, nodes, initializers: inits,
    inputs: inputs.map((i) => ({ name: i.name, dtype: i.dtype, dims: i.shape })),
    outputs: outs.map((o) => ({ name: o.name, dtype: o.dtype, dims: o.shape })),
  };
  return { bytes: encodeModel(model), inputs, outputs: outs };
}

/** Whether permuting `shape` by `perm` leaves the axes of size other than 1 in their order. */
export function movesOnlyUnitAxes(shape: readonly Dim[], perm: readonly number[]): boolean {
  const kept = perm.filter((i) => shape[i] !== 1);
  return kept.every((v, j) => j === 0 || v > kept[j - 1]!);
}
