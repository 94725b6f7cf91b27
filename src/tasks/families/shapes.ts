// Family `shapes`: counting coloured shapes with multi-hop arithmetic (CLEVR-like).
//
// Image:    up to 36 objects on a 6×6 layout, one per cell: colour r g b y (red, green,
//           blue, yellow), shape c s t (circle, square, triangle). Small image 48×48 with
//           one object per 8×8 patch; large image 384×384 with row/column labels.
// Query:    "<colour><shape>" with "." as a wildcard: "rc" red circles, "r." red objects,
//           ".t" triangles, ".." all objects. A relational query appends <rel><anchor>,
//           where the anchor is a colour+shape that occurs exactly once and rel is
//           < (strictly left of: smaller column), > (right of), ^ (above: smaller row),
//           v (below): ".s<bt" = squares left of the blue triangle.
// Question: "count <chain>" with the chain grammar of chain.ts (ops + - on queries,
//           + - * with constants, strictly left to right), e.g. "count rc+.s<bt-3".
// Steps:    "<query>=<n>" (visual claim: the count) or "<op><v>=<acc>" (logical), e.g.
//           for "count rc+.s<bt-3":  rc=3 / .s<bt=2 / +2=5 / -3=2   answer 2.
import type { Instance, RgbImage, TaskFamily } from '../types.js';
import { FieldError } from '../types.js';
import { deriveSeed, Rng } from '../../util/rng.js';
import { Canvas, type Rgb } from '../render/canvas.js';
import { chainSkeleton, chainText, checkChain, constTerm, corruptChainStep, parseChain, solveChain, type ChainOp, type ChainPlan, type ChainReader, type ChainTerm } from './chain.js';
import { checkGenerateArgs, normalizeInteger } from './common.js';

export const SHAPES_SIZE = 6;
export type ShapeColour = 'r' | 'g' | 'b' | 'y';
export type ShapeKind = 'c' | 's' | 't';
export const SHAPE_COLOURS: readonly ShapeColour[] = ['r', 'g', 'b', 'y'];
export const SHAPE_KINDS: readonly ShapeKind[] = ['c', 's', 't'];
const COLOUR_NAMES: Record<ShapeColour, string> = { r: 'red', g: 'green', b: 'blue', y: 'yellow' };
const KIND_NAMES: Record<ShapeKind, string> = { c: 'circle', s: 'square', t: 'triangle' };
const RGB: Record<ShapeColour, Rgb> = { r: [220, 50, 47], g: [40, 160, 70], b: [45, 95, 225], y: [235, 195, 25] };
const BG: Rgb = [242, 242, 242];
const OPS: readonly ChainOp[] = ['+', '-', '*'];

export interface ShapeObject { row: number; col: number; colour: ShapeColour; shape: ShapeKind }
/** Scene prior: objects sorted by (row, col), at most one per cell. */
export interface ShapesScene { size: number; objects: ShapeObject[] }

const QUERY_RE = /^([rgby.])([cst.])(?:([<>^v])([rgby])([cst]))?$/;

function queryLength(text: string, pos: number): number {
  const m = /^[rgby.][cst.](?:[<>^v][rgby][cst])?/.exec(text.slice(pos));
  return m ? m[0].length : 0;
}

function countQuery(scene: ShapesScene, ref: string): number | { missing: string } {
  const m = QUERY_RE.exec(ref);
  if (!m) return { missing: 'not a query' };
  const [, fc, fs, rel, ac, as] = m;
  const matches = (o: ShapeObject) => (fc === '.' || o.colour === fc) && (fs === '.' || o.shape === fs);
  if (!rel) return scene.objects.filter(matches).length;
  const anchors = scene.objects.filter((o) => o.colour === ac && o.shape === as);
  if (anchors.length !== 1) {
    return { missing: `there ${anchors.length === 0 ? 'is no' : `are ${anchors.length}`} ${COLOUR_NAMES[ac as ShapeColour]} ${KIND_NAMES[as as ShapeKind]}${anchors.length > 1 ? 's' : ''}, the anchor must be unique` };
  }
  const a = anchors[0]!;
  const related = (o: ShapeObject) => (rel === '<' ? o.col < a.col : rel === '>' ? o.col > a.col : rel === '^' ? o.row < a.row : o.row > a.row);
  return scene.objects.filter((o) => matches(o) && related(o)).length;
}

function reader(scene: ShapesScene): ChainReader {
  return { isRef: (ref) => QUERY_RE.test(ref), valueOf: (ref) => countQuery(scene, ref), ops: OPS };
}

export function shapesPlan(question: string): ChainPlan {
  const m = /^count (.+)$/.exec(question);
  if (!m) throw new FieldError('question', `expected "count <chain>", got ${JSON.stringify(question)}`);
  return parseChain(m[1]!, OPS, queryLength);
}

