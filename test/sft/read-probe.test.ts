// The perception probe (src/sft/reads.ts, src/sft/read-probe.ts, `ivr probe-reads`): read
// kinds by hand and against the scenes, the read tokens and their loss weight in the SFT
// batch, per-kind accuracy from a scripted evaluation (exact numbers), and a run of a few
// steps of a tiny model through the library and the CLI (the report's shape, and read_ok
// equal to the verifier's verdict on the responses it reports).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { AdamState } from '../../src/engine/optim.js';
import { evaluatePolicy } from '../../src/eval/evaluate.js';
import type { VlmConfig } from '../../src/model/config.js';
import { Policy, type GenerateOptions, type GenerateRequest, type Generation } from '../../src/model/policy.js';
import { DEFAULT_READ_PROBE, readProbeTables, readTokenMask, readTokenWeights, runReadProbe, type ReadProbeReport } from '../../src/sft/read-probe.js';
import { readInstance, readKinds, readStepIndices, readTrainInstance, readValidationSet, readValueRange } from '../../src/sft/reads.js';
import { LOSS_WEIGHT_FEED, SftStepper, sftBatch } from '../../src/sft/trainer.js';
import { corruptStep, formatResponse, goldResponse, Rng, verifyResponse, type FamilyId, type GridScene, type Instance, type ShapesScene, type ChartScene } from '../../src/tasks/index.js';

const TINY: VlmConfig = { vocab: 112, dim: 16, layers: 1, heads: 2, mlpRatio: 2, maxText: 64, imageSize: 48, patch: 8 };
const FAMILIES: FamilyId[] = ['grid', 'shapes', 'chart'];

const stub = (family: FamilyId, step: string): Instance => ({ id: `${family}-x-1`, family, seed: -1, horizon: 1, question: '', scene: null, steps: [step], answer: '' });

test('readKinds by hand: grid open/wall/edge, shapes query kinds, chart colour and value range; anything else "other"', () => {
  const k = (f: FamilyId, s: string) => readKinds(stub(f, s), 0);
  assert.deepEqual(k('grid', 'R 24 o 24'), ['open']);
  assert.deepEqual(k('grid', 'R 24 w 23'), ['wall']);
  assert.deepEqual(k('grid', 'U -- x 03'), ['edge']);
  assert.deepEqual(k('grid', 'R 24 q 24'), ['other']);
  assert.deepEqual(k('shapes', 'rc@r2=3'), ['row', 'colour+shape']);
  assert.deepEqual(k('shapes', 'r.@c0=4'), ['column', 'colour']);
  assert.deepEqual(k('shapes', '.t@r5=1'), ['row', 'shape']);
  assert.deepEqual(k('shapes', '..@c3=6'), ['column', 'all']);
  assert.deepEqual(k('shapes', '.s<bt=2'), ['other'], 'the relational queries are gone');
  assert.deepEqual(k('shapes', 'rc=3'), ['other'], 'so are whole-image counts');
  assert.deepEqual(k('shapes', '+2=5'), ['other']);
  assert.deepEqual(k('chart', 'r=5'), ['colour r', 'value 4-6']);
  assert.deepEqual(k('chart', 'm=1'), ['colour m', 'value 1-3']);
  assert.deepEqual(k('chart', 'o=9'), ['colour o', 'value 7-9']);
  assert.deepEqual(k('chart', '^9=9'), ['other']);
  assert.deepEqual(readValueRange('chart', 'r=5'), [2, 3]);
  assert.deepEqual(readValueRange('shapes', '.s@c1=2'), [6, 7]);
  assert.deepEqual(readValueRange('grid', 'R 24 o 24'), [2, 9]);
});

