// Scan examples (issue 22): a dense perception task to mix into training. The probes showed a
// fresh model learns no read from one read per example in 15 minutes (grid walls 0%, chart at
// the text prior): a read is a lookup (text names a place, attention must find its patch), and
// one supervised lookup per example is too sparse a signal to discover it. A scan supervises k
// lookups of one image: the response names k places (chosen at random, so names carry no loss)
// and says what the image shows at each (the loss):
//   grid    "24=w 13=o 05=s"   cell rowcol, then w wall / o open / s the start cell
//   shapes  "23=rc 14=.."      cell rowcol, then colour+shape, or ".." for an empty cell
//   chart   "r=5 g=3 b=9"      every bar by colour (random order), then its value
// The "=" puts one token between a name and what it names, as the families' steps do ("R 24 o",
// "rc@r2=3", "r=5"): a two-digit name is composed over its tokens, and the probes learned no
// content predicted at the name's last digit (scan-lookup, cell address: grid walls 6/109,
// shapes colours 4/62 after 7 minutes) while the shape letter one token later was learned
// (83/86 circles).
// The prompt is the word "scan". Only the scene prior is used, so the families' grammars are
// not restated: these are the same facts their verifiers check.
import type { Tokenizer } from '../model/tokenizer.js';
import type { Instance } from '../tasks/index.js';
import { Rng } from '../util/rng.js';

export const SCAN_QUESTION = 'scan';

interface Item { name: string; content: string }

function gridItems(scene: { rows: string[]; start: [number, number] }): Item[] {
  const out: Item[] = [];
  scene.rows.forEach((row, r) => [...row].forEach((ch, c) => {
    const start = scene.start[0] === r && scene.start[1] === c;
    out.push({ name: `${r}${c}`, content: start ? 's' : ch === '#' ? 'w' : 'o' });
  }));
  return out;
}

function shapesItems(scene: { size: number; objects: { row: number; col: number; colour: string; shape: string }[] }): Item[] {
  const out: Item[] = [];
  for (let r = 0; r < scene.size; r++) {
    for (let c = 0; c < scene.size; c++) {
      const o = scene.objects.find((x) => x.row === r && x.col === c);
      out.push({ name: `${r}${c}`, content: o ? o.colour + o.shape : '..' });
    }
  }
  return out;
}

function chartItems(scene: { bars: { colour: string; value: number }[] }): Item[] {
  return scene.bars.map((b) => ({ name: b.colour, content: String(b.value) }));
}

function itemsOf(inst: Instance): Item[] {
  switch (inst.family) {
    case 'grid': return gridItems(inst.scene as Parameters<typeof gridItems>[0]);
    case 'shapes': return shapesItems(inst.scene as Parameters<typeof shapesItems>[0]);
    case 'chart': return chartItems(inst.scene as Parameters<typeof chartItems>[0]);
    default: throw new Error(`scan: no scan for family ${inst.family}`);
  }
}

/**
 * The scan example of an instance's image: k places (all bars for chart) in a seeded random
 * order. `weights` has one entry per response token and one for <eos> (sftBatch's layout):
 * 1 on the content characters, 0 on names, separators and <eos>.
 */
export function scanExample(inst: Instance, tok: Tokenizer, seed: number, k = 8): { inst: Instance; response: string; weights: Float32Array } {
  const rng = new Rng(seed);
  const items = rng.shuffled(itemsOf(inst)).slice(0, inst.family === 'chart' ? undefined : k);
  const parts: { text: string; read: boolean }[] = [];
  items.forEach((it, i) => parts.push({ text: (i ? ' ' : '') + it.name + '=', read: false }, { text: it.content, read: true }));
  const weights: number[] = [];
  for (const p of parts) for (let n = tok.encode(p.text).length; n > 0; n--) weights.push(p.read ? 1 : 0);
  weights.push(0); // <eos>
  return { inst: { ...inst, question: SCAN_QUESTION }, response: parts.map((p) => p.text).join(''), weights: Float32Array.from(weights) };
}