function makeScene(rng: Rng): ShapesScene {
  const n = rng.int(10, 22);
  const cw = SHAPE_COLOURS.map(() => 0.25 + rng.float());
  const sw = SHAPE_KINDS.map(() => 0.25 + rng.float());
  const cells: Array<[number, number]> = [];
  for (let r = 0; r < SHAPES_SIZE; r++) for (let c = 0; c < SHAPES_SIZE; c++) cells.push([r, c]);
  const chosen = rng.shuffled(cells).slice(0, n).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const objects = chosen.map(([row, col]) => ({ row, col, colour: SHAPE_COLOURS[rng.weighted(cw)]!, shape: SHAPE_KINDS[rng.weighted(sw)]! }));
  return { size: SHAPES_SIZE, objects };
}

function uniqueCategories(scene: ShapesScene): string[] {
  const counts = new Map<string, number>();
  for (const o of scene.objects) counts.set(o.colour + o.shape, (counts.get(o.colour + o.shape) ?? 0) + 1);
  return [...counts.entries()].filter(([, n]) => n === 1).map(([k]) => k).sort();
}

function randomFilter(rng: Rng, allowAll: boolean): string {
  const r = rng.float();
  const c = rng.pick(SHAPE_COLOURS), s = rng.pick(SHAPE_KINDS);
  if (allowAll && r < 0.25) return '..';
  if (r < 0.5) return c + '.';
  if (r < 0.75) return '.' + s;
  return c + s;
}

function randomQuery(rng: Rng, anchors: readonly string[]): string {
  if (anchors.length > 0 && rng.chance(0.35)) return randomFilter(rng, true) + rng.pick(['<', '>', '^', 'v']) + rng.pick(anchors);
  return randomFilter(rng, false);
}

/** Horizons `generate` accepts (the splits use a sub-range). */
const HORIZON_LIMITS = [1, 16] as const;

function generate(seed: number, horizon: number): Instance {
  const rng = new Rng(deriveSeed('shapes', seed, horizon));
  const scene = makeScene(rng);
  const anchors = uniqueCategories(scene);
  const skeleton = chainSkeleton(rng, horizon, 0.75);
  const used = new Set<string>();
  // Distinct queries; a query with count 0 is redrawn with probability 0.7 (up to 5 times), so
  // that most steps actually count something.
  const freshQuery = (): string => {
    let q = randomQuery(rng, anchors);
    for (let tries = 0; tries < 100; tries++) {
      const redraw = used.has(q) || (tries < 5 && countQuery(scene, q) === 0 && rng.chance(0.7));
      if (!redraw) break;
      q = randomQuery(rng, anchors);
    }
    used.add(q);
    return q;
  };
  const first = freshQuery();
  let muls = 0;
  const terms: ChainTerm[] = skeleton.map((kind) => {
    if (kind === 'read') return { op: rng.chance(0.55) ? '+' : '-', read: freshQuery() };
    const t = constTerm(rng, muls, 1);
    if (t.op === '*') muls++;
    return t;
  });
  const plan: ChainPlan = { first, terms };
  const { steps, answer } = solveChain(plan, reader(scene));
  return { id: `shapes-${seed}-${horizon}`, family: 'shapes', seed, horizon, question: `count ${chainText(plan)}`, scene, steps, answer: String(answer) };
}

function drawShape(cv: Canvas, x: number, y: number, size: number, o: ShapeObject): void {
  const c = RGB[o.colour];
  const u = size / 8; // the small image has size 8
  if (o.shape === 'c') cv.fillCircle(x + 4 * u, y + 4 * u, 3.4 * u, c);
  else if (o.shape === 's') cv.fillRect(Math.round(x + u), Math.round(y + u), Math.round(6 * u), Math.round(6 * u), c);
  else cv.fillTriangle(x + 4 * u, y + 0.6 * u, x + 0.4 * u, y + 7.2 * u, x + 7.6 * u, y + 7.2 * u, c);
}

function renderSmall(inst: Instance): RgbImage {
  const s = inst.scene as ShapesScene;
  const cv = new Canvas(48, 48, BG);
  for (const o of s.objects) drawShape(cv, o.col * 8, o.row * 8, 8, o);
  return cv.toImage();
}

function ascii(inst: Instance): string {
  const s = inst.scene as ShapesScene;
  const grid = Array.from({ length: SHAPES_SIZE }, () => Array<string>(SHAPES_SIZE).fill('..'));
  for (const o of s.objects) grid[o.row]![o.col] = o.colour + o.shape;
  const lines = ['   ' + Array.from({ length: SHAPES_SIZE }, (_, i) => `${i} `).join(' ')];
  grid.forEach((row, r) => lines.push(`${r}  ${row.join(' ')}`));
  return lines.join('\n') + '\n(colour r g b y + shape c circle, s square, t triangle; .. empty)';
}

