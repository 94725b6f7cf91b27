// Supervised fine-tuning on gold solutions: the base policy that RL starts from.
import * as o from '../engine/ops.js';
import { AdamState } from '../engine/optim.js';
import { evaluatePolicy } from '../eval/evaluate.js';
import { packLayoutRows, packRows, roundUp, type PackedBatch, type PackedLayoutBatch } from '../model/batch.js';
import { loadPolicy, savePolicy } from '../model/checkpoint-io.js';
import { exampleIds, instancePatches } from '../model/episode.js';
import { trainOn, trainStep, type CompiledStep, type Objective, type StepResult } from '../model/objective.js';
import { Policy } from '../model/policy.js';
import { Rng, nameSeed } from '../util/rng.js';
import { getSplit, goldResponse, responsePrefix, type FamilyId, type Instance } from '../tasks/index.js';
import { RunDir } from '../train/run-dir.js';
import { cosineLr } from '../train/schedule.js';
import { Progress } from '../util/progress.js';
import type { SftConfig } from './config.js';
import { sftInstance } from './data.js';
import { scanExample } from './scan.js';

/** Feed name of the optional per-token loss weights (see sftBatch, weightedSftObjective). */
export const LOSS_WEIGHT_FEED = 'loss_weight';

/**
 * One SFT batch (model/batch.ts): loss on the response tokens (and <eos>) only. An item may
 * carry `weights`, one per response token and one for <eos>: then the batch also feeds them
 * as LOSS_WEIGHT_FEED (items without weights get 1 everywhere), for weightedSftObjective.
 * Without weights on any item the batch is the plain one.
 */
export function sftBatch(policy: Policy, items: { inst: Instance; response: string; weights?: ArrayLike<number> }[]): PackedBatch {
  const weighted = items.some((it) => it.weights !== undefined);
  return packRows(items.map((it) => {
    const ex = exampleIds(it.inst, it.response, policy.tokenizer);
    const row = { patches: instancePatches(it.inst, policy.cfg), text: ex.text, responseFrom: ex.promptLen };
    if (!weighted) return row;
    return { ...row, extras: { [LOSS_WEIGHT_FEED]: it.weights ?? new Float32Array(ex.text.length - ex.promptLen).fill(1) } };
  }), policy.cfg, { label: 'SFT example', ...(weighted ? { extras: [LOSS_WEIGHT_FEED] } : {}) });
}

/**
 * A batch in the layout form: some examples get the image re-inserted at a step boundary
 * (where the Re-Reasoning Loop re-grounds), chosen by a per-example seeded draw.
 */
export function sftLayoutBatch(policy: Policy, items: { inst: Instance; response: string; key: number; weights?: ArrayLike<number>; scan?: boolean }[], regroundProb: number, seed: number): PackedLayoutBatch {
  const cfg = policy.cfg;
  const tok = policy.tokenizer;
  const rows = items.map((it) => {
    const ex = exampleIds(it.inst, it.response, tok);
    const rng = new Rng(nameSeed(seed, `reground${it.key}`));
    let insertAt: number | null = null;
    // A scan (sft/scan.ts) has no steps to re-ground between.
    if (rng.float() < regroundProb && !it.scan) {
      const j = rng.int(0, it.inst.steps.length);
      insertAt = ex.promptLen + tok.encode(responsePrefix(it.inst.steps.slice(0, j))).length;
    }
    return { text: ex.text, lossFrom: ex.promptLen, insertAt, patches: instancePatches(it.inst, cfg), ...(it.weights ? { weights: it.weights } : {}) };
  });
  const weighted = items.some((it) => it.weights !== undefined);
  return packLayoutRows(rows, cfg, (n) => roundUp(n, 32), weighted ? { weightFeed: LOSS_WEIGHT_FEED } : {});
}

/** Next-token cross-entropy on the response tokens, as an objective the model compiles. */
export function sftObjective(adamw: { weightDecay: number; maxGradNorm: number }): Objective {
  return {
    key: 'sft-cross-entropy',
    adamw: { beta1: 0.9, beta2: 0.95, eps: 1e-8, ...adamw },
    loss: (g) => ({ loss: o.crossEntropy(g.logits, g.targets, g.mask) }),
  };
}

