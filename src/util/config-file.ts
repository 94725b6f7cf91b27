// Config files: JSON or YAML (chosen by the file's extension) plus `key.path=value`
// overrides, merged into one plain object before a config's own parser validates it.
//
// The parser is given the file name as its source, so its errors name the file and the full
// key path; an error at a key that came from an override is re-labelled with that override,
// so the user is pointed at what they typed rather than at a file that never held the key.
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { ConfigError, parseJsonText, type Issue } from './schema.js';

export const CONFIG_EXTENSIONS = ['.json', '.yaml', '.yml'] as const;

/** One `key.path=value` override, its value already parsed. */
export interface ConfigOverride {
  /** The dotted key path, e.g. "ivr.rounds". */
  key: string;
  value: unknown;
  /** As written, for messages: "ivr.rounds=2". */
  text: string;
}

const KEY_PATH = /^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/;

/**
 * Parses `key.path=value`. The value is read as YAML, so `3`, `1e-4`, `true`, `null`,
 * `[grid, chart]` and `{a: 1}` (and JSON) become what they look like; anything else is a
 * string. Throws an Error saying what is wrong with the text.
 */
export function parseOverride(text: string): ConfigOverride {
  const eq = text.indexOf('=');
  if (eq < 0) throw new Error(`Expected key.path=value, got ${JSON.stringify(text)}`);
  const key = text.slice(0, eq).trim();
  const valueText = text.slice(eq + 1);
  if (!KEY_PATH.test(key)) throw new Error(`Expected key.path=value: ${JSON.stringify(key)} is not a key path (keys separated by dots, e.g. ivr.rounds)`);
  // "__proto__" would reach Object.prototype in applyOverrides and change every object in the process.
  if (key.split('.').includes('__proto__')) throw new Error(`Expected key.path=value: ${JSON.stringify(key)} names "__proto__", which no config has`);
  // An empty value is more likely a slip than a wish for null; say how to write either.
  if (valueText.trim() === '') throw new Error(`Expected key.path=value: ${key}= has no value (write ${key}=null for null, ${key}="" for an empty string)`);
  let value: unknown;
  try {
    value = parseYaml(valueText);
  } catch (e) {
    throw new Error(`The value of ${key} is not valid YAML/JSON (${(e as Error).message.split('\n')[0]})`);
  }
  return { key, value, text };
}

/** Deepest nesting a config file (JSON or YAML) or `--set` value may have. Configs are a few levels deep. */
export const MAX_CONFIG_DEPTH = 64;

const COLLECTIONS = new Set(['block-map', 'block-seq', 'flow-collection']);

/** "at line L, column C" for a character offset of `text`. */
function positionOf(text: string, offset: number): string {
  const before = text.slice(0, offset);
  return `at line ${before.split('\n').length}, column ${before.length - before.lastIndexOf('\n')}`;
}

/**
 * YAML.parseDocument(text).toJS(), with two changes:
 * - no pretty errors: building their source excerpt takes time quadratic in the text (2 s for
 *   a 71 KB file with one error); the first error's line and column are added here instead, as
 *   "<message> at line L, column C";
 * - nesting deeper than MAX_CONFIG_DEPTH is refused while the text is parsed, before the yaml
 *   package composes nodes: it recurses once per level, catches its own stack overflow
 *   (thousands of "[" in a row) and carries on with the stack nearly full, and a later parse in
 *   the same process could then abort it ("FATAL ERROR: RegExpCompiler Allocation failed").
 *   The parser's stack holds one entry per open collection.
 */
function parseYaml(text: string): unknown {
  const parser = new YAML.Parser();
  const tokens: YAML.CST.Token[] = [];
  for (const lexeme of new YAML.Lexer().lex(text)) {
    for (const token of parser.next(lexeme)) tokens.push(token);
    // The stack also holds the document and a scalar being read: count only when it could be too deep.
    if (parser.stack.length > MAX_CONFIG_DEPTH) {
      const open = parser.stack.filter((t) => COLLECTIONS.has(t.type));
      if (open.length > MAX_CONFIG_DEPTH) throw new Error(`nested more than ${MAX_CONFIG_DEPTH} levels deep ${positionOf(text, open.at(-1)!.offset)}`);
    }
  }
  for (const token of parser.end()) tokens.push(token);
  // As YAML.parseDocument: the first document, and an error if there is another. The composer
  // makes an Error per problem, and a text can have one per character (80,000 "{" after an
  // alias: 0.4 s of CPU, nearly all of it capturing stack traces that no message here uses).
  let doc: YAML.Document.Parsed | null = null;
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    for (const d of new YAML.Composer({ uniqueKeys: false }).compose(tokens, true, text.length)) {
      if (!doc) doc = d;
      else {
        doc.errors.push(new YAML.YAMLParseError([d.range[0], d.range[1]], 'MULTIPLE_DOCS', 'Source contains multiple documents; please use YAML.parseAllDocuments()'));
        break;
      }
    }
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  const err = doc!.errors[0];
  const dup = duplicateKey(doc!.contents);
  if (dup >= 0 && (!err || dup < err.pos[0])) throw new Error(`Map keys must be unique ${positionOf(text, dup)}`);
  if (err) throw new Error(`${err.message.split('\n')[0]} ${positionOf(text, err.pos[0])}`);
  return doc!.toJS();
}

