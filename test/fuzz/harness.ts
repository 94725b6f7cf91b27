// The fuzz harness (issue #27): a target is a generator of inputs (a fast-check arbitrary)
// and a function that feeds one input to a boundary of the project. An input passes when the
// function returns (the boundary accepted it and its own invariants held) or throws the
// boundary's documented error (`expected(e)`); anything else is a failure: another exception,
// one input taking over MAX_MS of CPU time, or the heap growing by more than the target's bound
// over the run. Time is the CPU time of the thread that runs the input (Linux:
// /proc/thread-self/schedstat, in ns; wall time where that file is missing), so that a machine
// busy with other work does not turn fast inputs into failures; wall time is reported too. The same code runs in the test suite (a few hundred inputs per target) and in
// `npm run fuzz -- --runs N` (scripts/fuzz.mjs, one worker per target so a hang is caught).
import fc from 'fast-check';
import * as fs from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

export interface FuzzTarget<T = any> {
  name: string;
  /** What this boundary is and what counts as its documented error. */
  about: string;
  arbitrary: fc.Arbitrary<T>;
  /** Feeds one input; throws the documented error or returns. May check its own invariants. */
  run(input: T): void | Promise<void>;
  /** Whether `e` is the documented error for a bad input. */
  expected(e: unknown): boolean;
  /** Set-up before the first input and clean-up after the last one (temp dirs, servers). */
  setup?(): void | Promise<void>;
  teardown?(): void | Promise<void>;
  /** Largest allowed heap growth over a run, in MB (default 64). */
  heapGrowthMB?: number;
}

export interface FuzzFailure { index: number; error: string; input: string }

export interface FuzzResult {
  target: string;
  inputs: number;
  failures: number;
  /** Largest CPU time of one input (wall time where the thread's CPU time cannot be read). */
  maxMs: number;
  /** Largest wall time of one input. */
  maxWallMs?: number;
  maxHeapMB: number;
  heapGrowthMB: number;
  /** The first few failures, with the input (abbreviated). */
  examples: FuzzFailure[];
}

/** Longest one input may take, in CPU time of its thread. */
export const MAX_MS = 1000;

/** CPU time the calling thread has run, in ms, from /proc/thread-self/schedstat (its first
 *  field: ns on a CPU); null where the file cannot be read (not Linux). */
export function threadCpuMs(): number | null {
  try {
    const ns = Number(fs.readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[0]);
    return Number.isFinite(ns) ? ns / 1e6 : null;
  } catch {
    return null;
  }
}
const BATCH = 100;

/** A full collection before heap readings; without one (no --expose-gc, as under node --test)
 *  the growth check would measure uncollected garbage. */
const gc: () => void = (globalThis as { gc?: () => void }).gc ?? (() => {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
})();
const heapMB = () => process.memoryUsage().heapUsed / (1 << 20);

