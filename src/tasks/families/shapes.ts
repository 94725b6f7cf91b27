// Family `shapes`: counting coloured shapes in one row or column, with multi-hop arithmetic.
//
// Image:    up to 36 objects on a 6×6 layout, one per cell: colour r g b y (red, green,
//           blue, yellow), shape c s t (circle, square, triangle). 48×48 with one object per
//           8×8 patch, no labels (the 384×384 image is the same picture scaled ×8: images.ts).
// Query:    "<colour><shape>@<line>": colour+shape with "." as a wildcard, counted in ONE
//           row (@r<k>) or ONE column (@c<k>), k = 0..5 from the top-left: "rc@r2" red
//           circles in row 2, ".t@c4" triangles in column 4, "..@r0" all objects in row 0.
//           Every read is local: at most 6 cells, i.e. 6 patches of the compact model (a read
//           over the whole layout, or relative to an anchor object, aggregated up to 36
//           patches and was not learnable: issue #22).
// Question: "count <chain>" with the chain grammar of chain.ts (ops + - on queries,
//           + - * with constants, strictly left to right), e.g. "count rc@r2+.t@c4-3".
//           Queries start with a letter or ".", never a digit, so they cannot be read as constants.
// Steps:    "<query>=<n>" (visual claim: the count) or "<op><v>=<acc>" (logical), e.g.
//           for "count rc@r2+.t@c4-3":  rc@r2=3 / .t@c4=2 / +2=5 / -3=2   answer 2. Reads may
//           come in other orders (chain.ts), e.g. rc@r2=3 / .t@c4=2 / ... or .t@c4=2 / rc@r2=3 / ...
import type { Instance, RgbImage, TaskFamily } from '../types.js';
import { FieldError } from '../types.js';
import { deriveSeed, Rng } from '../../util/rng.js';
import { Canvas, type Rgb } from '../render/canvas.js';
import { chainSkeleton, chainText, checkChain, checkPlan, constTerm, corruptChainStep, nextChainStep, parseChain, solveChain, type ChainOp, type ChainPlan, type ChainReader, type ChainTerm } from './chain.js';
import { checkGenerateArgs, normalizeInteger } from './common.js';

export const SHAPES_SIZE = 6;
export type ShapeColour = 'r' | 'g' | 'b' | 'y';
export type ShapeKind = 'c' | 's' | 't';
export const SHAPE_COLOURS: readonly ShapeColour[] = ['r', 'g', 'b', 'y'];
export const SHAPE_KINDS: readonly ShapeKind[] = ['c', 's', 't'];
const RGB: Record<ShapeColour, Rgb> = { r: [220, 50, 47], g: [40, 160, 70], b: [45, 95, 225], y: [235, 195, 25] };
const BG: Rgb = [242, 242, 242];
const OPS: readonly ChainOp[] = ['+', '-', '*'];

export interface ShapeObject { row: number; col: number; colour: ShapeColour; shape: ShapeKind }
/** Scene prior: objects sorted by (row, col), at most one per cell. */
export interface ShapesScene { size: number; objects: ShapeObject[] }

const QUERY_RE = /^([rgby.])([cst.])@([rc])([0-5])$/;

function queryLength(text: string, pos: number): number {
  const m = /^[rgby.][cst.]@[rc][0-5]/.exec(text.slice(pos));
  return m ? m[0].length : 0;
}

/** Every well-formed query: 20 filters (colour or ".", shape or ".") on 12 lines (6 rows, 6 columns). */
export const SHAPES_QUERIES: readonly string[] = (() => {
  const out: string[] = [];
  for (const line of ['r', 'c']) for (let k = 0; k < SHAPES_SIZE; k++) {
    for (const c of [...SHAPE_COLOURS, '.']) for (const sh of [...SHAPE_KINDS, '.']) out.push(`${c}${sh}@${line}${k}`);
  }
  return out;
})();

function countQuery(scene: ShapesScene, ref: string): number | { missing: string } {
  const m = QUERY_RE.exec(ref);
  if (!m) return { missing: 'not a query' };
  const [, fc, fs, line, k] = m;
  const onLine = (o: ShapeObject) => (line === 'r' ? o.row : o.col) === Number(k);
  return scene.objects.filter((o) => onLine(o) && (fc === '.' || o.colour === fc) && (fs === '.' || o.shape === fs)).length;
}

function reader(scene: ShapesScene): ChainReader {
  return { isRef: (ref) => QUERY_RE.test(ref), valueOf: (ref) => countQuery(scene, ref), ops: OPS };
}

export function shapesPlan(question: string): ChainPlan {
  const m = /^count (.+)$/.exec(question);
  if (!m) throw new FieldError('question', `expected "count <chain>", got ${JSON.stringify(question)}`);
  return parseChain(m[1]!, OPS, queryLength);
}

/** Objects per scene: dense enough that a line holds up to 6 matches. */
const MIN_OBJECTS = 12, MAX_OBJECTS = 30;

function makeScene(rng: Rng): ShapesScene {
  const n = rng.int(MIN_OBJECTS, MAX_OBJECTS);
  const cw = SHAPE_COLOURS.map(() => 0.25 + rng.float());
  const sw = SHAPE_KINDS.map(() => 0.25 + rng.float());
  const cells: Array<[number, number]> = [];
  for (let r = 0; r < SHAPES_SIZE; r++) for (let c = 0; c < SHAPES_SIZE; c++) cells.push([r, c]);
  const chosen = rng.shuffled(cells).slice(0, n).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const objects = chosen.map(([row, col]) => ({ row, col, colour: SHAPE_COLOURS[rng.weighted(cw)]!, shape: SHAPE_KINDS[rng.weighted(sw)]! }));
  return { size: SHAPES_SIZE, objects };
}

