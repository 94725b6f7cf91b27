// Family `chart`: reading a bar chart and combining bars arithmetically (ChartQA-like).
//
// Image:    4–6 bars in 6 slots, each bar a distinct colour (r red, g green, b blue,
//           y yellow, m magenta, c cyan, o orange) with an integer value 1–9. Small image
//           48×48: slot s is patch column s, a bar is 6 px wide and 5·value px tall from the
//           bottom edge; no axis, labels or gridlines (the 384×384 image is the same picture
//           scaled ×8, 40 px per unit: see images.ts).
// Question: "bars <chain>" with bars named by colour (values only in the image) and the chain
//           grammar of chain.ts: + - ^ (max) _ (min) on bars, + - * with constants, strictly
//           left to right, e.g. "bars r+g^b*2".
// Steps:    "<colour>=<value>" (visual claim) or "<op><v>=<acc>" (logical), e.g. for
//           "bars r+g^b*2" with r=5 g=3 b=9:  r=5 / g=3 / +3=8 / b=9 / ^9=9 / *2=18   answer 18.
//           Reads may come in other valid orders (chain.ts), e.g. b=9 / r=5 / g=3 / +3=8 / ...
import type { Instance, RgbImage, TaskFamily } from '../types.js';
import { FieldError } from '../types.js';
import { deriveSeed, Rng } from '../../util/rng.js';
import { Canvas, type Rgb } from '../render/canvas.js';
import { chainSkeleton, chainText, checkChain, checkPlan, constTerm, corruptChainStep, nextChainStep, parseChain, solveChain, type ChainOp, type ChainPlan, type ChainReader, type ChainTerm } from './chain.js';
import { checkGenerateArgs, normalizeInteger } from './common.js';

export type BarColour = 'r' | 'g' | 'b' | 'y' | 'm' | 'c' | 'o';
export const BAR_COLOURS: readonly BarColour[] = ['r', 'g', 'b', 'y', 'm', 'c', 'o'];
export const CHART_SLOTS = 6;
export const CHART_MAX_VALUE = 9;
const NAMES: Record<BarColour, string> = { r: 'red', g: 'green', b: 'blue', y: 'yellow', m: 'magenta', c: 'cyan', o: 'orange' };
const RGB: Record<BarColour, Rgb> = {
  r: [220, 50, 47], g: [40, 160, 70], b: [45, 95, 225], y: [235, 195, 25], m: [200, 60, 200], c: [30, 190, 210], o: [245, 130, 30],
};
const BG: Rgb = [246, 246, 246];
const OPS: readonly ChainOp[] = ['+', '-', '*', '^', '_'];

export interface Bar { slot: number; colour: BarColour; value: number }
/** Scene prior: bars sorted by slot; colours and slots distinct. */
export interface ChartScene { slots: number; maxValue: number; bars: Bar[] }

function reader(scene: ChartScene): ChainReader {
  return {
    isRef: (ref) => ref.length === 1 && BAR_COLOURS.includes(ref as BarColour),
    valueOf: (ref) => scene.bars.find((b) => b.colour === ref)?.value ?? { missing: `there is no ${NAMES[ref as BarColour] ?? ref} bar` },
    ops: OPS,
  };
}

export function chartPlan(question: string): ChainPlan {
  const m = /^bars (.+)$/.exec(question);
  if (!m) throw new FieldError('question', `expected "bars <chain>", got ${JSON.stringify(question)}`);
  return parseChain(m[1]!, OPS, (text, pos) => (BAR_COLOURS.includes(text[pos] as BarColour) ? 1 : 0));
}

/** Horizons `generate` accepts (the splits use a sub-range). */
const HORIZON_LIMITS = [1, 12] as const;

function generate(seed: number, horizon: number): Instance {
  const rng = new Rng(deriveSeed('chart', seed, horizon));
  const skeleton = chainSkeleton(rng, horizon, 0.75);
  const nReads = 1 + skeleton.filter((k) => k === 'read').length;
  const nBars = Math.max(nReads, rng.int(4, CHART_SLOTS));
  const colours = rng.shuffled(BAR_COLOURS).slice(0, nBars);
  const slots = rng.shuffled(Array.from({ length: CHART_SLOTS }, (_, i) => i)).slice(0, nBars);
  const bars: Bar[] = colours.map((colour, i) => ({ slot: slots[i]!, colour, value: rng.int(1, CHART_MAX_VALUE) })).sort((a, b) => a.slot - b.slot);
  const scene: ChartScene = { slots: CHART_SLOTS, maxValue: CHART_MAX_VALUE, bars };
  const reads = rng.shuffled(colours).slice(0, nReads);
  let muls = 0, extremes = 0, r = 1;
  const terms: ChainTerm[] = skeleton.map((kind) => {
    if (kind === 'read') {
      const u = rng.float();
      let op: ChainOp = u < 0.45 ? '+' : '-';
      if (u >= 0.8 && extremes === 0) { op = u < 0.9 ? '^' : '_'; extremes++; }
      return { op, read: reads[r++]! };
    }
    const t = constTerm(rng, muls, 1);
    if (t.op === '*') muls++;
    return t;
  });
  const plan: ChainPlan = { first: reads[0]!, terms };
  const { steps, answer } = solveChain(plan, reader(scene));
  return { id: `chart-${seed}-${horizon}`, family: 'chart', seed, horizon, question: `bars ${chainText(plan)}`, scene, steps, answer: String(answer) };
}

function renderSmall(inst: Instance): RgbImage {
  const s = inst.scene as ChartScene;
  const cv = new Canvas(48, 48, BG);
  for (const b of s.bars) cv.fillRect(b.slot * 8 + 1, 48 - 5 * b.value, 6, 5 * b.value, RGB[b.colour]);
  return cv.toImage();
}