/** A short printable form of an input, for failure reports. */
export function show(input: unknown, max = 600): string {
  let s: string;
  try {
    s = fc.stringify(input);
  } catch {
    s = String(input);
  }
  return s.length > max ? `${s.slice(0, max)}… (${s.length} chars)` : s;
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message.slice(0, 400)}${e.stack ? `\n${e.stack.split('\n').slice(1, 4).join('\n')}` : ''}`;
  return `non-Error thrown: ${show(e, 200)}`;
}

/** Runs one input; returns why it failed, or null when it passed. */
export async function runOne<T>(t: FuzzTarget<T>, input: T): Promise<{ ms: number; wallMs: number; problem: string | null }> {
  const c0 = threadCpuMs();
  const t0 = performance.now();
  let problem: string | null = null;
  try {
    await t.run(input);
  } catch (e) {
    if (!t.expected(e)) problem = `unexpected error: ${describeError(e)}`;
  }
  const wallMs = performance.now() - t0;
  const c1 = c0 === null ? null : threadCpuMs();
  const ms = c0 === null || c1 === null ? wallMs : c1 - c0;
  if (problem === null && ms > MAX_MS) problem = `took ${ms.toFixed(0)} ms${c1 === null ? '' : ` of CPU (${wallMs.toFixed(0)} ms wall)`} (limit ${MAX_MS} ms)`;
  return { ms, wallMs, problem };
}

/**
 * Runs `runs` inputs of a target, generated from `seed` (batches of 100, seed + batch index, so
 * a run of N inputs never holds N inputs in memory). `progress` is called after every input.
 */
export async function runTarget<T>(t: FuzzTarget<T>, runs: number, seed: number, progress?: (done: number) => void): Promise<FuzzResult> {
  const r: FuzzResult = { target: t.name, inputs: 0, failures: 0, maxMs: 0, maxWallMs: 0, maxHeapMB: 0, heapGrowthMB: 0, examples: [] };
  await t.setup?.();
  try {
    let base = -1;
    for (let b = 0; r.inputs < runs; b++) {
      const n = Math.min(BATCH, runs - r.inputs);
      const inputs = fc.sample(t.arbitrary, { seed: (seed + b * 7919) | 0, numRuns: n });
      for (const input of inputs) {
        const { ms, wallMs, problem } = await runOne(t, input);
        r.inputs++;
        r.maxMs = Math.max(r.maxMs, ms);
        r.maxWallMs = Math.max(r.maxWallMs ?? 0, wallMs);
        r.maxHeapMB = Math.max(r.maxHeapMB, heapMB());
        if (problem !== null) {
          r.failures++;
          if (r.examples.length < 3) r.examples.push({ index: r.inputs - 1, error: problem, input: show(input) });
        }
        progress?.(r.inputs);
      }
      // The heap after the first batch is the baseline (caches and modules warmed up).
      if (b === 0) { gc(); base = heapMB(); }
    }
    gc();
    r.heapGrowthMB = base < 0 ? 0 : Math.max(0, heapMB() - base);
    const bound = t.heapGrowthMB ?? 64;
    if (r.heapGrowthMB > bound) {
      r.failures++;
      r.examples.push({ index: -1, error: `heap grew by ${r.heapGrowthMB.toFixed(1)} MB over the run (bound ${bound} MB)`, input: '' });
    }
  } finally {
    await t.teardown?.();
  }
  return r;
}

/** The summary line of the issue: `target: N inputs, F failures, max ms, max heap MB`, then the
 *  largest wall time of one input (max ms is CPU time, where it can be read). */
export function summaryLine(r: FuzzResult): string {
  return `${r.target}: ${r.inputs} inputs, ${r.failures} failures, ${r.maxMs.toFixed(1)} max ms, ${r.maxHeapMB.toFixed(1)} max heap MB (max wall ${(r.maxWallMs ?? r.maxMs).toFixed(1)} ms)`;
}

// ---------------------------------------------------------------------------------------------
// Shared generators

/** Byte-level mutations of a valid file: flips, overwrites, insertions, deletions, truncation. */
export function mutatedBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.oneof(fc.constantFrom(0, 0xff, 0x7f, 0x80), fc.nat(255)) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
  return fc.tuple(valid, fc.array(op, { minLength: 0, maxLength: 4 })).map(([v, ops]) => {
    let b = Buffer.from(v);
    for (const o of ops) {
      if (b.length === 0) break;
      const at = o.at % b.length;
      if (o.kind === 'flip') b[at] ^= 1 << o.bit;
      else if (o.kind === 'set') b[at] = o.byte;
      else if (o.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(o.bytes), b.subarray(at)]);
      else if (o.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + o.n)]);
      else b = b.subarray(0, at);
    }
    return new Uint8Array(b);
  });
}

/**
 * Text built from a dictionary of tokens that matter to parsers (tags, separators, long runs of
 * whitespace, brackets, unicode) mixed with arbitrary strings: finds what uniform random text
 * never reaches, such as a regex that backtracks on a long run of spaces.
 */
export function tokenSoup(tokens: readonly string[], maxTokens = 40): fc.Arbitrary<string> {
  const run = fc.tuple(fc.constantFrom(' ', '\n', '\t', '\r\n', '{', '[', '<', '`', 'a', '0'), fc.integer({ min: 100, max: 40_000 })).map(([c, n]) => c.repeat(n));
  const piece = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...tokens) },
    { weight: 3, arbitrary: fc.string({ maxLength: 12, unit: 'grapheme' }) },
    { weight: 1, arbitrary: fc.constantFrom('\u0000', '\uFEFF', '\uD800', '\u2028', '😀', 'é', '\\', '"') },
    { weight: 1, arbitrary: run },
  );
  return fc.array(piece, { maxLength: maxTokens }).map((a) => a.join(''));
}

/** JSON-like values that are often nearly right: used to perturb a valid object's fields. */
export const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -1, 1.5, 1e308, -0, '', ' ', '0', 'null', [], {}, [null], { '': 1 }, '__proto__', 'constructor', Number.MAX_SAFE_INTEGER + 2, 2 ** 32, -(2 ** 31) - 1),
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 20 }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** A valid object with some fields replaced by odd values, removed, or extra keys added. */
export function perturbed(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(valid, fc.array(fc.tuple(fc.nat(), oddValue, fc.constantFrom('replace', 'delete', 'add')), { maxLength: 3 }), fc.string({ maxLength: 8 }))
    .map(([v, edits, extraKey]) => {
      const out: Record<string, unknown> = { ...v };
      const keys = Object.keys(out);
      for (const [k, value, how] of edits) {
        const key = keys.length ? keys[k % keys.length]! : extraKey;
        if (how === 'replace') out[key] = value;
        else if (how === 'delete') delete out[key];
        else out[extraKey || 'extra'] = value;
      }
      return out;
    });
}