test('horizon-1 read instances: one read step, kinds agree with the scene, train and val seeds disjoint, every kind present in 100 val instances', () => {
  const val = readValidationSet(FAMILIES, 100);
  assert.equal(val.length, 300);
  const seen = new Map<FamilyId, Set<string>>(FAMILIES.map((f) => [f, new Set()]));
  for (const inst of val) {
    assert.equal(inst.horizon, 1);
    assert.equal(inst.split, 'val');
    assert.deepEqual(readStepIndices(inst), [0], inst.id);
    const kinds = readKinds(inst);
    kinds.forEach((kd) => seen.get(inst.family)!.add(kd));
    const step = inst.steps[0]!;
    if (inst.family === 'grid') {
      const s = inst.scene as GridScene;
      const target = step.slice(2, 4);
      const expected = target === '--' ? 'edge' : s.rows[Number(target[0])]![Number(target[1])] === '#' ? 'wall' : 'open';
      assert.deepEqual(kinds, [expected], `${inst.id} ${step}`);
    } else if (inst.family === 'shapes') {
      const q = step.split('=')[0]!;
      assert.equal(kinds[0], q[3] === 'r' ? 'row' : 'column', `${inst.id} ${step}`);
      const line = (inst.scene as ShapesScene).objects.filter((o) => (q[3] === 'r' ? o.row : o.col) === Number(q[4]));
      assert.ok(Number(step.split('=')[1]) <= line.length, `${inst.id} ${step}: a count within the line`);
    } else {
      const bar = (inst.scene as ChartScene).bars.find((b) => b.colour === step[0])!;
      const lo = bar.value <= 3 ? 1 : bar.value <= 6 ? 4 : 7;
      assert.deepEqual(kinds, [`colour ${bar.colour}`, `value ${lo}-${lo + 2}`]);
    }
  }
  assert.deepEqual([...seen.get('grid')!].sort(), ['edge', 'open', 'wall']);
  assert.deepEqual([...seen.get('shapes')!].sort(), ['all', 'colour', 'colour+shape', 'column', 'row', 'shape']);
  assert.deepEqual([...seen.get('chart')!].filter((x) => x.startsWith('value')).sort(), ['value 1-3', 'value 4-6', 'value 7-9']);
  const trainSeeds = new Set(Array.from({ length: 30 }, (_, k) => readTrainInstance(k, FAMILIES).seed));
  assert.ok(val.every((v) => !trainSeeds.has(v.seed)));
  assert.deepEqual(Array.from({ length: 6 }, (_, k) => readTrainInstance(k, FAMILIES).family), ['grid', 'shapes', 'chart', 'grid', 'shapes', 'chart']);
});

test('read tokens are the claimed values; weights ride in the SFT batch only when asked, and weight 1 reproduces the plain SFT loss', async () => {
  const policy = Policy.init(TINY, 3, undefined, 1);
  const tok = policy.tokenizer;
  const insts = FAMILIES.map((f, i) => readInstance(f, 'train', 10 + i));
  for (const inst of insts) {
    const ids = [...tok.encode(goldResponse(inst)), tok.eos];
    const mask = readTokenMask(inst, tok);
    assert.equal(mask.length, ids.length);
    const [a, b] = readValueRange(inst.family, inst.steps[0]!);
    assert.equal(tok.decode(ids.filter((_, j) => mask[j])), inst.steps[0]!.slice(a, b), inst.id);
    assert.deepEqual([...readTokenWeights(inst, tok, 4)], [...mask].map((m) => (m ? 4 : 1)));
  }
  const plain = sftBatch(policy, insts.map((inst) => ({ inst, response: goldResponse(inst) })));
  assert.equal(plain.feeds[LOSS_WEIGHT_FEED], undefined, 'no weights asked: the batch is the plain one');
  const ones = sftBatch(policy, insts.map((inst) => ({ inst, response: goldResponse(inst), weights: readTokenWeights(inst, tok, 1) })));
  const heavy = sftBatch(policy, insts.map((inst) => ({ inst, response: goldResponse(inst), weights: readTokenWeights(inst, tok, 5) })));
  assert.deepEqual([...ones.feeds[LOSS_WEIGHT_FEED]!.data], [...ones.feeds.mask!.data], 'weights 1 = the loss mask');
  const w = heavy.feeds[LOSS_WEIGHT_FEED]!.data as Float32Array;
  assert.equal(w.filter((x) => x === 5).length, insts.reduce((a, i) => a + readTokenMask(i, tok).reduce((s, m) => s + m, 0), 0));
  // One step from the same start: the weighted objective with weights 1 gives sftObjective's loss.
  const lossOf = async (tokenWeights: boolean, batch: typeof plain) => {
    const p = Policy.init(TINY, 3, undefined, 1);
    return (await new SftStepper(p, { weightDecay: 0, maxGradNorm: 1 }, { tokenWeights }).run(batch, AdamState.zeros(p.params.specs), 1e-3)).loss;
  };
  const base = await lossOf(false, plain);
  assert.ok(Math.abs((await lossOf(true, ones)) - base) < 1e-5);
  assert.ok(Math.abs((await lossOf(true, heavy)) - base) > 1e-3, 'weight 5 on read tokens changes the loss');
});

