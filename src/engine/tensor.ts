// The IR: a tensor is a node of a DAG of ops. There is no graph object: a graph is whatever
// is reachable from the tensors you compile (as in tinygrad), which keeps model code plain.
//
// Dims are numbers or symbols. A symbol is a name ('B', 'T') or a product of names and a
// constant in canonical form ('B*T', '4*T'); symbols are resolved at run time from the
// shapes of the graph inputs that carry them.

export type DType = 'float32' | 'float64' | 'int64' | 'int32' | 'bool';
export type Dim = number | string;
export type Shape = readonly Dim[];

export type Attrs = Record<string, unknown>;

let nextId = 0;

export class Tensor {
  readonly id = nextId++;
  constructor(
    readonly op: string,
    readonly inputs: readonly Tensor[],
    readonly shape: Shape,
    readonly dtype: DType,
    readonly attrs: Attrs = {},
  ) {}

  get rank(): number { return this.shape.length; }

  toString(): string { return `${this.op}#${this.id}[${this.shape.join(',')}]:${this.dtype}`; }
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function shapeStr(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Canonical form of a product of dims: numeric coefficient times sorted symbol names. */
export function dimProduct(dims: readonly Dim[]): Dim {
  let coeff = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === 'number') { coeff *= d; continue; }
    for (const part of d.split('*')) {
      const n = Number(part);
      if (Number.isFinite(n)) coeff *= n; else syms.push(part);
    }
  }
  if (syms.length === 0 || coeff === 0) return coeff;
  syms.sort();
  return coeff === 1 ? syms.join('*') : `${coeff}*${syms.join('*')}`;
}

export function dimEq(a: Dim, b: Dim): boolean {
  return typeof a === typeof b ? a === b : false;
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => dimEq(d, b[i]!));
}

/** Divide a (possibly symbolic) element count by a known part, for reshape's -1. */
export function dimDivide(total: Dim, by: Dim): Dim | null {
  const parse = (d: Dim): [number, string[]] => {
    const c = dimProduct([d]);
    if (typeof c === 'number') return [c, []];
    const parts = c.split('*');
    const n = Number(parts[0]);
    return Number.isFinite(n) ? [n, parts.slice(1)] : [1, parts];
  };
  const [tc, ts] = parse(total);
  const [bc, bs] = parse(by);
  if (bc === 0 || tc % bc !== 0) return null;
  const rest = [...ts];
  for (const s of bs) {
    const i = rest.indexOf(s);
    if (i < 0) return null;
    rest.splice(i, 1);
  }
  return dimProduct([tc / bc, ...rest]);
}

/** All symbol names used in a shape. */
export function shapeSymbols(shape: Shape): string[] {
  const out: string[] = [];
  for (const d of shape) {
    if (typeof d !== 'string') continue;
    for (const part of d.split('*')) if (!Number.isFinite(Number(part))) out.push(part);
  }
  return out;
}

/** Topological order of every tensor reachable from `roots` (inputs before users). */
export function topoSort(roots: readonly Tensor[]): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<number>();
  // Iterative DFS: model graphs are deep enough to overflow the JS stack when recursing.
  const stack: [Tensor, number][] = roots.map((t) => [t, 0]);
  stack.reverse();
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    if (i === 0 && seen.has(t.id)) { stack.pop(); continue; }
    if (i < t.inputs.length) {
      top[1]++;
      const child = t.inputs[i]!;
      if (!seen.has(child.id)) stack.push([child, 0]);
    } else {
      stack.pop();
      if (!seen.has(t.id)) { seen.add(t.id); order.push(t); }
    }
  }
  return order;
}
