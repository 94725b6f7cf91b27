// Reverse-mode autodiff over the IR: one vector-Jacobian rule per primitive op, written
// with the same ops (so gradients are themselves IR and compile to standard ONNX).
// A primitive without a rule fails loudly when a gradient must flow through it.
import * as o from './ops.js';
import { Tensor, dimEq, shapeEq, topoSort } from './tensor.js';

type Grads = (Tensor | null)[];
/** (node, upstream gradient, which inputs need a gradient) -> one gradient per input. */
type VJP = (node: Tensor, g: Tensor, needs: boolean[]) => Grads;

/** Sum g over the axes where it was broadcast from `target`'s shape, back to that shape. */
export function unbroadcast(g: Tensor, target: Tensor): Tensor {
  if (shapeEq(g.shape, target.shape)) return g;
  const lead = g.rank - target.rank;
  let out = g;
  if (lead > 0) out = o.sum(out, [...Array(lead).keys()], false);
  const axes: number[] = [];
  target.shape.forEach((d, i) => { if (d === 1 && !dimEq(out.shape[i]!, 1)) axes.push(i); });
  if (axes.length) out = o.sum(out, axes, true);
  return out;
}

const none = (node: Tensor): Grads => node.inputs.map(() => null);
const zero = (g: Tensor) => o.scalar(0, g.dtype);

function keepDims(g: Tensor, x: Tensor, axes: number[], keepdims: boolean): Tensor {
  if (keepdims) return g;
  return o.reshape(g, x.shape.map((d, i) => (axes.includes(i) ? 1 : d)));
}

/** Element count of the reduced axes, at run time when a reduced dim is symbolic. */
function reducedCount(x: Tensor, axes: number[]): Tensor {
  const dims = axes.map((a) => x.shape[a]!);
  if (dims.every((d) => typeof d === 'number')) return o.scalar((dims as number[]).reduce((a, b) => a * b, 1), x.dtype);
  return o.sum(o.expandLike(o.scalar(1, x.dtype), x), axes, true);
}

export const VJP_RULES: Record<string, VJP> = {
  input: none,
  constant: none,
  add: (n, g) => [unbroadcast(g, n.inputs[0]!), unbroadcast(g, n.inputs[1]!)],
  sub: (n, g) => [unbroadcast(g, n.inputs[0]!), unbroadcast(o.neg(g), n.inputs[1]!)],
  mul: (n, g, needs) => {
    const [a, b] = n.inputs as [Tensor, Tensor];
    return [needs[0] ? unbroadcast(o.mul(g, b), a) : null, needs[1] ? unbroadcast(o.mul(g, a), b) : null];
  },
  div: (n, g, needs) => {
    const [a, b] = n.inputs as [Tensor, Tensor];
    return [
      needs[0] ? unbroadcast(o.div(g, b), a) : null,
      needs[1] ? unbroadcast(o.neg(o.div(o.mul(g, n), b)), b) : null,
    ];
  },
  pow: (n, g, needs) => {
    const [a, b] = n.inputs as [Tensor, Tensor];
    return [
      needs[0] ? unbroadcast(o.mul(g, o.mul(b, o.pow(a, o.sub(b, 1)))), a) : null,
      needs[1] ? unbroadcast(o.mul(g, o.mul(n, o.log(a))), b) : null,
    ];
  },
  neg: (_n, g) => [o.neg(g)],
  exp: (n, g) => [o.mul(g, n)],
  log: (n, g) => [o.div(g, n.inputs[0]!)],
  sqrt: (n, g) => [o.div(o.mul(g, 0.5), n)],
  tanh: (n, g) => [o.mul(g, o.sub(1, o.mul(n, n)))],
  erf: (n, g) => {
    const x = n.inputs[0]!;
    return [o.mul(g, o.mul(o.exp(o.neg(o.mul(x, x))), 2 / Math.sqrt(Math.PI)))];
  },
  relu: (n, g) => [o.where(o.greater(n.inputs[0]!, 0), g, zero(g))],
  sigmoid: (n, g) => [o.mul(g, o.mul(n, o.sub(1, n)))],
  stop_gradient: none,
  cast: (n, g) => {
    const x = n.inputs[0]!;
    return [x.dtype === 'float32' || x.dtype === 'float64' ? o.cast(g, x.dtype) : null];
  },
  clamp: (n, g) => {
    const x = n.inputs[0]!;
    const { min, max } = n.attrs as { min: number; max: number };
    const inside = o.logicalAnd(o.logicalNot(o.less(x, min)), o.logicalNot(o.greater(x, max)));
    return [o.where(inside, g, zero(g))];
  },
  where: (n, g, needs) => {
    const [c, a, b] = n.inputs as [Tensor, Tensor, Tensor];
    return [
      null,
      needs[1] ? unbroadcast(o.where(c, g, zero(g)), a) : null,
      needs[2] ? unbroadcast(o.where(c, zero(g), g), b) : null,
    ];
  },
  softmax: (n, g) => {
    const axis = n.attrs.axis as number;
    return [o.mul(n, o.sub(g, o.sum(o.mul(g, n), axis, true)))];
  },
  log_softmax: (n, g) => {
    const axis = n.attrs.axis as number;
    return [o.sub(g, o.mul(o.exp(n), o.sum(g, axis, true)))];
  },
  reduce_sum: (n, g) => {
    const x = n.inputs[0]!;
    const { axes, keepdims } = n.attrs as { axes: number[]; keepdims: boolean };
    return [o.expandLike(keepDims(g, x, axes, keepdims), x)];
  },
  reduce_mean: (n, g) => {
    const x = n.inputs[0]!;
    const { axes, keepdims } = n.attrs as { axes: number[]; keepdims: boolean };
    return [o.expandLike(o.div(keepDims(g, x, axes, keepdims), reducedCount(x, axes)), x)];
  },
  reduce_max: (n, g) => {
    // Ties share the gradient equally, which keeps the rule a true subgradient.
    const x = n.inputs[0]!;
    const { axes, keepdims } = n.attrs as { axes: number[]; keepdims: boolean };
    const isMax = o.cast(o.equal(x, o.expandLike(keepDims(n, x, axes, keepdims), x)), x.dtype);
    const share = o.div(keepDims(g, x, axes, keepdims), o.sum(isMax, axes, true));
    return [o.mul(isMax, o.expandLike(share, x))];
  },
  reshape: (n, g) => [o.reshapeLike(g, n.inputs[0]!)],
  reshape_like: (n, g) => [o.reshapeLike(g, n.inputs[0]!), null],
  expand_like: (n, g) => [unbroadcast(g, n.inputs[0]!), null],
  transpose: (n, g) => {
    const perm = n.attrs.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [o.transpose(g, inverse)];
  },
  slice: (n, g) => {
    const x = n.inputs[0]!;
    const { axis, start, end } = n.attrs as { axis: number; start: number; end: number };
    const d = x.shape[axis]!;
    if (typeof d !== 'number') throw new Error(`slice: gradient needs a static dim at axis ${axis}, got ${d}`);
    return [o.padAxis(g, axis, start, d - end)];
  },
  pad_axis: (n, g) => {
    const x = n.inputs[0]!;
    const { axis, before } = n.attrs as { axis: number; before: number };
    const len = x.shape[axis] as number;
    return [o.slice(g, axis, before, before + len)];
  },
  concat: (n, g) => {
    const axis = n.attrs.axis as number;
    let offset = 0;
    return n.inputs.map((x) => {
      const len = x.shape[axis] as number;
      const piece = o.slice(g, axis, offset, offset + len);
      offset += len;
      return piece;
    });
  },
  gather: (n, g, needs) => {
    const [table, indices] = n.inputs as [Tensor, Tensor];
    return [needs[0] ? o.scatterAddRows(table, indices, g) : null, null];
  },
  matmul: (n, g, needs) => {
    const [a, b] = n.inputs as [Tensor, Tensor];
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (needs[0]) ga = unbroadcast(o.matmul(g, o.transpose(b)), a);
    if (needs[1]) {
      if (b.rank === 2 && a.rank > 2) {
        // A shared weight: fold the batch into one large GEMM instead of a batched
        // matmul followed by a reduction (much faster, same result).
        const K = a.shape[a.rank - 1]!;
        const N = b.shape[1]!;
        gb = o.matmul(o.transpose(o.reshape(a, [-1, K])), o.reshape(g, [-1, N]));
      } else gb = unbroadcast(o.matmul(o.transpose(a), g), b);
    }
    return [ga, gb];
  },
  one_hot: none,
  equal: none,
  less: none,
  greater: none,
  and: none,
  not: none,
};

