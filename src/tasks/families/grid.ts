// Family `grid`: navigation on a 6×6 grid with walls.
//
// Image:    6×6 cells; walls dark, open cells light, the start cell orange, a 1-px grey line
//           on the right and bottom of each cell. 48×48 with one 8×8 patch per cell (the
//           384×384 image is the same picture scaled ×8: no labels, see images.ts).
// Question: "moves <M…>" with M in U D L R (up = row-1, down = row+1, left = col-1,
//           right = col+1), e.g. "moves RRDL". The start cell and the walls are only in the image.
//           A move into a wall or off the grid leaves the agent in place.
// Step k:   "<M> <target> <status> <pos>"   (9 characters)
//             M       the k-th move of the question
//             target  the cell the move leads to, as row+col digits ("23" = row 2, col 3),
//                     or "--" when the move leaves the grid
//             status  o = target is open, w = target is a wall, x = off the grid (with "--")
//             pos     the position after the move (row+col digits)
//           e.g. "R 24 o 24" (moved), "R 24 w 23" (bumped into a wall), "U -- x 03" (edge).
// Answer:   the final cell as row+col digits, e.g. "32".
// Claims:   status o/w is a visual claim about the target cell; step 1 also claims where the
//           start cell is (its position before the move: target − move, or pos when the
//           target is "--"): visual. Target = previous pos + move and pos = target (o) or
//           previous pos (w/x) are logical claims, as is using the question's k-th move.
import type { Instance, RgbImage, StepCheck, TaskFamily } from '../types.js';
import type { Rng as RngT } from '../../util/rng.js';
import { FieldError } from '../types.js';
import { deriveSeed, Rng } from '../../util/rng.js';
import { checkGenerateArgs, garbleStep, verdict } from './common.js';
import { Canvas, type Rgb } from '../render/canvas.js';

export const GRID_SIZE = 6;
export type Move = 'U' | 'D' | 'L' | 'R';
export type Cell = readonly [number, number];

/** Scene prior: `rows[r][c]` is "#" for a wall and "." for open; `start` = [row, col]. */
export interface GridScene {
  size: number;
  rows: string[];
  start: [number, number];
}

const DELTA: Record<Move, Cell> = { U: [-1, 0], D: [1, 0], L: [0, -1], R: [0, 1] };
const MOVES: readonly Move[] = ['U', 'D', 'L', 'R'];
const STEP_RE = /^([UDLR]) ([0-5][0-5]|--) ([owx]) ([0-5][0-5])$/;

const COLOURS = { open: [236, 236, 236] as Rgb, wall: [38, 38, 46] as Rgb, start: [240, 110, 20] as Rgb, line: [176, 176, 176] as Rgb };

export const cellText = (c: Cell): string => `${c[0]}${c[1]}`;
const inGrid = (c: Cell): boolean => c[0] >= 0 && c[0] < GRID_SIZE && c[1] >= 0 && c[1] < GRID_SIZE;
const same = (a: Cell, b: Cell): boolean => a[0] === b[0] && a[1] === b[1];
const add = (c: Cell, m: Move): Cell => [c[0] + DELTA[m][0], c[1] + DELTA[m][1]];
const isWall = (s: GridScene, c: Cell): boolean => s.rows[c[0]]![c[1]] === '#';

/** Parse the move list of a grid question ("moves RRDL" → ['R','R','D','L']). */
export function gridMoves(question: string): Move[] {
  const m = /^moves ([UDLR]+)$/.exec(question);
  if (!m) throw new FieldError('question', `expected "moves <U|D|L|R…>", got ${JSON.stringify(question)}`);
  return m[1]!.split('') as Move[];
}

interface StepResult { target: Cell | null; status: 'o' | 'w' | 'x'; pos: Cell }

