// Validation of untrusted JSON (config files, results files, task records, HTTP request
// bodies) with zod, and the one error type every validator throws.
//
// Schemas are plain zod schemas; this module only turns zod's issues into messages that
// name the source and the full dotted key path, say what was expected and show what was
// found, e.g.
//   configs/grpo.json: key "ivr.rounds" must be an integer >= 1, got "three"
// The "expected" phrase is read off the schema's JSON Schema (z.toJSONSchema, the same
// rendering published in docs/schema/), so a bound is stated once, in the zod schema.
// Unknown keys are errors in strict objects (with a did-you-mean hint), so a typo never
// silently falls back to a default.
import { z } from 'zod';

/** One problem: where (dotted path, '' = top level), the full sentence, and a class. */
export interface Issue {
  /** `a.b[2].c`; '' for the value itself. */
  path: string;
  /** `key "a.b" must be ...`: the sentence after `source: `. */
  message: string;
  /** The same without the leading key label: `must be ...` (for `param: detail` wire formats). */
  detail: string;
  /** 'missing', 'invalid_type', 'invalid_value', 'unknown_key', or a custom check's code. */
  code: string;
}

/** Most problems listed in one message; the rest are counted. */
const MAX_LISTED = 20;

/**
 * The error of every validator: names the source (a file, `file:line`, or "request body")
 * and every problem with its key path. `path`/`detail` describe the first problem.
 */
