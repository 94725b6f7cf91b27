// Left-to-right arithmetic chains shared by the `shapes` and `chart` families.
//
// Question:  <keyword> <read> (<op><read> | <op><const>)*      evaluated strictly left to
//            right, no precedence: "r+g*2" means (r + g) * 2. A digit right after an
//            operator starts a constant, so no read reference may start with a digit.
// Ops:       +  add, -  subtract, *  multiply, ^  max, _  min.
// Steps:     a read step   "<read>=<n>"       one visual claim: <read> has value <n> in the image
//            an update     "<op><v>=<acc>"    logical: acc_prev <op> v = acc
// The first read of the question sets the running value; every later <op><read> term is
// one read step and one update, every <op><const> term one update. So a chain with m
// (distinct) reads and c constants has horizon m + (m - 1 + c) = 1 + 2(m-1) + c.
//
// Order. Updates come in the question's order; reads may come in any order and at any time,
// as long as each read is written before the update that uses it (the first read before any
// update) and each reference is read once. An update's operand is the model's OWN claimed
// value of that term's reference. Every valid order has the same horizon. The gold solution
// (and the oracle's next step from any verified prefix, `nextChainStep`) reads each term
// right before its update: that is the one policy `nextPlanned` below, so solving, checking
// an unreadable step and the oracle cannot disagree.
// Numbers are canonical decimal (no leading zeros, no "-0").
import type { StepCheck } from '../types.js';
import { FieldError } from '../types.js';
import type { Rng } from '../../util/rng.js';
import { garbleStep, verdict } from './common.js';

export type ChainOp = '+' | '-' | '*' | '^' | '_';

export type ChainTerm = { op: ChainOp; read: string } | { op: ChainOp; value: number };
export interface ChainPlan { first: string; terms: ChainTerm[] }

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

/** The references a plan reads, in question order (the first read, then each read term). */
export function planRefs(plan: ChainPlan): string[] {
  return [plan.first, ...plan.terms.flatMap((t) => ('read' in t ? [t.read] : []))];
}

/** Number of steps of every valid solution: one per read, one per term. */
export function planHorizon(plan: ChainPlan): number {
  return planRefs(plan).length + plan.terms.length;
}

/**
 * Validate a parsed question against a scene and horizon (the families' validateQuestion):
 * every reference has a value, none is read twice (a step reads each once), the horizon fits.
 */
export function checkPlan(plan: ChainPlan, reader: ChainReader, horizon: number): void {
  const refs = planRefs(plan);
  for (const [i, ref] of refs.entries()) {
    const v = reader.valueOf(ref);
    if (typeof v !== 'number') throw new FieldError('question', `${ref}: ${v.missing}`);
    if (refs.indexOf(ref) !== i) throw new FieldError('question', `${ref} is read twice; each reference may appear once`);
  }
  const n = planHorizon(plan);
  if (n !== horizon) throw new FieldError('question', `needs ${n} steps but horizon is ${horizon}`);
}

/** One step as the chain sees it: a read of a reference, or an update. */
type ChainStep = { kind: 'read'; ref: string; value: number } | { kind: 'update'; op: ChainOp; operand: number; result: number };

/** The model's claimed state after some steps: the values it read, its running value, the updates done. */
interface ChainState { claimed: Map<string, number>; acc: number | null; updates: number }

const emptyState = (): ChainState => ({ claimed: new Map(), acc: null, updates: 0 });

/** Take a step into the state, with the model's own numbers (whatever their verdict). */
function take(plan: ChainPlan, state: ChainState, step: ChainStep): void {
  if (step.kind === 'read') {
    if (!planRefs(plan).includes(step.ref) || state.claimed.has(step.ref)) return; // the first claim stands
    state.claimed.set(step.ref, step.value);
    if (step.ref === plan.first && state.acc === null) state.acc = step.value;
  } else {
    state.acc = step.result;
    if (state.updates < plan.terms.length) state.updates++;
  }
}

/**
 * The canonical next step from a state, with true values for reads: the next planned update
 * when its operand has been read (and the first read is there), else the read it waits for;
 * null when every update is done. From the empty state this walks the gold order.
 */
function nextPlanned(plan: ChainPlan, reader: ChainReader, state: ChainState): ChainStep | null {
  const read = (ref: string): ChainStep => {
    const v = reader.valueOf(ref);
    return { kind: 'read', ref, value: typeof v === 'number' ? v : 0 };
  };
  if (state.acc === null) return read(plan.first);
  const term = plan.terms[state.updates];
  if (!term) return null;
  const operand = 'read' in term ? state.claimed.get(term.read) : term.value;
  if (operand === undefined) return 'read' in term ? read(term.read) : null;
  return { kind: 'update', op: term.op, operand, result: applyOp(term.op, state.acc, operand) };
}

const stepText = (s: ChainStep): string => (s.kind === 'read' ? formatRead(s.ref, s.value) : formatUpdate(s.op, s.operand, s.result));

/** Evaluate the plan with true values; returns the gold steps (each read right before its update) and answer. */
export function solveChain(plan: ChainPlan, reader: ChainReader): { steps: string[]; answer: number } {
  for (const ref of planRefs(plan)) {
    const v = reader.valueOf(ref);
    if (typeof v !== 'number') throw new Error(`chain: ${ref} has no value (${v.missing})`);
  }
  const state = emptyState();
  const steps: string[] = [];
  for (let s = nextPlanned(plan, reader, state); s !== null; s = nextPlanned(plan, reader, state)) {
    steps.push(stepText(s));
    take(plan, state, s);
  }
  return { steps, answer: state.acc ?? 0 };
}