/**
 * Cross-entropy with a weight per response token (the batch's LOSS_WEIGHT_FEED, times the
 * loss mask): sum(w · nll) / sum(w). With every weight 1 it equals sftObjective's loss; a
 * weight above 1 on some tokens raises their share of the gradient. Full-form batches only
 * (used by the read probe, sft/read-probe.ts; `ivr sft` trains with sftObjective).
 */
export function weightedSftObjective(adamw: { weightDecay: number; maxGradNorm: number }): Objective {
  return {
    key: 'sft-weighted-cross-entropy',
    adamw: { beta1: 0.9, beta2: 0.95, eps: 1e-8, ...adamw },
    loss: (g) => ({ loss: o.crossEntropy(g.logits, g.targets, o.mul(g.input(LOSS_WEIGHT_FEED), g.mask)) }),
  };
}

/** Compiled SFT steps, one per padded text length (and layout length for the layout form). */
export class SftStepper {
  private readonly objective: Objective;
  /** `tokenWeights`: train with weightedSftObjective (batches must carry weights); default: sftObjective. */
  constructor(private readonly policy: Policy, adamw: { weightDecay: number; maxGradNorm: number }, opts: { tokenWeights?: boolean } = {}) {
    this.objective = opts.tokenWeights ? weightedSftObjective(adamw) : sftObjective(adamw);
  }

  /** The full-form step for text length T. */
  get(T: number): Promise<CompiledStep> { return trainStep(this.policy, this.objective, { T }); }

  /** One optimizer step on a batch of either form (the layout form: re-grounded examples). */
  run(batch: PackedBatch | PackedLayoutBatch, state: AdamState, lr: number): Promise<StepResult> {
    return trainOn(this.policy, this.objective, batch, state, lr);
  }
}

export interface SftOptions {
  out: string;
  resume: boolean;
  /** Start over in --out even if it holds something else (see RunDir.open). */
  force?: boolean;
  quiet?: boolean;
  /** Continue from this checkpoint's weights instead of a fresh initialisation. */
  init?: string;
  /** Stop once this many supervised (response) tokens were trained on. */
  budgetTokens?: number;
  /** Offset into the example stream, so continued SFT sees data the base never saw. */
  streamOffset?: number;
}

/** Validation instances: the val split at every training horizon of each family. */
export function sftValidationSet(families: readonly FamilyId[], n: number): Instance[] {
  const per = Math.max(1, Math.ceil(n / families.length));
  return families.flatMap((f) => getSplit(f, 'val', per));
}

export async function runSft(cfg: SftConfig, opts: SftOptions): Promise<{ policy: Policy; runDir: RunDir }> {
  const run = new RunDir(opts.out);
  // The run options that shape the data and the start point are part of what a resume must match.
  const runConfig = { ...cfg, run_options: { init: opts.init ?? null, budget_tokens: opts.budgetTokens ?? null, stream_offset: opts.streamOffset ?? 0 } };
  run.open(runConfig, { kind: 'sft', resume: opts.resume, force: opts.force, init: opts.init });
  try {
    return await sftLoop(cfg, opts, run);
  } finally {
    run.close();
  }
}