/** True dynamics of one move. */
function move(scene: GridScene, from: Cell, m: Move): StepResult {
  const t = add(from, m);
  if (!inGrid(t)) return { target: null, status: 'x', pos: from };
  if (isWall(scene, t)) return { target: t, status: 'w', pos: from };
  return { target: t, status: 'o', pos: t };
}

function formatStep(m: Move, r: StepResult): string {
  return `${m} ${r.target ? cellText(r.target) : '--'} ${r.status} ${cellText(r.pos)}`;
}

function solve(scene: GridScene, moves: readonly Move[]): { steps: string[]; answer: string } {
  let pos: Cell = scene.start;
  const steps: string[] = [];
  for (const m of moves) {
    const r = move(scene, pos, m);
    steps.push(formatStep(m, r));
    pos = r.pos;
  }
  return { steps, answer: cellText(pos) };
}

function parseCell(s: string): Cell | null {
  return s === '--' ? null : [Number(s[0]), Number(s[1])];
}

function checkSteps(inst: Instance, steps: readonly string[]): StepCheck[] {
  const scene = inst.scene as GridScene;
  const moves = gridMoves(inst.question);
  const out: StepCheck[] = [];
  let pos: Cell | null = null; // the model's position; null = not yet stated (step 1 reads the start from the image)
  for (let k = 0; k < steps.length; k++) {
    const expected = moves[k];
    if (expected === undefined) {
      out.push({ kind: 'logical', visualClaims: 0, visualClaimsHeld: 0, reason: `extra step: the question has ${moves.length} moves` });
      continue;
    }
    const m = STEP_RE.exec(steps[k]!);
    const target = m ? parseCell(m[2]!) : null;
    const status = m ? (m[3] as 'o' | 'w' | 'x') : 'x';
    if (!m || (target === null) !== (status === 'x')) {
      out.push({
        kind: 'format', visualClaims: 0, visualClaimsHeld: 0,
        reason: m ? 'status x goes with target "--" and only with it' : `cannot read step "${steps[k]}": expected "<U|D|L|R> <rc|--> <o|w|x> <rc>"`,
      });
      pos = move(scene, pos ?? scene.start, expected).pos; // assume the move was done right
      continue;
    }
    const mv = m[1] as Move;
    const claimed = parseCell(m[4]!)!;
    const visual: string[] = [];
    const logical: string[] = [];
    let claims = 0, held = 0;
    // Where the model says the agent was before this move.
    let before: Cell | null;
    if (pos !== null) before = pos;
    else {
      const b = target ? ([target[0] - DELTA[mv][0], target[1] - DELTA[mv][1]] as Cell) : claimed;
      if (inGrid(b)) {
        before = b;
        claims++;
        if (same(b, scene.start)) held++;
        else visual.push(`the start is ${cellText(scene.start)}, not ${cellText(b)}`);
      } else {
        before = null;
        logical.push(`${cellText(target!)} is not one step ${mv} from any cell`);
      }
    }
    if (target) {
      claims++;
      const wall = isWall(scene, target);
      if (wall === (status === 'w')) held++;
      else visual.push(`cell ${cellText(target)} is ${wall ? 'a wall' : 'open'}`);
    }
    if (mv !== expected) logical.push(`move ${k + 1} is ${expected}, not ${mv}`);
    if (before) {
      const t = add(before, mv);
      if (inGrid(t)) {
        if (!target || !same(target, t)) logical.push(`${mv} from ${cellText(before)} leads to ${cellText(t)}`);
      } else if (target) logical.push(`${mv} from ${cellText(before)} leaves the grid`);
      const after = status === 'o' ? target! : before;
      if (!same(claimed, after)) logical.push(`after "${status}" the position is ${cellText(after)}, not ${cellText(claimed)}`);
    }
    out.push(verdict(claims, held, visual, logical));
    pos = claimed;
  }
  return out;
}

