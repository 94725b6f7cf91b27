// Perception probe (issue 22, item 1): train a fresh model on horizon-1 reads alone
// (sft/reads.ts) for a wall-clock budget, then measure greedy read accuracy on fixed val
// instances, by family and by read kind. Cheap enough to compare encoders, widths, depths and
// the weight of the reading tokens in the loss without a full base run.
//
// Training is the SFT trainer's own step (SftStepper, sftBatch): the gold response of each
// read instance, cross-entropy on the response tokens; with readWeight != 1 the read tokens
// (sft/reads.ts: the values a read step claims, e.g. the "5" of "r=5") weigh readWeight and
// the rest 1, normalised by the summed weight (weightedSftObjective). The learning rate warms up
// over `warmup` steps, then decays by a cosine over the budget (time or steps, whichever
// runs out first). Evaluation is evaluatePolicy (greedy), not counted in the budget.
import { AdamState } from '../engine/optim.js';
import { evaluatePolicy, type EvalReport, type InstanceResult } from '../eval/evaluate.js';
import { savePolicy } from '../model/checkpoint-io.js';
import { validateVlmConfig, type VlmConfig } from '../model/config.js';
import { Policy } from '../model/policy.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { wilson95 } from '../stats/interval.js';
import { getFamily, goldResponse, responsePrefix, type FamilyId, type Instance } from '../tasks/index.js';
import { Progress } from '../util/progress.js';
import { nameSeed, Rng } from '../util/rng.js';
import { scanExample } from './scan.js';
import { readKinds, readStepIndices, readTrainInstance, readValidationSet, readValueRange, READ_HORIZON } from './reads.js';
import { SftStepper, sftBatch } from './trainer.js';

export interface ReadProbeConfig {
  /** The model trained from scratch (model/config.ts: image size, patch, dim, layers, heads, ...). */
  model: VlmConfig;
  families: FamilyId[];
  /** Wall-clock training budget in minutes (evaluation not counted). */
  minutes: number;
  /** Also stop after this many optimizer steps (null: the time budget alone). */
  maxSteps: number | null;
  batchSize: number;
  lr: number;
  warmup: number;
  minLrFrac: number;
  weightDecay: number;
  gradClip: number;
  /** Loss weight of the read tokens (readTokenMask) relative to the other response tokens (1 = plain SFT). */
  readWeight: number;
  /** Share of training examples that are scans (sft/scan.ts: k lookups of one image) instead of reads (0 = reads only). */
  scanShare: number;
  /** Val instances per family (fixed: val seeds 0..valN-1 at horizon 1). */
  valN: number;
  seed: number;
  /** onnxruntime threads (undefined: $IVR_THREADS, else all cores). */
  threads?: number;
  /** Also evaluate every this many training minutes (a learning curve); null = at the end only. */
  evalEveryMinutes: number | null;
}

export const DEFAULT_READ_PROBE: ReadProbeConfig = {
  // The base's model (DEFAULT_VLM) with a text budget that fits horizon-1 reads.
  model: { vocab: 112, dim: 128, layers: 4, heads: 4, mlpRatio: 4, maxText: 96, imageSize: 48, patch: 8 },
  families: ['grid', 'shapes', 'chart'],
  minutes: 15,
  maxSteps: null,
  batchSize: 32,
  lr: 2e-3,
  warmup: 100,
  minLrFrac: 0.1,
  weightDecay: 0.1,
  gradClip: 1.0,
  readWeight: 1,
  scanShare: 0,
  valN: 100,
  seed: 0,
  evalEveryMinutes: null,
};

/** Read accuracy of a set of instances: a read is correct when its step verifies ok. */
export interface ReadAccuracy {
  n: number;
  read_correct: number;
  read_accuracy: number;
  /** Wilson 95% interval over the n instances. */
  read_ci: [number, number];
}

export interface ReadProbeFamily extends ReadAccuracy {
  family: FamilyId;
  /** Answer correct (at horizon 1 it restates the read). */
  answer_accuracy: number;
  format_validity: number;
  /** Share of visual claims that hold (evaluate.ts). */
  grounding_fidelity: number;
  by_kind: ({ kind: string } & ReadAccuracy)[];
}

export interface ReadProbeResult {
  id: string;
  family: FamilyId;
  kinds: string[];
  read_ok: boolean;
  response: string;
}

export interface ReadProbeCurvePoint {
  step: number;
  train_minutes: number;
  read_accuracy: number;
  by_family: Record<string, number>;
}

export interface ReadProbeReport {
  probe: 'reads';
  horizon: number;
  config: Omit<ReadProbeConfig, 'threads'> & { threads: number; params: number };
  train: {
    steps: number;
    examples: number;
    /** Response tokens trained on, and how many of them belong to read steps. */
    tokens: number;
    read_tokens: number;
    minutes: number;
    stopped_by: 'minutes' | 'steps';
    /** Mean loss over the last (up to) 50 steps. */
    final_loss: number;
  };
  eval: { n: number; minutes: number; temperature: 0 };
  /** Training + every evaluation, in minutes. */
  minutes: number;
  overall: ReadAccuracy & { answer_accuracy: number };
  by_family: ReadProbeFamily[];
  curve: ReadProbeCurvePoint[];
  /** Per-instance outcomes of the final evaluation. */
  results: ReadProbeResult[];
}