async function sftLoop(cfg: SftConfig, opts: SftOptions, run: RunDir): Promise<{ policy: Policy; runDir: RunDir }> {
  const threads = cfg.threads > 0 ? cfg.threads : undefined;
  let policy: Policy;
  let state: AdamState;
  if (opts.resume && run.hasCheckpoint()) {
    const saved = loadPolicy(run.latest, threads);
    if (!saved.optimizer) throw new Error(`${run.latest}: checkpoint has no optimizer state to resume from`);
    policy = saved.policy;
    state = saved.optimizer;
  } else if (opts.init) {
    policy = loadPolicy(opts.init, threads).policy;
    state = AdamState.zeros(policy.params.specs);
  } else {
    policy = Policy.init(cfg.model, cfg.seed, undefined, threads);
    state = AdamState.zeros(policy.params.specs);
  }
  // Rows logged after the checkpoint we start from (or before any checkpoint) are replayed.
  run.truncateMetrics((r) => typeof r.step === 'number' && r.step <= state.step);
  let trainedTokens = run.readMetrics().reduce((a, r) => a + (typeof r.tokens === 'number' ? r.tokens : 0), 0);
  const stepper = new SftStepper(policy, { weightDecay: cfg.weight_decay, maxGradNorm: cfg.grad_clip }, { tokenWeights: cfg.scan_share > 0 });
  const valSet = sftValidationSet(cfg.families, cfg.val_n);
  const progress = new Progress('sft', cfg.steps, opts.quiet);
  const maxH = cfg.max_horizon as Record<FamilyId, number>;
  const t0 = performance.now();
  let tokensSeen = 0;
  while (state.step < cfg.steps) {
    if (opts.budgetTokens !== undefined && trainedTokens >= opts.budgetTokens) break;
    const step = state.step;
    const items = Array.from({ length: cfg.batch_size }, (_, j) => {
      const key = (opts.streamOffset ?? 0) + step * cfg.batch_size + j;
      const inst = sftInstance(key, cfg.families, maxH);
      // A share of the examples are scans of the same image (k supervised reads, sft/scan.ts),
      // drawn per example key so a resumed run sees the same batches.
      if (cfg.scan_share > 0 && new Rng(nameSeed(cfg.seed, `scan${key}`)).float() < cfg.scan_share) {
        return { ...scanExample(inst, policy.tokenizer, nameSeed(cfg.seed, `scan-items${key}`)), key, scan: true };
      }
      const response = goldResponse(inst);
      // With scans in the mix every batch carries weights (the objective reads them): 1 here.
      const weights = cfg.scan_share > 0 ? new Float32Array(policy.tokenizer.encode(response).length + 1).fill(1) : undefined;
      return { inst, response, key, ...(weights ? { weights } : {}) };
    });
    const lr = cosineLr(step, cfg.steps, cfg.lr, cfg.warmup, cfg.min_lr_frac);
    const ts = performance.now();
    const batch = cfg.reground_prob > 0 ? sftLayoutBatch(policy, items, cfg.reground_prob, cfg.seed) : sftBatch(policy, items);
    const r = await stepper.run(batch, state, lr);
    const stepS = (performance.now() - ts) / 1000;
    tokensSeen += batch.tokens;
    trainedTokens += batch.tokens;
    const row: Record<string, unknown> = { step: state.step, loss: r.loss, grad_norm: r.gradNorm, lr, tokens: batch.tokens, t_step_s: stepS };
    const last = state.step === cfg.steps || (opts.budgetTokens !== undefined && trainedTokens >= opts.budgetTokens);
    if (state.step % cfg.val_every === 0 || last) {
      const rep = await evaluatePolicy(policy, valSet, { temperature: 0, topP: 1, samples: 1, seed: cfg.seed });
      row.val_accuracy = rep.accuracy;
      row.val_grounding = rep.grounding_fidelity;
      row.val_format = rep.format_validity;
      row.val_by_family = Object.fromEntries(rep.by_family.map((f) => [f.family, f.accuracy]));
    }
    run.logMetrics(row);
    if (state.step % cfg.checkpoint_every === 0 || last) {
      savePolicy(run.latest, policy, { kind: 'sft', config: cfg }, state);
    }
    const tps = tokensSeen / ((performance.now() - t0) / 1000);
    progress.update(state.step, `loss ${r.loss.toFixed(3)} ${Math.round(tps)} tok/s${row.val_accuracy !== undefined ? ` val_acc ${(row.val_accuracy as number).toFixed(3)}` : ''}`);
  }
  progress.done();
  savePolicy(run.final, policy, { kind: 'sft', config: cfg });
  return { policy, runDir: run };
}