export class ValidationError extends Error {
  readonly issues: readonly Issue[];
  /** `issues`, or (the older form) the path and the detail of one problem. */
  constructor(readonly source: string, issues: readonly Issue[] | Issue | string, detail?: string) {
    const list: readonly Issue[] = typeof issues === 'string' ? [issue(issues, detail ?? '')] : Array.isArray(issues) ? issues : [issues as Issue];
    const shown = list.slice(0, MAX_LISTED).map((i) => i.message);
    if (list.length > MAX_LISTED) shown.push(`... and ${list.length - MAX_LISTED} more`);
    super(shown.length === 1
      ? `${source}: ${shown[0]}`
      : `${source}: ${list.length} problems:\n${shown.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ValidationError';
    this.issues = list;
  }

  /** Dotted path of the first problem. */
  get path(): string { return this.issues[0]?.path ?? ''; }
  /** Sentence of the first problem (without the source). */
  get detail(): string { return this.issues[0]?.message ?? ''; }
  /** Every problem's sentence as listed in the message (capped, with an "... and N more" line). */
  get problems(): string[] {
    const shown = this.issues.slice(0, MAX_LISTED).map((i) => i.message);
    if (this.issues.length > MAX_LISTED) shown.push(`... and ${this.issues.length - MAX_LISTED} more`);
    return shown;
  }
}

/** Config errors are validation errors; the name stays for the public API. */
export { ValidationError as ConfigError };

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

/**
 * An issue from a free-form detail about the key at `path` (cross-field checks); with
 * path '' the detail is about the whole source ("cannot read: ...").
 */
export function issue(path: string, detail: string, code = 'invalid_value'): Issue {
  return { path, message: path ? `${keyLabel(path)} ${detail}` : detail, detail, code };
}

/** Throws a ValidationError for one free-form problem at `path`. */
export function fail(source: string, path: string, detail: string, code?: string): never {
  throw new ValidationError(source, issue(path, detail, code));
}

// ---------------------------------------------------------------- expected phrases

type Json = Record<string, unknown>;

const jsonSchemas = new WeakMap<z.ZodType, Json>();

/** The schema's JSON Schema (cached): what messages and docs/schema/ describe. */
export function jsonSchemaOf(schema: z.ZodType): Json {
  let js = jsonSchemas.get(schema);
  if (!js) {
    js = z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' }) as Json;
    jsonSchemas.set(schema, js);
  }
  return js;
}

/** The sub-schema at `path` of a JSON Schema, or undefined. */
function jsonAt(js: Json | undefined, path: readonly PropertyKey[]): Json | undefined {
  for (const seg of path) {
    if (!js) return undefined;
    if (Array.isArray(js.anyOf)) js = (js.anyOf as Json[]).find((b) => (typeof seg === 'number' ? b.items : b.properties || b.additionalProperties));
    if (!js) return undefined;
    if (typeof seg === 'number') js = js.items as Json | undefined;
    else {
      const props = js.properties as Record<string, Json> | undefined;
      js = props?.[String(seg)] ?? (typeof js.additionalProperties === 'object' ? js.additionalProperties as Json : undefined);
    }
  }
  return js;
}

const isSafeBound = (v: unknown) => typeof v === 'number' && Math.abs(v) < Number.MAX_SAFE_INTEGER;

/** "an integer >= 1", "a number in [0, 1]", `one of "a", "b"`, ... from a JSON Schema. */
export function describe(js: Json | undefined): string {
  if (!js) return 'valid';
  if (Array.isArray(js.anyOf)) {
    const branches = js.anyOf as Json[];
    const nonNull = branches.filter((b) => b.type !== 'null');
    return [...nonNull.map(describe), ...(nonNull.length < branches.length ? ['null'] : [])].join(' or ');
  }
  if (Array.isArray(js.type)) return (js.type as string[]).map((type) => describe({ ...js, type })).join(' or ');
  if (Array.isArray(js.enum)) return `one of ${js.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  if ('const' in js) return JSON.stringify(js.const);
  switch (js.type) {
    case 'boolean': return 'true or false';
    case 'string': return (js.minLength as number) >= 1 ? 'a non-empty string' : 'a string';
    case 'object': return 'an object';
    case 'null': return 'null';
    case 'array': {
      const lo = js.minItems as number | undefined, hi = js.maxItems as number | undefined;
      const n = lo && hi !== undefined ? ` of ${lo} to ${hi}` : lo ? ` of at least ${lo}` : hi !== undefined ? ` of at most ${hi}` : '';
      return `an array${n} (items: ${describe(js.items as Json | undefined)})`;
    }
    case 'integer': case 'number': {
      const kind = js.type === 'integer' ? 'an integer' : 'a number';
      const min = isSafeBound(js.minimum) ? js.minimum as number : undefined;
      const max = isSafeBound(js.maximum) ? js.maximum as number : undefined;
      if (min !== undefined && max !== undefined) return `${kind} in [${min}, ${max}]`;
      const parts: string[] = [];
      if (js.exclusiveMinimum !== undefined) parts.push(`> ${js.exclusiveMinimum}`);
      if (min !== undefined) parts.push(`>= ${min}`);
      if (js.exclusiveMaximum !== undefined) parts.push(`< ${js.exclusiveMaximum}`);
      if (max !== undefined) parts.push(`<= ${max}`);
      return parts.length ? `${kind} ${parts.join(' and ')}` : kind;
    }
    default: return 'valid';
  }
}

// ---------------------------------------------------------------- issues to messages

function pathText(path: readonly PropertyKey[]): string {
  let s = '';
  for (const seg of path) s += typeof seg === 'number' ? `[${seg}]` : s ? `.${String(seg)}` : String(seg);
  return s;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The raw value at `path`, and whether its last key is present in its parent. */
function valueAt(root: unknown, path: readonly PropertyKey[]): { value: unknown; present: boolean } {
  let v: unknown = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object' || !Object.prototype.hasOwnProperty.call(v, seg)) return { value: undefined, present: false };
    v = (v as Record<PropertyKey, unknown>)[seg];
  }
  return { value: v, present: true };
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

/** ` (did you mean "x"?)` for a misspelt key, or ''. */
export function suggestion(key: string, allowed: readonly string[]): string {
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

/** Our messages for zod's issues: one per offending key (the first issue at a path wins). */
export function toIssues(schema: z.ZodType, input: unknown, zodIssues: readonly z.core.$ZodIssue[]): Issue[] {
  const out: Issue[] = [];
  const seen = new Set<string>();
  const add = (i: Issue) => { if (!seen.has(i.path)) { seen.add(i.path); out.push(i); } };
  for (const zi of zodIssues) {
    const path = pathText(zi.path);
    if (zi.code === 'unrecognized_keys') {
      const allowed = Object.keys((jsonAt(jsonSchemaOf(schema), zi.path)?.properties as Json | undefined) ?? {});
      for (const k of zi.keys) {
        const p = path ? `${path}.${k}` : k;
        const detail = `is unknown${suggestion(k, allowed)}; allowed keys${path ? ` in "${path}"` : ''}: ${allowed.join(', ')}`;
        add({ path: p, message: `unknown key "${p}"${detail.slice('is unknown'.length)}`, detail, code: 'unknown_key' });
      }
      continue;
    }
    if (zi.code === 'custom') {
      add(issue(path, zi.message, (zi.params?.code as string | undefined) ?? 'invalid_value'));
      continue;
    }
    const expected = describe(jsonAt(jsonSchemaOf(schema), zi.path));
    const { value, present } = valueAt(input, zi.path);
    if (!present && path) {
      add({ path, message: `missing required key "${path}" (${expected})`, detail: `is missing (${expected})`, code: 'missing' });
    } else {
      const detail = `must be ${expected}, got ${show(value)}`;
      add({ path, message: `${keyLabel(path)} ${detail}`, detail, code: zi.code === 'invalid_type' ? 'invalid_type' : 'invalid_value' });
    }
  }
  return out;
}

/** Validates `value` from `source`; returns the parsed value or throws a ValidationError naming every problem. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, source: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new ValidationError(source, toIssues(schema, value, r.error.issues));
}

// ---------------------------------------------------------------- defaults and JSON text

/**
 * `raw` laid over `defaults`: objects merge key by key, arrays and scalars replace, a key
 * missing from `raw` takes the default (a fresh copy). Keys are defined, never assigned,
 * so a "__proto__" key stays a plain (unknown, hence rejected) key.
 */
export function withDefaults(defaults: unknown, raw: unknown): unknown {
  if (raw === undefined) return structuredClone(defaults);
  if (!isPlainObject(defaults) || !isPlainObject(raw)) return raw;
  const out: Record<string, unknown> = {};
  const put = (k: string, v: unknown) => Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const [k, v] of Object.entries(defaults)) put(k, withDefaults(v, Object.prototype.hasOwnProperty.call(raw, k) ? raw[k] : undefined));
  for (const k of Object.keys(raw)) if (!Object.prototype.hasOwnProperty.call(defaults, k)) put(k, raw[k]);
  return out;
}

/** Parses JSON text, turning a syntax error into a ValidationError naming the source. */
/** JSON.parse's message with its character position given as line and column (1-based). */
export function withLineColumn(message: string, text: string): string {
  const m = /\bposition (\d+)/.exec(message);
  if (!m) return message;
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${message.replace(/\s*\(line \d+ column \d+\)/, '')} (line ${line}, column ${column})`;
}

export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    fail(source, '', `invalid JSON: ${withLineColumn((e as Error).message, text)}`, 'invalid_json');
  }
}

/**
 * The published JSON Schema of a config: a key is required only where `defaults` has no
 * value for it (a missing key takes its default), `defaults` are shown where given.
 */
export function configJsonSchema(schema: z.ZodType, meta: { title: string; description: string }, defaults: unknown, showDefaults: boolean): Json {
  const js = structuredClone(jsonSchemaOf(schema));
  const walk = (node: Json, d: unknown): void => {
    // zod's integers carry the safe-integer range as bounds; they say nothing to a reader.
    if (node.maximum === Number.MAX_SAFE_INTEGER) delete node.maximum;
    if (node.minimum === Number.MIN_SAFE_INTEGER) delete node.minimum;
    if (isPlainObject(node.items)) walk(node.items, undefined);
    if (Array.isArray(node.anyOf)) { for (const b of node.anyOf as Json[]) walk(b, d); return; }
    if (!isPlainObject(node.properties)) return;
    const props = node.properties as Record<string, Json>;
    if (!isPlainObject(d)) { for (const p of Object.values(props)) walk(p, undefined); return; }
    if (Array.isArray(node.required)) {
      node.required = (node.required as string[]).filter((k) => d[k] === undefined);
      if ((node.required as string[]).length === 0) delete node.required;
    }
    for (const [k, p] of Object.entries(props)) {
      if (showDefaults && d[k] !== undefined && !isPlainObject(d[k])) p.default = d[k];
      walk(p, d[k]);
    }
  };
  walk(js, defaults);
  const { $schema, ...rest } = js;
  return { $schema, title: meta.title, description: meta.description, ...rest };
}
