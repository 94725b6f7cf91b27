// A small schema validator for JSON config files (RL and SFT configs share it).
//
// A schema both validates and types a value: `Infer<typeof s>` is the parsed type. Errors
// name the config file and the full dotted key path, say what was expected and show what
// was found, e.g.
//   configs/grpo.json: key "ivr.rounds" must be an integer >= 1, got "three"
// Unknown keys are errors (with a did-you-mean hint), so a typo never silently falls back
// to a default. Defaults are passed as a full value of the parsed type: a missing key takes
// the default at its position, and objects merge key by key (arrays and scalars replace).

/** A config error: the message names the file and the key. */
export class ConfigError extends Error {
  constructor(readonly source: string, readonly path: string, readonly detail: string) {
    super(`${source}: ${detail}`);
    this.name = 'ConfigError';
  }
}

export interface ParseContext {
  /** The file (or other origin) the value came from, for error messages. */
  source: string;
}

export interface Schema<T> {
  /** What is accepted, as a phrase completing "must be ...": `an integer >= 1`. */
  readonly expected: string;
  /**
   * Validates `value` found at dotted `path`. `fallback` is the default for this position
   * (used for missing object keys); a scalar ignores it when a value is present.
   */
  parse(value: unknown, ctx: ParseContext, path: string, fallback?: T): T;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

/** `key "a.b"` or `the top level`, for messages. */
export function keyLabel(path: string): string {
  return path ? `key "${path}"` : 'the top level';
}

/** A compact rendering of an offending value. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  let s: string;
  try { s = JSON.stringify(value) ?? String(value); } catch { s = String(value); }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Throws the standard "must be" error for the key at `path`. */
export function mismatch(ctx: ParseContext, path: string, expected: string, value: unknown): never {
  throw new ConfigError(ctx.source, path, `${keyLabel(path)} must be ${expected}, got ${show(value)}`);
}

/** Throws a free-form error for the key at `path` (cross-field checks). */
export function fail(ctx: ParseContext, path: string, detail: string): never {
  throw new ConfigError(ctx.source, path, `${keyLabel(path)} ${detail}`);
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

// ---------------------------------------------------------------- scalars

interface Bounds {
  /** Inclusive lower bound. */
  min?: number;
  /** Inclusive upper bound. */
  max?: number;
  /** Exclusive lower bound. */
  gt?: number;
  /** Exclusive upper bound. */
  lt?: number;
}

function boundsText(b: Bounds): string {
  const parts: string[] = [];
  if (b.gt !== undefined) parts.push(`> ${b.gt}`);
  if (b.min !== undefined) parts.push(`>= ${b.min}`);
  if (b.lt !== undefined) parts.push(`< ${b.lt}`);
  if (b.max !== undefined) parts.push(`<= ${b.max}`);
  return parts.join(' and ');
}

function inBounds(v: number, b: Bounds): boolean {
  return (b.min === undefined || v >= b.min) && (b.max === undefined || v <= b.max)
    && (b.gt === undefined || v > b.gt) && (b.lt === undefined || v < b.lt);
}

function numeric(kind: 'a number' | 'an integer', b: Bounds, isInt: boolean): Schema<number> {
  const bt = boundsText(b);
  const expected = bt ? `${kind} ${bt}` : kind;
  return {
    expected,
    parse(value, ctx, path) {
      if (typeof value !== 'number' || !Number.isFinite(value) || (isInt && !Number.isInteger(value)) || !inBounds(value, b)) {
        mismatch(ctx, path, expected, value);
      }
      return value;
    },
  };
}

/** A finite JSON number within optional bounds. */
export const number = (b: Bounds = {}): Schema<number> => numeric('a number', b, false);
/** A JSON integer within optional bounds. */
export const int = (b: Bounds = {}): Schema<number> => numeric('an integer', b, true);

export const bool = (): Schema<boolean> => ({
  expected: 'true or false',
  parse(value, ctx, path) {
    if (typeof value !== 'boolean') mismatch(ctx, path, 'true or false', value);
    return value;
  },
});

export const string = (opts: { nonEmpty?: boolean } = {}): Schema<string> => {
  const expected = opts.nonEmpty ? 'a non-empty string' : 'a string';
  return {
    expected,
    parse(value, ctx, path) {
      if (typeof value !== 'string' || (opts.nonEmpty && value.length === 0)) mismatch(ctx, path, expected, value);
      return value;
    },
  };
};

/** One of a fixed set of strings. */
export function oneOf<const V extends readonly string[]>(values: V): Schema<V[number]> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  return {
    expected,
    parse(value, ctx, path) {
      if (typeof value !== 'string' || !values.includes(value)) mismatch(ctx, path, expected, value);
      return value as V[number];
    },
  };
}

/** `inner` or JSON null. */
export function nullable<T>(inner: Schema<T>): Schema<T | null> {
  const expected = `${inner.expected} or null`;
  return {
    expected,
    parse(value, ctx, path, fallback) {
      if (value === null) return null;
      try {
        return inner.parse(value, ctx, path, fallback ?? undefined);
      } catch (e) {
        // Re-word a plain mismatch so the message mentions that null is allowed too.
        if (e instanceof ConfigError && e.path === path && e.detail.startsWith(`${keyLabel(path)} must be ${inner.expected},`)) {
          mismatch(ctx, path, expected, value);
        }
        throw e;
      }
    },
  };
}

/** A JSON array of `item`; replaces the default wholesale. */
export function array<T>(item: Schema<T>, opts: { minLength?: number } = {}): Schema<T[]> {
  const min = opts.minLength ?? 0;
  const expected = `an array${min > 0 ? ` of at least ${min}` : ''} (items: ${item.expected})`;
  return {
    expected,
    parse(value, ctx, path) {
      if (!Array.isArray(value) || value.length < min) mismatch(ctx, path, expected, value);
      return value.map((v, i) => item.parse(v, ctx, `${path}[${i}]`));
    },
  };
}

// ---------------------------------------------------------------- objects

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Fields = Record<string, Schema<any>>;
export type ObjectOf<F extends Fields> = { [K in keyof F]: Infer<F[K]> };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Levenshtein distance, for did-you-mean hints on unknown keys. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

function suggestion(key: string, allowed: readonly string[]): string {
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of allowed) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) { bestD = d; best = k; }
  }
  if (best !== null && bestD <= Math.max(2, Math.floor(key.length / 3))) return ` (did you mean "${best}"?)`;
  // A key that extends (or truncates) an allowed one: "lr_rate" -> "lr".
  const lower = key.toLowerCase();
  const related = allowed.filter((k) => k.length >= 2 && (lower.startsWith(k.toLowerCase()) || k.toLowerCase().startsWith(lower)));
  related.sort((a, b) => b.length - a.length);
  return related.length && lower.length >= 2 ? ` (did you mean "${related[0]}"?)` : '';
}