/** Judge model steps against the plan, the scene (via `reader`) and the model's own earlier steps; see the header for the order rules. */
export function checkChain(plan: ChainPlan, reader: ChainReader, steps: readonly string[]): StepCheck[] {
  return judgeChain(plan, reader, steps).checks;
}

/**
 * The correct next step after a verified prefix, in the prefix's own order (the oracle
 * rewrite): the next update if its operand was read, else the read it needs; null when the
 * prefix is complete. The caller checks that the prefix verifies.
 */
export function nextChainStep(plan: ChainPlan, reader: ChainReader, verifiedPrefix: readonly string[]): string | null {
  const next = nextPlanned(plan, reader, judgeChain(plan, reader, verifiedPrefix).state);
  return next && stepText(next);
}

/** A step in the chain grammar, or why it cannot be read. */
function parseStep(reader: ChainReader, text: string): ChainStep | string {
  const upd = parseUpdate(text);
  if (upd) return reader.ops.includes(upd.op) ? { kind: 'update', ...upd } : `unknown operator "${upd.op}"`;
  const rm = READ_RE.exec(text);
  if (rm && reader.isRef(rm[1]!)) return { kind: 'read', ref: rm[1]!, value: Number(rm[2]) };
  return `cannot read step "${text}": expected "<ref>=<n>" or "<op><n>=<result>"`;
}

function judgeChain(plan: ChainPlan, reader: ChainReader, steps: readonly string[]): { checks: StepCheck[]; state: ChainState } {
  const refs = planRefs(plan);
  const horizon = planHorizon(plan);
  const state = emptyState();
  const checks: StepCheck[] = [];
  for (const text of steps) {
    if (checks.length >= horizon) {
      checks.push({ kind: 'logical', visualClaims: 0, visualClaimsHeld: 0, reason: `extra step: the question needs ${horizon} steps` });
      continue;
    }
    const step = parseStep(reader, text);
    if (typeof step === 'string') {
      checks.push({ kind: 'format', visualClaims: 0, visualClaimsHeld: 0, reason: step });
      // Assume the canonical next step was done correctly from the model's state.
      const assumed = nextPlanned(plan, reader, state);
      if (assumed) take(plan, state, assumed);
      continue;
    }
    const visual: string[] = [];
    const logical: string[] = [];
    let claims = 0, held = 0;
    if (step.kind === 'read') {
      claims = 1;
      const truth = reader.valueOf(step.ref);
      if (typeof truth !== 'number') visual.push(`${step.ref}: ${truth.missing}`);
      else if (truth !== step.value) visual.push(`${step.ref} is ${truth}, not ${step.value}`);
      else held = 1;
      if (!refs.includes(step.ref)) logical.push(`the question does not read ${step.ref}`);
      else if (state.claimed.has(step.ref)) logical.push(`${step.ref} was read already`);
    } else {
      const term = plan.terms[state.updates];
      if (!term) logical.push(`no operation left: the question has ${plan.terms.length}`);
      else {
        if (step.op !== term.op) logical.push(`the next operation is ${term.op}, not ${step.op}`);
        if ('read' in term) {
          const v = state.claimed.get(term.read);
          if (v === undefined) logical.push(`read ${term.read} before the update that uses it`);
          else if (step.operand !== v) logical.push(`operand should be ${v} (${term.read}), not ${step.operand}`);
        } else if (step.operand !== term.value) logical.push(`operand should be ${term.value}, not ${step.operand}`);
      }
      if (state.acc === null) logical.push(`nothing to update yet: read ${plan.first} first`);
      else {
        const r = applyOp(step.op, state.acc, step.operand);
        if (r !== step.result) logical.push(`${state.acc}${step.op}${step.operand} is ${r}, not ${step.result}`);
      }
    }
    checks.push(verdict(claims, held, visual, logical));
    take(plan, state, step);
  }
  return { checks, state };
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
 * refs the family may substitute for a logical error in a read: one the question does not
 * read, or one the gold steps read before k (any other question ref would be a valid order).
 */
export function corruptChainStep(plan: ChainPlan, reader: ChainReader, goldSteps: readonly string[], k: number, kind: 'visual' | 'logical' | 'format', rng: Rng, otherRefs: readonly string[]): string | null {
  const gold = goldSteps[k] === undefined ? null : parseStep(reader, goldSteps[k]!);
  if (gold === null || typeof gold === 'string') return null;
  if (kind === 'format') return garbleStep(goldSteps[k]!, rng);
  if (gold.kind === 'read') {
    if (kind === 'visual') {
      let v = gold.value;
      while (v === gold.value) v = Math.max(0, gold.value + rng.pick([-3, -2, -1, 1, 2, 3]));
      return formatRead(gold.ref, v);
    }
    const refs = planRefs(plan);
    const readBefore = goldSteps.slice(0, k).map((t) => parseStep(reader, t)).flatMap((s) => (typeof s !== 'string' && s.kind === 'read' ? [s.ref] : []));
    const subs = [...new Set([...otherRefs.filter((r) => !refs.includes(r)), ...readBefore])].filter((r) => typeof reader.valueOf(r) === 'number');
    if (subs.length === 0) return null;
    const ref = rng.pick(subs);
    return formatRead(ref, reader.valueOf(ref) as number);
  }
  if (kind === 'visual') return null; // updates make no visual claim
  return formatUpdate(gold.op, gold.operand, gold.result + rng.pick([-3, -2, -1, 1, 2, 3, 10]));
}