function validateScene(scene: unknown): void {
  if (typeof scene !== 'object' || scene === null || Array.isArray(scene)) throw new FieldError('scene', 'expected an object {size, objects}');
  const s = scene as Record<string, unknown>;
  if (s.size !== SHAPES_SIZE) throw new FieldError('scene.size', `expected ${SHAPES_SIZE}, got ${JSON.stringify(s.size)}`);
  if (!Array.isArray(s.objects)) throw new FieldError('scene.objects', 'expected an array of {row, col, colour, shape}');
  const seen = new Set<string>();
  s.objects.forEach((o: unknown, i: number) => {
    const f = `scene.objects[${i}]`;
    if (typeof o !== 'object' || o === null) throw new FieldError(f, 'expected an object {row, col, colour, shape}');
    const r = o as Record<string, unknown>;
    for (const k of ['row', 'col'] as const) {
      if (!Number.isInteger(r[k]) || (r[k] as number) < 0 || (r[k] as number) >= SHAPES_SIZE) throw new FieldError(`${f}.${k}`, `expected an integer in 0..${SHAPES_SIZE - 1}, got ${JSON.stringify(r[k])}`);
    }
    if (!SHAPE_COLOURS.includes(r.colour as ShapeColour)) throw new FieldError(`${f}.colour`, `expected one of ${SHAPE_COLOURS.join(' ')}, got ${JSON.stringify(r.colour)}`);
    if (!SHAPE_KINDS.includes(r.shape as ShapeKind)) throw new FieldError(`${f}.shape`, `expected one of ${SHAPE_KINDS.join(' ')}, got ${JSON.stringify(r.shape)}`);
    const key = `${r.row},${r.col}`;
    if (seen.has(key)) throw new FieldError(f, `two objects in cell ${key}`);
    seen.add(key);
  });
}

function validateQuestion(question: string, scene: unknown, horizon: number): void {
  const plan = shapesPlan(question);
  for (const ref of [plan.first, ...plan.terms.flatMap((t) => ('read' in t ? [t.read] : []))]) {
    const v = countQuery(scene as ShapesScene, ref);
    if (typeof v !== 'number') throw new FieldError('question', `query ${ref}: ${v.missing}`);
  }
  const n = 1 + plan.terms.reduce((a, t) => a + ('read' in t ? 2 : 1), 0);
  if (n !== horizon) throw new FieldError('question', `needs ${n} steps but horizon is ${horizon}`);
}

export const shapesFamily: TaskFamily = {
  id: 'shapes',
  title: 'shape counting with multi-hop arithmetic: count sub-queries and combine them left to right',
  horizons: { train: [2, 6], ood: [7, 10] },
  horizonLimits: HORIZON_LIMITS,
  grammar: [
    'The image shows objects on a 6x6 layout (rows and columns 0-5 from the top-left): colours r (red), g (green), b (blue), y (yellow); shapes c (circle), s (square), t (triangle).',
    'A query is colour+shape with "." as a wildcard: rc = red circles, r. = red objects, .t = triangles, .. = all objects. A query may add a relation to a unique anchor object: <anchor = left of it (smaller column), >anchor = right of it, ^anchor = above it (smaller row), vanchor = below it; e.g. .s<bt = squares left of the blue triangle.',
    'The question "count rc+.s<bt-3" combines counts strictly left to right (no precedence) with + - and * (multiply, constants only).',
    'Steps, one per line: "<query>=<count>" for each query in order, then "<op><value>=<result>" for each operation, e.g. for "count rc+.s<bt-3": rc=3, .s<bt=2, +2=5, -3=2.',
    'The answer is the final integer, e.g. 2.',
  ].join('\n'),
  generate(seed, horizon) {
    checkGenerateArgs('shapes', seed, horizon, HORIZON_LIMITS);
    return generate(seed, horizon);
  },
  renderSmall,
  ascii,
  checkSteps: (inst, steps) => checkChain(shapesPlan(inst.question), reader(inst.scene as ShapesScene), steps),
  solve(question, scene) {
    const r = solveChain(shapesPlan(question), reader(scene as ShapesScene));
    return { steps: r.steps, answer: String(r.answer) };
  },
  normalizeAnswer: normalizeInteger,
  validateScene,
  validateQuestion,
  corruptStep(inst, k, kind, rng) {
    const scene = inst.scene as ShapesScene;
    const refs: string[] = [];
    for (const c of [...SHAPE_COLOURS, '.']) for (const sh of [...SHAPE_KINDS, '.']) refs.push(c + sh);
    for (const a of uniqueCategories(scene)) for (const rel of ['<', '>', '^', 'v']) refs.push('..' + rel + a);
    return corruptChainStep(shapesPlan(inst.question), reader(scene), inst.steps, k, kind, rng, refs);
  },
  questionType: (inst) => `h${inst.horizon} ` + inst.question.replace(/^count /, '').replace(/[rgby]/g, 'C').replace(/[cst]/g, 'S'),
};