/** A policy whose generate() returns scripted texts in request order. */
function scriptedPolicy(texts: string[]): Policy {
  const policy = Policy.init(TINY, 1, undefined, 1);
  let next = 0;
  policy.generate = async (reqs: GenerateRequest[], _opts: GenerateOptions): Promise<Generation[]> =>
    reqs.map(() => ({ tokens: policy.tokenizer.encode(texts[next++]!), logps: [], finished: true }));
  return policy;
}

test('readProbeTables on a scripted evaluation: read accuracy by family and kind counts the verified read steps exactly', async () => {
  const val = readValidationSet(FAMILIES, 12);
  const rng = new Rng(5);
  // Instance i: gold when i % 3 == 0, a false visual read when 1, unreadable when 2.
  const texts = val.map((inst, i) => (i % 3 === 0 ? goldResponse(inst) : i % 3 === 1 ? formatResponse([corruptStep(inst, 0, 'visual', rng)!], inst.answer) : 'no think block'));
  const rep = await evaluatePolicy(scriptedPolicy(texts), val, { temperature: 0, topP: 1, samples: 1, seed: 0 });
  const t = readProbeTables(val, rep);
  const ok = val.map((inst, i) => verifyResponse(inst, texts[i]!).steps[0]?.kind === 'ok');
  assert.deepEqual(ok, val.map((_, i) => i % 3 === 0), 'the script is what it says');
  assert.deepEqual(t.results.map((r) => r.read_ok), ok);
  assert.equal(t.overall.read_correct, 12);
  assert.equal(t.overall.read_accuracy, 12 / 36);
  for (const f of t.by_family) {
    const idx = val.flatMap((inst, i) => (inst.family === f.family ? [i] : []));
    assert.equal(f.n, 12);
    assert.equal(f.read_correct, idx.filter((i) => ok[i]).length);
    for (const k of f.by_kind) {
      const inKind = idx.filter((i) => readKinds(val[i]!).includes(k.kind));
      assert.equal(k.n, inKind.length, `${f.family} ${k.kind}`);
      assert.equal(k.read_correct, inKind.filter((i) => ok[i]).length, `${f.family} ${k.kind}`);
      assert.ok(k.read_ci[0] <= k.read_accuracy && k.read_accuracy <= k.read_ci[1]);
    }
    // Grid: one kind per read; shapes: a line and a filter; chart: a colour and a value range.
    const facets = f.family === 'grid' ? 1 : 2;
    assert.equal(f.by_kind.reduce((a, k) => a + k.n, 0), facets * f.n);
  }
});

