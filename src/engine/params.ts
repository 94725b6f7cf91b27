// Parameters: model code asks a scope for a named parameter while tracing; the registry
// remembers its spec and hands back a graph input. Values live in host Float32Arrays
// owned by a ParamStore and are fed zero-copy to every graph that uses them.
import { input } from './ops.js';
import { Rng, nameSeed } from '../util/rng.js';
import type { Tensor } from './tensor.js';
import type { NamedTensor } from './checkpoint.js';

export type Init = { kind: 'normal'; std: number } | { kind: 'zeros' } | { kind: 'ones' };

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
  /** Whether AdamW's decoupled weight decay applies (matrices yes; norms, biases no). */
  decay: boolean;
}

export class ParamRegistry {
  private readonly entries = new Map<string, { spec: ParamSpec; tensor: Tensor }>();

  scope(prefix: string): ParamScope { return new ParamScope(this, prefix); }

  get(name: string, shape: number[], init: Init, decay: boolean): Tensor {
    const have = this.entries.get(name);
    if (have) {
      if (have.spec.shape.join(',') !== shape.join(',')) {
        throw new Error(`parameter "${name}" requested with shape [${shape}] but registered as [${have.spec.shape}]`);
      }
      return have.tensor;
    }
    const tensor = input(name, shape, 'float32');
    this.entries.set(name, { spec: { name, shape, init, decay }, tensor });
    return tensor;
  }

  specs(): ParamSpec[] { return [...this.entries.values()].map((e) => e.spec); }
  tensors(): Tensor[] { return [...this.entries.values()].map((e) => e.tensor); }
  tensor(name: string): Tensor {
    const e = this.entries.get(name);
    if (!e) throw new Error(`unknown parameter "${name}"`);
    return e.tensor;
  }
}

export class ParamScope {
  constructor(readonly registry: ParamRegistry, readonly prefix: string) {}
  child(name: string): ParamScope { return new ParamScope(this.registry, this.prefix ? `${this.prefix}.${name}` : name); }
  param(name: string, shape: number[], init: Init, decay = true): Tensor {
    return this.registry.get(this.prefix ? `${this.prefix}.${name}` : name, shape, init, decay);
  }
}

/** Host values of a model's parameters. */
export class ParamStore {
  readonly values = new Map<string, Float32Array>();
  constructor(readonly specs: ParamSpec[]) {}

  /** Deterministic initialisation: each parameter's values depend only on (seed, name). */
  static init(specs: ParamSpec[], seed: number): ParamStore {
    const store = new ParamStore(specs);
    for (const s of specs) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (s.init.kind === 'ones') data.fill(1);
      else if (s.init.kind === 'normal') {
        const rng = new Rng(nameSeed(seed, s.name));
        for (let i = 0; i < n; i++) data[i] = rng.normal() * s.init.std;
      }
      store.values.set(s.name, data);
    }
    return store;
  }

  static fromTensors(specs: ParamSpec[], tensors: Map<string, NamedTensor>): ParamStore {
    const store = new ParamStore(specs);
    for (const s of specs) {
      const t = tensors.get(s.name);
      if (!t) throw new Error(`checkpoint lacks parameter "${s.name}"`);
      if (t.dtype !== 'float32' || t.shape.join(',') !== s.shape.join(',')) {
        throw new Error(`parameter "${s.name}": checkpoint has ${t.dtype} [${t.shape}], model needs float32 [${s.shape}]`);
      }
      store.values.set(s.name, t.data as Float32Array);
    }
    return store;
  }

  get(name: string): Float32Array {
    const v = this.values.get(name);
    if (!v) throw new Error(`no value for parameter "${name}"`);
    return v;
  }

  count(): number { return this.specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0); }

  toTensors(prefix = ''): NamedTensor[] {
    return this.specs.map((s) => ({ name: prefix + s.name, dtype: 'float32' as const, shape: s.shape, data: this.get(s.name) }));
  }

  /** Feeds for a compiled graph: every parameter under its own name. */
  feeds(): Record<string, { data: Float32Array; shape: number[] }> {
    const out: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const s of this.specs) out[s.name] = { data: this.get(s.name), shape: s.shape };
    return out;
  }

  clone(): ParamStore {
    const c = new ParamStore(this.specs);
    for (const [k, v] of this.values) c.values.set(k, v.slice());
    return c;
  }
}