/**
 * A JSON object with exactly these keys. Unknown keys are errors; a missing key takes the
 * fallback's value at that key, and is an error when there is none.
 */
export function object<F extends Fields>(fields: F): Schema<ObjectOf<F>> {
  const keys = Object.keys(fields);
  return {
    expected: 'an object',
    parse(value, ctx, path, fallback) {
      if (value === undefined && fallback !== undefined) value = {};
      if (!isPlainObject(value)) mismatch(ctx, path, 'an object', value);
      for (const k of Object.keys(value)) {
        if (!Object.prototype.hasOwnProperty.call(fields, k)) {
          throw new ConfigError(ctx.source, join(path, k),
            `unknown key "${join(path, k)}"${suggestion(k, keys)}; allowed keys${path ? ` in "${path}"` : ''}: ${keys.join(', ')}`);
        }
      }
      const out: Record<string, unknown> = {};
      const fb = fallback as Record<string, unknown> | undefined;
      for (const k of keys) {
        const schema = fields[k]!;
        const p = join(path, k);
        const has = Object.prototype.hasOwnProperty.call(value, k);
        const def = fb?.[k];
        if (!has && def === undefined) throw new ConfigError(ctx.source, p, `missing required key "${p}" (${schema.expected})`);
        out[k] = has ? schema.parse(value[k], ctx, p, def) : structuredClone(def);
      }
      return out as ObjectOf<F>;
    },
  };
}

// ---------------------------------------------------------------- entry points

/** Validates `json` from `source` against `schema`, filling missing keys from `defaults`. */
export function parseWith<T>(schema: Schema<T>, json: unknown, source: string, defaults?: T): T {
  return schema.parse(json, { source }, '', defaults);
}

/** Parses JSON text, turning a syntax error into a ConfigError naming the source. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ConfigError(source, '', `invalid JSON: ${(e as Error).message}`);
  }
}