function corruptStep(inst: Instance, k: number, kind: 'visual' | 'logical' | 'format', rng: RngT): string | null {
  const scene = inst.scene as GridScene;
  const moves = gridMoves(inst.question);
  if (!Number.isInteger(k) || k < 0 || k >= moves.length) return null;
  if (kind === 'format') return garbleStep(inst.steps[k]!, rng);
  let before: Cell = scene.start;
  for (let i = 0; i < k; i++) before = move(scene, before, moves[i]!).pos;
  const mv = moves[k]!;
  const gold = move(scene, before, mv);
  const others = (avoid: Cell, ok: (c: Cell) => boolean): Cell[] => {
    const out: Cell[] = [];
    for (let r = 0; r < GRID_SIZE; r++) for (let c = 0; c < GRID_SIZE; c++) if (!same([r, c], avoid) && ok([r, c])) out.push([r, c]);
    return out;
  };
  if (kind === 'visual') {
    if (gold.target) {
      // Flip the wall/open claim and keep the position consistent with the flipped claim.
      return gold.status === 'o' ? formatStep(mv, { target: gold.target, status: 'w', pos: before }) : formatStep(mv, { target: gold.target, status: 'o', pos: gold.target });
    }
    if (k > 0) return null; // an off-grid step after the first makes no visual claim
    // First step off the grid: claim a different start cell on the same edge.
    const cands = others(scene.start, (c) => !inGrid(add(c, mv)));
    return formatStep(mv, { target: null, status: 'x', pos: rng.pick(cands) });
  }
  if (gold.target || k > 0) {
    // Wrong position after the move; the target and its status stay true.
    return formatStep(mv, { ...gold, pos: rng.pick(others(gold.pos, () => true)) });
  }
  // First step off the grid: use a move other than the question's (the start claim stays true).
  return formatStep(rng.pick(MOVES.filter((m) => m !== mv)), gold);
}

/** Horizons `generate` accepts (the splits use a sub-range). */
const HORIZON_LIMITS = [1, 32] as const;

function generate(seed: number, horizon: number): Instance {
  const rng = new Rng(deriveSeed('grid', seed, horizon));
  const cells: Cell[] = [];
  for (let r = 0; r < GRID_SIZE; r++) for (let c = 0; c < GRID_SIZE; c++) cells.push([r, c]);
  const order = rng.shuffled(cells);
  const nWalls = rng.int(6, 10);
  const rows = Array.from({ length: GRID_SIZE }, () => Array<string>(GRID_SIZE).fill('.'));
  for (const [r, c] of order.slice(0, nWalls)) rows[r]![c] = '#';
  const start = order[nWalls + rng.int(0, GRID_SIZE * GRID_SIZE - nWalls - 1)]!;
  const scene: GridScene = { size: GRID_SIZE, rows: rows.map((r) => r.join('')), start: [start[0], start[1]] };
  const moves = Array.from({ length: horizon }, () => rng.pick(MOVES));
  const { steps, answer } = solve(scene, moves);
  return { id: `grid-${seed}-${horizon}`, family: 'grid', seed, horizon, question: `moves ${moves.join('')}`, scene, steps, answer };
}

function renderSmall(inst: Instance): RgbImage {
  const s = inst.scene as GridScene;
  const cv = new Canvas(48, 48, COLOURS.line);
  for (let r = 0; r < GRID_SIZE; r++) {
    for (let c = 0; c < GRID_SIZE; c++) {
      const colour = isWall(s, [r, c]) ? COLOURS.wall : same([r, c], s.start) ? COLOURS.start : COLOURS.open;
      cv.fillRect(c * 8, r * 8, 7, 7, colour); // 1-px grid line on the right and bottom of each cell
    }
  }
  return cv.toImage();
}

function ascii(inst: Instance): string {
  const s = inst.scene as GridScene;
  const lines = ['  ' + Array.from({ length: GRID_SIZE }, (_, i) => String(i)).join('')];
  for (let r = 0; r < GRID_SIZE; r++) {
    let line = `${r} `;
    for (let c = 0; c < GRID_SIZE; c++) line += same([r, c], s.start) ? 'S' : s.rows[r]![c];
    lines.push(line);
  }
  return lines.join('\n') + '\n(# wall, . open, S start)';
}