/** 1 on the gold response's tokens (+ <eos>) that are read tokens (sft/reads.ts: the values a read step claims), else 0. */
export function readTokenMask(inst: Instance, tok: Tokenizer): Uint8Array {
  const m = new Uint8Array(tok.encode(goldResponse(inst)).length + 1);
  for (const j of readStepIndices(inst)) {
    const step = inst.steps[j]!;
    const at = tok.encode(responsePrefix(inst.steps.slice(0, j))).length;
    const [a, b] = readValueRange(inst.family, step);
    m.fill(1, at + tok.encode(step.slice(0, a)).length, at + tok.encode(step.slice(0, b)).length);
  }
  return m;
}

/** Loss weights of the gold response's tokens (+ <eos>): `weight` on read tokens, 1 elsewhere (sftBatch's `weights`). */
export function readTokenWeights(inst: Instance, tok: Tokenizer, weight: number): Float32Array {
  return weightsOf(readTokenMask(inst, tok), weight);
}

const weightsOf = (mask: Uint8Array, weight: number) => Float32Array.from(mask, (r) => (r ? weight : 1));

/** Whether the result's read step verified ok (its visual claims hold and it reads what was asked). */
export function readCorrect(inst: Instance, r: InstanceResult): boolean {
  const k = readStepIndices(inst)[0] ?? 0;
  return r.verification.steps[k]?.kind === 'ok';
}

function accuracyOf(oks: readonly boolean[]): ReadAccuracy {
  const n = oks.length;
  const c = oks.filter(Boolean).length;
  const ci = wilson95(c, n);
  return { n, read_correct: c, read_accuracy: n ? c / n : 0, read_ci: [ci.low, ci.high] };
}

/** Read accuracy by family and kind from an evaluation of `instances` (same order as its results). */
export function readProbeTables(instances: readonly Instance[], report: EvalReport): Pick<ReadProbeReport, 'overall' | 'by_family' | 'results'> {
  if (report.results.length !== instances.length) throw new Error(`read probe: ${report.results.length} results for ${instances.length} instances`);
  const results: ReadProbeResult[] = instances.map((inst, i) => {
    const r = report.results[i]!;
    if (r.id !== inst.id) throw new Error(`read probe: result ${i} is ${r.id}, expected ${inst.id}`);
    return { id: inst.id, family: inst.family, kinds: readKinds(inst), read_ok: readCorrect(inst, r), response: r.responses[0] ?? '' };
  });
  const families = [...new Set(instances.map((i) => i.family))];
  const by_family = families.map((family): ReadProbeFamily => {
    const rs = results.filter((r) => r.family === family);
    const agg = report.by_family.find((f) => f.family === family)!;
    const kinds = [...new Set(rs.flatMap((r) => r.kinds))].sort();
    return {
      family, ...accuracyOf(rs.map((r) => r.read_ok)),
      answer_accuracy: agg.accuracy, format_validity: agg.format_validity, grounding_fidelity: agg.grounding_fidelity,
      by_kind: kinds.map((kind) => ({ kind, ...accuracyOf(rs.filter((r) => r.kinds.includes(kind)).map((r) => r.read_ok)) })),
    };
  });
  return { overall: { ...accuracyOf(results.map((r) => r.read_ok)), answer_accuracy: report.accuracy }, by_family, results };
}

/** Learning rate: linear warm-up over `warmup` steps, then cosine to minLrFrac over the budget's progress (0..1). */
export function probeLr(cfg: ReadProbeConfig, step: number, progress: number): number {
  if (step < cfg.warmup) return cfg.lr * (step + 1) / cfg.warmup;
  const t = Math.min(1, Math.max(0, progress));
  return cfg.lr * (cfg.minLrFrac + (1 - cfg.minLrFrac) * 0.5 * (1 + Math.cos(Math.PI * t)));
}

/** Checks what the probe needs beyond the model config's own rules; throws naming the setting. */
export function checkReadProbeConfig(cfg: ReadProbeConfig): void {
  validateVlmConfig(cfg.model, 'read probe model');
  if (cfg.families.length === 0) throw new Error('read probe: no families');
  for (const f of cfg.families) {
    const img = getFamily(f).renderSmall(readTrainInstance(0, [f]));
    if (img.width !== cfg.model.imageSize || img.height !== cfg.model.imageSize) {
      throw new Error(`read probe: ${f} renders ${img.width}x${img.height} images and the model reads them unresized, so the image size must be ${img.width} (got ${cfg.model.imageSize})`);
    }
  }
  if (!(cfg.minutes > 0)) throw new Error(`read probe: minutes must be > 0, got ${cfg.minutes}`);
  if (cfg.maxSteps !== null && !(Number.isInteger(cfg.maxSteps) && cfg.maxSteps >= 1)) throw new Error(`read probe: max steps must be an integer >= 1, got ${cfg.maxSteps}`);
  if (!(cfg.readWeight > 0)) throw new Error(`read probe: read weight must be > 0, got ${cfg.readWeight}`);
  if (!(cfg.scanShare >= 0 && cfg.scanShare < 1)) throw new Error(`read probe: scan share must be in [0, 1), got ${cfg.scanShare}`);
}