function checkShape(r: Omit<ReadProbeReport, 'results'>, steps: number, valN: number): void {
  assert.equal(r.probe, 'reads');
  assert.equal(r.horizon, 1);
  assert.equal(r.train.steps, steps);
  assert.equal(r.train.stopped_by, 'steps');
  assert.ok(r.train.tokens > r.train.read_tokens && r.train.read_tokens > 0);
  assert.ok(Number.isFinite(r.train.final_loss) && r.train.final_loss > 0);
  assert.ok(r.minutes >= r.train.minutes && r.train.minutes > 0 && r.eval.minutes > 0);
  assert.equal(r.eval.n, FAMILIES.length * valN);
  assert.deepEqual(r.by_family.map((f) => f.family), FAMILIES);
  for (const f of r.by_family) {
    assert.equal(f.n, valN);
    assert.ok(f.by_kind.length > 0 && f.by_kind.every((k) => k.n > 0 && k.read_correct <= k.n));
  }
  assert.equal(r.curve.length, 1);
  assert.equal(r.curve[0]!.step, steps);
}

test('runReadProbe: a tiny model, 3 steps with read weight 3, reports by family and kind from its real greedy responses', async () => {
  const r = await runReadProbe({ ...DEFAULT_READ_PROBE, model: TINY, maxSteps: 3, batchSize: 6, valN: 4, readWeight: 3, threads: 1, evalEveryMinutes: 1e-9 }, { quiet: true });
  // A learning curve: an evaluation after each step before the last, and the final one.
  assert.deepEqual(r.curve.map((c) => c.step), [1, 2, 3]);
  assert.equal(r.curve.at(-1)!.read_accuracy, r.overall.read_accuracy);
  checkShape({ ...r, curve: r.curve.slice(-1) }, 3, 4);
  assert.equal(r.config.readWeight, 3);
  assert.deepEqual(r.config.model, TINY);
  const val = readValidationSet(FAMILIES, 4);
  assert.deepEqual(r.results.map((x) => x.id), val.map((i) => i.id));
  r.results.forEach((x, i) => assert.equal(x.read_ok, verifyResponse(val[i]!, x.response).steps[0]?.kind === 'ok', x.id));
  assert.equal(r.overall.read_correct, r.results.filter((x) => x.read_ok).length);
});

test('ivr probe-reads --json / --out: records the knobs it was given and prints the same report shape', async () => {
  const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'probe-reads-')), 'sub', 'probe.json');
  const args = ['probe-reads', '--steps', '2', '--val-n', '3', '--dim', '16', '--layers', '1', '--heads', '2', '--mlp-ratio', '2', '--patch', '16', '--max-text', '64', '--batch-size', '6', '--read-weight', '2', '--threads', '1', '--json', '--out', out];
  const { stdout } = await promisify(execFile)(process.execPath, [main, ...args], { maxBuffer: 1 << 24 });
  const r = JSON.parse(stdout) as Omit<ReadProbeReport, 'results'> & { command: string; results?: unknown };
  checkShape(r, 2, 3);
  assert.deepEqual(r.config.model, { ...TINY, patch: 16 });
  assert.equal(r.config.readWeight, 2);
  assert.equal(r.config.minutes, 15);
  assert.equal(r.results, undefined, 'responses only with --with-results');
  assert.match(r.command, /^ivr probe-reads --steps 2 /);
  const saved = JSON.parse(fs.readFileSync(out, 'utf8')) as ReadProbeReport;
  assert.deepEqual(saved.by_family, r.by_family);
  assert.equal(saved.results.length, 9, '--out keeps every response');
  fs.rmSync(path.dirname(path.dirname(out)), { recursive: true, force: true });
  // Knobs the model cannot take are usage errors (exit 2) naming the flags.
  for (const [bad, msg] of [[['--patch', '5'], /--patch 5 must divide --image-size 48/], [['--heads', '3'], /--heads 3 must divide --dim 128/], [['--image-size', '96'], /renders 48x48 .* must be 48 \(got 96\)/]] as const) {
    const r = await promisify(execFile)(process.execPath, [main, 'probe-reads', ...bad]).then(() => null, (e: { code: number; stderr: string }) => e);
    assert.ok(r && r.code === 2, `${bad.join(' ')} must fail with exit 2`);
    assert.match(r.stderr, msg);
  }
});