function validateScene(scene: unknown): void {
  if (typeof scene !== 'object' || scene === null || Array.isArray(scene)) throw new FieldError('scene', 'expected an object {size, rows, start}');
  const s = scene as Record<string, unknown>;
  if (s.size !== GRID_SIZE) throw new FieldError('scene.size', `expected ${GRID_SIZE}, got ${JSON.stringify(s.size)}`);
  if (!Array.isArray(s.rows) || s.rows.length !== GRID_SIZE) throw new FieldError('scene.rows', `expected an array of ${GRID_SIZE} strings`);
  s.rows.forEach((row, i) => {
    if (typeof row !== 'string' || !/^[.#]+$/.test(row) || row.length !== GRID_SIZE) {
      throw new FieldError(`scene.rows[${i}]`, `expected ${GRID_SIZE} characters of "." (open) or "#" (wall), got ${JSON.stringify(row)}`);
    }
  });
  const st = s.start;
  if (!Array.isArray(st) || st.length !== 2 || !st.every((v) => Number.isInteger(v) && v >= 0 && v < GRID_SIZE)) {
    throw new FieldError('scene.start', `expected [row, col] with integers in 0..${GRID_SIZE - 1}, got ${JSON.stringify(st)}`);
  }
  if ((s.rows as string[])[st[0]]![st[1]] === '#') throw new FieldError('scene.start', `start ${cellText(st as unknown as Cell)} is a wall`);
}

function validateQuestion(question: string, _scene: unknown, horizon: number): void {
  const moves = gridMoves(question);
  if (moves.length !== horizon) throw new FieldError('question', `has ${moves.length} moves but horizon is ${horizon}`);
}

function normalizeAnswer(text: string): string | null {
  const m = /^\(?\s*([0-5])\s*[, ]?\s*([0-5])\s*\)?$/.exec(text.trim());
  return m ? `${m[1]}${m[2]}` : null;
}

function questionType(inst: Instance): string {
  let dr = 0, dc = 0;
  for (const m of gridMoves(inst.question)) { dr += DELTA[m][0]; dc += DELTA[m][1]; }
  return `h${inst.horizon} d${dr},${dc}`;
}

export const gridFamily: TaskFamily = {
  id: 'grid',
  title: 'grid navigation with walls: follow the moves from the start cell, answer the final cell',
  horizons: { train: [2, 10], ood: [12, 24] },
  horizonLimits: HORIZON_LIMITS,
  grammar: [
    'The image shows a 6x6 grid of square cells (no labels): dark cells are walls, light cells are open, the orange cell is the start. Rows and columns are numbered 0-5 from the top-left; a cell is written as two digits row,col (e.g. 23 = row 2, column 3).',
    'The question "moves RRDL" lists moves: U = up (row-1), D = down (row+1), L = left (col-1), R = right (col+1). A move into a wall or off the grid leaves you in place.',
    'Write one step per move: "<move> <target> <status> <position>", where target is the cell the move leads to ("--" if off the grid), status is o (open), w (wall) or x (off the grid), and position is where you are after the move. Example: "R 24 o 24", "R 24 w 23", "U -- x 03".',
    'The answer is the final cell, e.g. 32.',
  ].join('\n'),
  generate(seed, horizon) {
    checkGenerateArgs('grid', seed, horizon, HORIZON_LIMITS);
    return generate(seed, horizon);
  },
  renderSmall,
  ascii,
  checkSteps,
  // Every verified grid prefix is the gold prefix: one move per step, in the question's order.
  nextStep: (inst, prefix) => inst.steps[prefix.length] ?? null,
  solve: (question, scene) => solve(scene as GridScene, gridMoves(question)),
  normalizeAnswer,
  validateScene,
  validateQuestion,
  questionType,
  corruptStep,
};