function ascii(inst: Instance): string {
  const s = inst.scene as ChartScene;
  const lines: string[] = [];
  for (let v = CHART_MAX_VALUE; v >= 1; v--) {
    let line = `${v} |`;
    for (let slot = 0; slot < CHART_SLOTS; slot++) {
      const b = s.bars.find((x) => x.slot === slot);
      line += b && b.value >= v ? ` ${b.colour}${b.colour}` : '   ';
    }
    lines.push(line.trimEnd());
  }
  lines.push('  +' + '---'.repeat(CHART_SLOTS));
  lines.push('   ' + Array.from({ length: CHART_SLOTS }, (_, slot) => ` ${s.bars.find((x) => x.slot === slot)?.colour ?? ' '} `).join('').trimEnd());
  return lines.join('\n') + '\n(bars by colour: r red, g green, b blue, y yellow, m magenta, c cyan, o orange)';
}

function validateScene(scene: unknown): void {
  if (typeof scene !== 'object' || scene === null || Array.isArray(scene)) throw new FieldError('scene', 'expected an object {slots, maxValue, bars}');
  const s = scene as Record<string, unknown>;
  if (s.slots !== CHART_SLOTS) throw new FieldError('scene.slots', `expected ${CHART_SLOTS}, got ${JSON.stringify(s.slots)}`);
  if (s.maxValue !== CHART_MAX_VALUE) throw new FieldError('scene.maxValue', `expected ${CHART_MAX_VALUE}, got ${JSON.stringify(s.maxValue)}`);
  if (!Array.isArray(s.bars) || s.bars.length < 1) throw new FieldError('scene.bars', 'expected a non-empty array of {slot, colour, value}');
  const slots = new Set<number>(), colours = new Set<string>();
  s.bars.forEach((b: unknown, i: number) => {
    const f = `scene.bars[${i}]`;
    if (typeof b !== 'object' || b === null) throw new FieldError(f, 'expected an object {slot, colour, value}');
    const r = b as Record<string, unknown>;
    if (!Number.isInteger(r.slot) || (r.slot as number) < 0 || (r.slot as number) >= CHART_SLOTS) throw new FieldError(`${f}.slot`, `expected an integer in 0..${CHART_SLOTS - 1}, got ${JSON.stringify(r.slot)}`);
    if (!BAR_COLOURS.includes(r.colour as BarColour)) throw new FieldError(`${f}.colour`, `expected one of ${BAR_COLOURS.join(' ')}, got ${JSON.stringify(r.colour)}`);
    if (!Number.isInteger(r.value) || (r.value as number) < 1 || (r.value as number) > CHART_MAX_VALUE) throw new FieldError(`${f}.value`, `expected an integer in 1..${CHART_MAX_VALUE}, got ${JSON.stringify(r.value)}`);
    if (slots.has(r.slot as number)) throw new FieldError(`${f}.slot`, `slot ${r.slot} is used twice`);
    if (colours.has(r.colour as string)) throw new FieldError(`${f}.colour`, `colour ${r.colour} is used twice`);
    slots.add(r.slot as number);
    colours.add(r.colour as string);
  });
}

export const chartFamily: TaskFamily = {
  id: 'chart',
  title: 'bar-chart reading with arithmetic: read bars by colour and combine them left to right',
  horizons: { train: [2, 7], ood: [8, 12] },
  horizonLimits: HORIZON_LIMITS,
  grammar: [
    'The image shows a bar chart without axes or labels: up to 6 bars side by side, each with its own colour, r (red), g (green), b (blue), y (yellow), m (magenta), c (cyan), o (orange), standing on the bottom edge. A bar\'s value is an integer 1-9 given by its height: each unit is 5/48 of the image height (5 px of 48, 40 px of 384), so a bar of value 9 is 45/48 of the image tall.',
    'The question "bars r+g^b*2" combines bar values strictly left to right (no precedence): + add, - subtract, ^ max, _ min, * multiply (constants only).',
    'Steps, one per line: "<colour>=<value>" reads a bar, "<op><value>=<result>" applies the next operation to the running value, e.g. with r=5, g=3, b=9: r=5, g=3, +3=8, b=9, ^9=9, *2=18. Operations go in the order of the question; read each bar once, in any order, before the operation that uses it (r=5, g=3, b=9, +3=8, ^9=9, *2=18 is right too).',
    'The answer is the final integer, e.g. 18.',
  ].join('\n'),
  generate(seed, horizon) {
    checkGenerateArgs('chart', seed, horizon, HORIZON_LIMITS);
    return generate(seed, horizon);
  },
  renderSmall,
  ascii,
  checkSteps: (inst, steps) => checkChain(chartPlan(inst.question), reader(inst.scene as ChartScene), steps),
  nextStep: (inst, prefix) => nextChainStep(chartPlan(inst.question), reader(inst.scene as ChartScene), prefix),
  solve(question, scene) {
    const r = solveChain(chartPlan(question), reader(scene as ChartScene));
    return { steps: r.steps, answer: String(r.answer) };
  },
  normalizeAnswer: normalizeInteger,
  validateScene,
  validateQuestion: (question, scene, horizon) => checkPlan(chartPlan(question), reader(scene as ChartScene), horizon),
  corruptStep: (inst, k, kind, rng) => corruptChainStep(chartPlan(inst.question), reader(inst.scene as ChartScene), inst.steps, k, kind, rng, BAR_COLOURS),
  questionType: (inst) => `h${inst.horizon} ` + inst.question.replace(/^bars /, '').replace(/[rgbymco]/g, 'B'),
};