export interface ReadProbeOptions {
  quiet?: boolean;
  /** Save the trained model here (a checkpoint directory). */
  save?: string;
}

/** Trains a fresh model on horizon-1 reads for the budget, then measures read accuracy. */
export async function runReadProbe(cfg: ReadProbeConfig, opts: ReadProbeOptions = {}): Promise<ReadProbeReport> {
  checkReadProbeConfig(cfg);
  const policy = Policy.init(cfg.model, cfg.seed, undefined, cfg.threads);
  const state = AdamState.zeros(policy.params.specs);
  // Scans carry loss weights (names 0, contents 1), so any scan makes the batch weighted.
  const weighted = cfg.readWeight !== 1 || cfg.scanShare > 0;
  const scanRng = new Rng(nameSeed(cfg.seed, 'scan-share'));
  const stepper = new SftStepper(policy, { weightDecay: cfg.weightDecay, maxGradNorm: cfg.gradClip }, { tokenWeights: weighted });
  const valSet = readValidationSet(cfg.families, cfg.valN);
  const budgetMs = cfg.minutes * 60_000;
  const evaluate = () => evaluatePolicy(policy, valSet, { temperature: 0, topP: 1, samples: 1, seed: cfg.seed });
  // Progress in steps when steps cap the run, else in seconds of the budget.
  const progress = new Progress('probe-reads', cfg.maxSteps ?? Math.round(cfg.minutes * 60), opts.quiet);

  let trainMs = 0, evalMs = 0, tokens = 0, readTokens = 0;
  const losses: number[] = [];
  const curve: ReadProbeCurvePoint[] = [];
  const everyMs = cfg.evalEveryMinutes !== null ? cfg.evalEveryMinutes * 60_000 : Infinity;
  let nextEval = everyMs;
  const timedEval = async (): Promise<EvalReport> => {
    const t = performance.now();
    const rep = await evaluate();
    evalMs += performance.now() - t;
    return rep;
  };
  const budgetUsed = () => Math.max(trainMs / budgetMs, cfg.maxSteps !== null ? state.step / cfg.maxSteps : 0);
  while (budgetUsed() < 1) {
    const t = performance.now();
    const step = state.step;
    const items = Array.from({ length: cfg.batchSize }, (_, j) => {
      const inst = readTrainInstance(step * cfg.batchSize + j, cfg.families);
      if (cfg.scanShare > 0 && scanRng.float() < cfg.scanShare) return scanExample(inst, policy.tokenizer, nameSeed(cfg.seed, `scan${step}-${j}`));
      const mask = readTokenMask(inst, policy.tokenizer);
      readTokens += mask.reduce((a, r) => a + r, 0);
      return { inst, response: goldResponse(inst), ...(weighted ? { weights: weightsOf(mask, cfg.readWeight) } : {}) };
    });
    const batch = sftBatch(policy, items);
    const r = await stepper.run(batch, state, probeLr(cfg, step, budgetUsed()));
    tokens += batch.tokens;
    losses.push(r.loss);
    if (losses.length > 50) losses.shift();
    trainMs += performance.now() - t;
    progress.update(cfg.maxSteps !== null ? state.step : Math.min(Math.round(trainMs / 1000), progress.total), `step ${state.step} loss ${r.loss.toFixed(3)}`);
    if (trainMs >= nextEval && budgetUsed() < 1) {
      nextEval += everyMs;
      curve.push(curvePoint(state.step, trainMs, readProbeTables(valSet, await timedEval())));
    }
  }
  progress.done();
  const stoppedBy: 'minutes' | 'steps' = trainMs >= budgetMs ? 'minutes' : 'steps';
  const final = readProbeTables(valSet, await timedEval());
  curve.push(curvePoint(state.step, trainMs, final));
  if (opts.save) savePolicy(opts.save, policy, { kind: 'read-probe', probe: { ...cfg, threads: policy.threads } });
  const { threads: _threads, ...rest } = cfg;
  return {
    probe: 'reads',
    horizon: READ_HORIZON,
    config: { ...rest, threads: policy.threads, params: policy.params.count() },
    train: {
      steps: state.step, examples: state.step * cfg.batchSize, tokens, read_tokens: readTokens,
      minutes: trainMs / 60_000, stopped_by: stoppedBy,
      final_loss: losses.length ? losses.reduce((a, b) => a + b, 0) / losses.length : NaN,
    },
    eval: { n: valSet.length, minutes: evalMs / 60_000, temperature: 0 },
    minutes: (trainMs + evalMs) / 60_000,
    ...final,
    curve,
  };
}

function curvePoint(step: number, trainMs: number, t: Pick<ReadProbeReport, 'overall' | 'by_family'>): ReadProbeCurvePoint {
  return { step, train_minutes: trainMs / 60_000, read_accuracy: t.overall.read_accuracy, by_family: Object.fromEntries(t.by_family.map((f) => [f.family, f.read_accuracy])) };
}