// Fused inference kernels (ops.ts) have no rule on purpose: training graphs are built from
// the composites. A gradient that reaches one is a bug in how the graph was built.
for (const op of o.FUSED_INFERENCE_OPS) {
  VJP_RULES[op] = (n) => {
    throw new Error(`grad: "${op}" (${n}) is a fused onnxruntime inference kernel and has no gradient; build graphs that are differentiated with the unfused ops (fused: false)`);
  };
}

/**
 * Gradients of scalar `loss` with respect to each tensor in `wrt`. A tensor the loss does
 * not depend on gets a zero gradient of its shape.
 */
export function grad(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  if (loss.rank !== 0) throw new Error(`grad: loss must be a scalar, got shape [${loss.shape}]`);
  const order = topoSort([loss]);
  // Only nodes on a path from some wrt tensor to the loss need a gradient.
  const wanted = new Set(wrt.map((t) => t.id));
  const needsGrad = new Set<number>();
  for (const t of order) {
    if (wanted.has(t.id) || t.inputs.some((i) => needsGrad.has(i.id))) needsGrad.add(t.id);
  }
  const grads = new Map<number, Tensor>([[loss.id, o.scalar(1, loss.dtype)]]);
  for (let i = order.length - 1; i >= 0; i--) {
    const node = order[i]!;
    const g = grads.get(node.id);
    if (!g || node.inputs.length === 0) continue;
    const needs = node.inputs.map((x) => needsGrad.has(x.id));
    if (!needs.some(Boolean)) continue;
    const rule = VJP_RULES[node.op];
    if (!rule) throw new Error(`grad: no VJP rule for op "${node.op}" (${node})`);
    const inputGrads = rule(node, g, needs);
    node.inputs.forEach((x, j) => {
      const gx = inputGrads[j];
      if (!gx || !needs[j]) return;
      if (!shapeEq(gx.shape, x.shape)) {
        throw new Error(`grad: rule for "${node.op}" gave shape [${gx.shape}] for input of shape [${x.shape}]`);
      }
      const prev = grads.get(x.id);
      grads.set(x.id, prev ? o.add(prev, gx) : gx);
    });
  }
  return wrt.map((t) => grads.get(t.id) ?? o.expandLike(o.scalar(0, t.dtype), t));
}