/** Weight of count 0 when drawing a query's count (every other count that occurs has weight 1). */
const ZERO_COUNT_WEIGHT = 0.5;

/**
 * A query not used yet, drawn so that counts spread over 0..6: first a count among those some
 * unused query has in this scene (each with weight 1, zero with ZERO_COUNT_WEIGHT), then a
 * query with that count. Drawing queries uniformly would make most counts 0 or 1 (a
 * colour+shape in one line), and a model could answer most reads without looking. (High
 * counts come mostly from ".." queries: about 40% of reads are "..".)
 */
function drawQuery(rng: Rng, scene: ShapesScene, used: ReadonlySet<string>): string {
  const byCount = new Map<number, string[]>();
  for (const q of SHAPES_QUERIES) {
    if (used.has(q)) continue;
    const n = countQuery(scene, q) as number;
    const same = byCount.get(n);
    if (same) same.push(q); else byCount.set(n, [q]);
  }
  const counts = [...byCount.keys()].sort((a, b) => a - b);
  const count = counts[rng.weighted(counts.map((n) => (n === 0 ? ZERO_COUNT_WEIGHT : 1)))]!;
  return rng.pick(byCount.get(count)!);
}

/** Horizons `generate` accepts (the splits use a sub-range). */
const HORIZON_LIMITS = [1, 16] as const;

function generate(seed: number, horizon: number): Instance {
  const rng = new Rng(deriveSeed('shapes', seed, horizon));
  const scene = makeScene(rng);
  const skeleton = chainSkeleton(rng, horizon, 0.75);
  const used = new Set<string>();
  const freshQuery = (): string => {
    const q = drawQuery(rng, scene, used);
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

/** One object in the 8×8 patch whose top-left corner is (x, y). */
function drawShape(cv: Canvas, x: number, y: number, o: ShapeObject): void {
  const c = RGB[o.colour];
  if (o.shape === 'c') cv.fillCircle(x + 4, y + 4, 3.4, c);
  else if (o.shape === 's') cv.fillRect(x + 1, y + 1, 6, 6, c);
  else cv.fillTriangle(x + 4, y + 0.6, x + 0.4, y + 7.2, x + 7.6, y + 7.2, c);
}

function renderSmall(inst: Instance): RgbImage {
  const s = inst.scene as ShapesScene;
  const cv = new Canvas(48, 48, BG);
  for (const o of s.objects) drawShape(cv, o.col * 8, o.row * 8, o);
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

export const shapesFamily: TaskFamily = {
  id: 'shapes',
  title: 'shape counting with multi-hop arithmetic: count sub-queries and combine them left to right',
  horizons: { train: [2, 6], ood: [7, 10] },
  horizonLimits: HORIZON_LIMITS,
  grammar: [
    'The image shows objects on a 6x6 layout of equal cells, at most one object per cell, without labels: rows and columns are numbered 0-5 from the top-left. Colours r (red), g (green), b (blue), y (yellow); shapes c (circle), s (square), t (triangle).',
    'A query counts matching objects in one row or one column: colour+shape with "." as a wildcard, then @r<k> for row k or @c<k> for column k. E.g. rc@r2 = red circles in row 2, .t@c4 = triangles in column 4, r.@r0 = red objects in row 0, ..@c5 = all objects in column 5.',
    'The question "count rc@r2+.t@c4-3" combines counts strictly left to right (no precedence) with + - and * (multiply, constants only).',
    'Steps, one per line: "<query>=<count>" reads a count, "<op><value>=<result>" applies the next operation to the running value, e.g. for "count rc@r2+.t@c4-3": rc@r2=3, .t@c4=2, +2=5, -3=2. Operations go in the order of the question; read each query once, in any order, before the operation that uses it.',
    'The answer is the final integer, e.g. 2.',
  ].join('\n'),
  generate(seed, horizon) {
    checkGenerateArgs('shapes', seed, horizon, HORIZON_LIMITS);
    return generate(seed, horizon);
  },
  renderSmall,
  ascii,
  checkSteps: (inst, steps) => checkChain(shapesPlan(inst.question), reader(inst.scene as ShapesScene), steps),
  nextStep: (inst, prefix) => nextChainStep(shapesPlan(inst.question), reader(inst.scene as ShapesScene), prefix),
  solve(question, scene) {
    const r = solveChain(shapesPlan(question), reader(scene as ShapesScene));
    return { steps: r.steps, answer: String(r.answer) };
  },
  normalizeAnswer: normalizeInteger,
  validateScene,
  validateQuestion: (question, scene, horizon) => checkPlan(shapesPlan(question), reader(scene as ShapesScene), horizon),
  corruptStep: (inst, k, kind, rng) => corruptChainStep(shapesPlan(inst.question), reader(inst.scene as ShapesScene), inst.steps, k, kind, rng, SHAPES_QUERIES),
  // Filters abstracted (C colour, S shape, . wildcard), the line kept as row or column.
  questionType: (inst) => `h${inst.horizon} ` + inst.question.replace(/^count /, '').replace(/([rgby.])([cst.])@([rc])[0-5]/g, (_, c: string, sh: string, line: string) => `${c === '.' ? '.' : 'C'}${sh === '.' ? '.' : 'S'}@${line}`),
};
