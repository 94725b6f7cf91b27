// Left-to-right arithmetic chains shared by the `shapes` and `chart` families.
//
// Question:  <keyword> <read> (<op><read> | <op><const>)*      evaluated strictly left to
//            right, no precedence: "r+g*2" means (r + g) * 2.
// Ops:       +  add, -  subtract, *  multiply, ^  max, _  min.
// Steps:     a read step   "<read>=<n>"       one visual claim: <read> has value <n> in the image
//            an update     "<op><v>=<acc>"    logical: acc_prev <op> v = acc
// The first read sets the running value; every later <op><read> term takes two steps
// (read it, then update), every <op><const> term one step (update). So a chain with m reads
// and c constants has horizon 1 + 2(m-1) + c.
// Numbers are canonical decimal (no leading zeros, no "-0"), so a verified step is
// character-for-character the gold step.
import type { StepCheck } from '../types.js';
import { FieldError } from '../types.js';
import type { Rng } from '../../util/rng.js';
import { garbleStep, verdict } from './common.js';

export type ChainOp = '+' | '-' | '*' | '^' | '_';
export const CHAIN_OPS: readonly ChainOp[] = ['+', '-', '*', '^', '_'];

export type ChainTerm = { op: ChainOp; read: string } | { op: ChainOp; value: number };
export interface ChainPlan { first: string; terms: ChainTerm[] }

/** One step of a plan: read a value from the image, or update the running value. */
export type PlanStep = { kind: 'read'; ref: string } | { kind: 'update'; op: ChainOp; operand: 'last' | number };

export function planSteps(plan: ChainPlan): PlanStep[] {
  const out: PlanStep[] = [{ kind: 'read', ref: plan.first }];
  for (const t of plan.terms) {
    if ('read' in t) out.push({ kind: 'read', ref: t.read }, { kind: 'update', op: t.op, operand: 'last' });
    else out.push({ kind: 'update', op: t.op, operand: t.value });
  }
  return out;
}

export function applyOp(op: ChainOp, acc: number, v: number): number {
  switch (op) {
    case '+': return acc + v;
    case '-': return acc - v;
    case '*': return acc * v;
    case '^': return Math.max(acc, v);
    case '_': return Math.min(acc, v);
  }
}

export function chainText(plan: ChainPlan): string {
  return plan.first + plan.terms.map((t) => t.op + ('read' in t ? t.read : String(t.value))).join('');
}

const NUM = '(?:0|[1-9][0-9]*)';
const UPDATE_RE = new RegExp(`^([-+*^_])(${NUM})=(-?${NUM})$`);
const READ_RE = new RegExp(`^(.+)=(${NUM})$`);

export interface ParsedUpdate { op: ChainOp; operand: number; result: number }
export function parseUpdate(text: string): ParsedUpdate | null {
  const m = UPDATE_RE.exec(text);
  if (!m || m[3] === '-0') return null;
  return { op: m[1] as ChainOp, operand: Number(m[2]), result: Number(m[3]) };
}
export function formatUpdate(op: ChainOp, operand: number, result: number): string {
  return `${op}${operand}=${result}`;
}
export function formatRead(ref: string, value: number): string {
  return `${ref}=${value}`;
}

/** How a family reads: which refs are well-formed, and their true value in the scene. */
export interface ChainReader {
  /** Whether `ref` is a well-formed read reference in the family grammar. */
  isRef(ref: string): boolean;
  /** True value of a well-formed ref in the scene, or a reason it has none (e.g. "no m bar"). */
  valueOf(ref: string): number | { missing: string };
  /** Allowed ops (update steps with other ops are unreadable). */
  ops: readonly ChainOp[];
}

/**
 * Parse the chain after the keyword. `readAt(text, pos)` returns the length of the read
 * token starting at pos (0 when there is none).
 */
export function parseChain(text: string, ops: readonly ChainOp[], readAt: (text: string, pos: number) => number): ChainPlan {
  let pos = 0;
  const readToken = (): string => {
    const n = readAt(text, pos);
    if (n <= 0) throw new FieldError('question', `expected a ${'reference'} at character ${pos + 1} of "${text}"`);
    const tok = text.slice(pos, pos + n);
    pos += n;
    return tok;
  };
  const first = readToken();
  const terms: ChainTerm[] = [];
  while (pos < text.length) {
    const op = text[pos] as ChainOp;
    if (!ops.includes(op)) throw new FieldError('question', `expected an operator (${ops.join(' ')}) at character ${pos + 1} of "${text}"`);
    pos++;
    const m = /^(0|[1-9][0-9]*)/.exec(text.slice(pos));
    if (m) {
      terms.push({ op, value: Number(m[1]) });
      pos += m[1]!.length;
    } else terms.push({ op, read: readToken() });
  }
  return { first, terms };
}

/** Evaluate the plan with true values; returns the gold steps and answer. */
export function solveChain(plan: ChainPlan, reader: ChainReader): { steps: string[]; answer: number } {
  const steps: string[] = [];
  let acc = 0, last = 0, started = false;
  for (const s of planSteps(plan)) {
    if (s.kind === 'read') {
      const v = reader.valueOf(s.ref);
      if (typeof v !== 'number') throw new Error(`chain: ${s.ref} has no value (${v.missing})`);
      steps.push(formatRead(s.ref, v));
      if (!started) { acc = v; started = true; } else last = v;
    } else {
      const operand = s.operand === 'last' ? last : s.operand;
      acc = applyOp(s.op, acc, operand);
      steps.push(formatUpdate(s.op, operand, acc));
    }
  }
  return { steps, answer: acc };
}