/**
 * Where the first repeated key of a mapping under `root` starts, or -1. The yaml package's own
 * check (uniqueKeys) compares each key with every earlier key of its mapping: 1.9 s for a
 * 100 KB file of distinct keys, 6 s at 200 KB. The same test, scalar keys equal by value
 * (`a === b`, so NaN never repeats) and other keys only to themselves, with a Set per mapping.
 */
function duplicateKey(root: unknown): number {
  let first = -1;
  const todo: unknown[] = [root];
  while (todo.length > 0) {
    const node = todo.pop();
    if (YAML.isMap(node)) {
      const seen = new Set<unknown>();
      for (const pair of node.items) {
        const key = pair.key as YAML.Node | null;
        const id = YAML.isScalar(key) ? key.value : key;
        if (id === id && seen.has(id)) {
          const at = key?.range?.[0] ?? -1;
          if (at >= 0 && (first < 0 || at < first)) first = at;
        }
        seen.add(id);
        todo.push(pair.key, pair.value);
      }
    } else if (YAML.isSeq(node)) {
      for (const item of node.items) todo.push(item);
    } else if (YAML.isPair(node)) {
      todo.push(node.key, node.value);
    }
  }
  return first;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Applies overrides in order to a copy of `raw`. Missing objects on the way are created, and
 * a non-object on the way (null, a number) is replaced, so that `prompts.curriculum.x=1`
 * works where the file says `curriculum: null`. A top level that is not an object is left
 * alone for the config's parser to reject.
 */
export function applyOverrides(raw: unknown, overrides: readonly ConfigOverride[]): unknown {
  if (overrides.length === 0 || !isPlainObject(raw)) return raw;
  const out = structuredClone(raw);
  for (const o of overrides) {
    const keys = o.key.split('.');
    let node = out;
    if (keys.includes('__proto__')) throw new Error(`override ${o.text}: "__proto__" is not a config key`);
    for (const k of keys.slice(0, -1)) {
      if (!isPlainObject(node[k])) node[k] = {};
      node = node[k] as Record<string, unknown>;
    }
    node[keys.at(-1)!] = structuredClone(o.value);
  }
  return out;
}

/** An error about the file as a whole (it cannot be read, or is not JSON/YAML). */
function fileError(file: string, detail: string, code: string): ConfigError {
  return new ConfigError(file, { path: '', message: detail, detail, code });
}

function readError(file: string, e: unknown): ConfigError {
  const code = (e as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
  return fileError(file, `cannot read (${why})`, 'unreadable');
}

/** Where valid JSON `text` opens its (MAX_CONFIG_DEPTH + 1)th level of nesting, or -1. JSON.parse
 *  itself takes any depth, but copying such a value (structuredClone, for `--set`) overflows the
 *  stack with a RangeError. */
function jsonTooDeep(text: string): number {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) { // a string: skip to its closing quote
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_CONFIG_DEPTH) return i;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return -1;
}

/** Reads a config file into a plain value: `.json` as JSON, `.yaml`/`.yml` as YAML. */
export function readConfigFile(file: string): unknown {
  const ext = path.extname(file).toLowerCase();
  let text: string;
  try {
    if (fs.statSync(file).isDirectory()) {
      throw fileError(file, `is a directory, not a config file (give a ${CONFIG_EXTENSIONS.join(', ')} file)`, 'unreadable');
    }
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw e instanceof ConfigError ? e : readError(file, e);
  }
  if (ext === '.json') {
    const value = parseJsonText(text, file);
    const deep = jsonTooDeep(text);
    if (deep >= 0) throw fileError(file, `invalid JSON: nested more than ${MAX_CONFIG_DEPTH} levels deep (${positionOf(text, deep).slice(3)})`, 'invalid_json');
    return value;
  }
  if (ext === '.yaml' || ext === '.yml') {
    try {
      return parseYaml(text);
    } catch (e) {
      // The parser's message ends with a source excerpt; its first line has the position.
      throw fileError(file, `invalid YAML: ${(e as Error).message.split('\n')[0]}`, 'invalid_yaml');
    }
  }
  throw fileError(file, `unknown config format ${JSON.stringify(ext || '(no extension)')}: name the file ${CONFIG_EXTENSIONS.join(', ')}`, 'unknown_format');
}

/** The override responsible for a problem at `errorPath` (`a.b[2].c`): the last one at,
 *  under or above it. */
function overrideAt(errorPath: string, overrides: readonly ConfigOverride[]): ConfigOverride | undefined {
  const within = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
  return [...overrides].reverse().find((o) => within(errorPath, o.key) || (errorPath !== '' && within(o.key, errorPath)));
}

/**
 * Reads `file`, applies `overrides` and validates the merged object with `parse(raw, source)`
 * (the config's own parser). A problem at an overridden key names the override, e.g.
 *   configs/ivr.json: --set ivr.roundz=3: unknown key "ivr.roundz" (did you mean "ivr.rounds"?)
 */
export function loadConfig<T>(file: string, overrides: readonly ConfigOverride[], parse: (raw: unknown, source: string) => T): T {
  const merged = applyOverrides(readConfigFile(file), overrides);
  try {
    return parse(merged, file);
  } catch (e) {
    if (!(e instanceof ConfigError) || overrides.length === 0) throw e;
    const issues: Issue[] = e.issues.map((i) => {
      const o = overrideAt(i.path, overrides);
      return o ? { ...i, message: `--set ${o.text}: ${i.message}` } : i;
    });
    if (issues.every((i, k) => i === e.issues[k])) throw e;
    throw new ConfigError(e.source, issues);
  }
}