/** Judge model steps against the plan, the scene (via `reader`) and the model's own earlier steps. */
export function checkChain(plan: ChainPlan, reader: ChainReader, steps: readonly string[]): StepCheck[] {
  const planned = planSteps(plan);
  const out: StepCheck[] = [];
  let acc: number | null = null; // the model's running value
  let last: number | null = null; // the model's most recent read after the first
  const takeRead = (v: number) => { if (acc === null) acc = v; else last = v; };
  const describe = (p: PlanStep) => (p.kind === 'read' ? `read ${p.ref}` : `update ${p.op}${p.operand === 'last' ? '<last read>' : p.operand}`);

  for (let k = 0; k < steps.length; k++) {
    const text = steps[k]!;
    const exp = planned[k];
    if (!exp) {
      out.push({ kind: 'logical', visualClaims: 0, visualClaimsHeld: 0, reason: `extra step: the question needs ${planned.length} steps` });
      continue;
    }
    const upd = parseUpdate(text);
    const rm = upd ? null : READ_RE.exec(text);
    const read = rm && reader.isRef(rm[1]!) ? { ref: rm[1]!, value: Number(rm[2]) } : null;
    const unreadable = upd && !reader.ops.includes(upd.op)
      ? `unknown operator "${upd.op}"`
      : !upd && !read ? `cannot read step "${text}": expected "<ref>=<n>" or "<op><n>=<result>"` : null;
    if (unreadable !== null) {
      out.push({ kind: 'format', visualClaims: 0, visualClaimsHeld: 0, reason: unreadable });
      // Assume the planned step was done correctly from the model's state.
      if (exp.kind === 'read') {
        const v = reader.valueOf(exp.ref);
        takeRead(typeof v === 'number' ? v : 0);
      } else if (acc !== null) {
        const operand = exp.operand === 'last' ? (last ?? 0) : exp.operand;
        acc = applyOp(exp.op, acc, operand);
      }
      continue;
    }
    const visual: string[] = [];
    const logical: string[] = [];
    let claims = 0, held = 0;
    if (read) {
      claims = 1;
      const truth = reader.valueOf(read.ref);
      if (typeof truth !== 'number') visual.push(`${read.ref}: ${truth.missing}`);
      else if (truth !== read.value) visual.push(`${read.ref} is ${truth}, not ${read.value}`);
      else held = 1;
      if (exp.kind !== 'read') logical.push(`step ${k + 1} should ${describe(exp)}`);
      else if (exp.ref !== read.ref) logical.push(`step ${k + 1} should read ${exp.ref}, not ${read.ref}`);
      takeRead(read.value);
    } else if (upd) {
      if (exp.kind !== 'update') logical.push(`step ${k + 1} should ${describe(exp)}`);
      else {
        if (upd.op !== exp.op) logical.push(`step ${k + 1} applies ${exp.op}, not ${upd.op}`);
        const want = exp.operand === 'last' ? last : exp.operand;
        if (want !== null && upd.operand !== want) logical.push(`operand should be ${want}, not ${upd.operand}`);
      }
      if (acc === null) logical.push('nothing to update yet');
      else {
        const r = applyOp(upd.op, acc, upd.operand);
        if (r !== upd.result) logical.push(`${acc}${upd.op}${upd.operand} is ${r}, not ${upd.result}`);
      }
      acc = upd.result;
    }
    out.push(verdict(claims, held, visual, logical));
  }
  return out;
}

/**
 * Random chain skeleton for a horizon: the first read, then terms, each either a read term
 * (2 steps) or a constant term (1 step), filling exactly `horizon` steps.
 */
export function chainSkeleton(rng: Rng, horizon: number, pRead: number): Array<'read' | 'const'> {
  const out: Array<'read' | 'const'> = [];
  let remaining = horizon - 1;
  while (remaining > 0) {
    if (remaining >= 2 && rng.chance(pRead)) { out.push('read'); remaining -= 2; }
    else { out.push('const'); remaining -= 1; }
  }
  return out;
}

/** A random constant term: +k or -k with k in 1..9, or *k with k in {2, 3} (at most `maxMul` in a chain). */
export function constTerm(rng: Rng, mulsSoFar: number, maxMul: number): ChainTerm {
  const r = rng.float();
  if (r < 0.25 && mulsSoFar < maxMul) return { op: '*', value: rng.int(2, 3) };
  return { op: r < 0.65 ? '+' : '-', value: rng.int(1, 9) };
}

/**
 * Corrupt gold step k of a chain (see TaskFamily.corruptStep). `otherRefs` lists well-formed
 * refs the family may substitute for a logical "wrong sub-query / wrong bar" error.
 */
export function corruptChainStep(plan: ChainPlan, reader: ChainReader, goldSteps: readonly string[], k: number, kind: 'visual' | 'logical' | 'format', rng: Rng, otherRefs: readonly string[]): string | null {
  const planned = planSteps(plan);
  const exp = planned[k];
  if (!exp || k >= goldSteps.length) return null;
  if (kind === 'format') return garbleStep(goldSteps[k]!, rng);
  if (exp.kind === 'read') {
    const truth = reader.valueOf(exp.ref) as number;
    if (kind === 'visual') {
      let v = truth;
      while (v === truth) v = Math.max(0, truth + rng.pick([-3, -2, -1, 1, 2, 3]));
      return formatRead(exp.ref, v);
    }
    const subs = otherRefs.filter((r) => r !== exp.ref && typeof reader.valueOf(r) === 'number');
    if (subs.length === 0) return null;
    const ref = rng.pick(subs);
    return formatRead(ref, reader.valueOf(ref) as number);
  }
  if (kind === 'visual') return null; // updates make no visual claim
  const u = parseUpdate(goldSteps[k]!)!;
  return formatUpdate(u.op, u.operand, u.result + rng.pick([-3, -2, -1, 1, 2, 3, 10]));
}
