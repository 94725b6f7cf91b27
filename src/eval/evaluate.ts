// Evaluation of a policy on task instances: accuracy, grounding fidelity (share of
// visual claims that hold), format validity, length, and the first-error step
// distribution ("erosion curve"), overall, by family and by (family, horizon). Any reasoner
// can be evaluated (the local compact model, or a remote VLM through the same port).
import type { Policy } from '../model/policy.js';
import { LocalReasoner } from '../reasoner/local-reasoner.js';
import type { Reasoner } from '../reasoner/reasoner.js';
import { instanceTask, type ReasonTask } from '../reasoner/task.js';
import { goldResponse, verifyResponse, type FamilyId, type Instance, type Verification } from '../tasks/index.js';
import { Progress } from '../util/progress.js';
import { wilson95 } from '../stats/interval.js';

export interface EvalOptions {
  /** 0 = greedy. */
  temperature: number;
  topP: number;
  /** Samples per instance; k > 1 reports pass@k (any of k correct). */
  samples: number;
  seed: number;
  /** Generation budget; default: 1.5 x the longest gold response + 16 tokens. */
  maxNew?: number;
  batchSize?: number;
  progress?: boolean;
}

export interface InstanceResult {
  id: string;
  family: FamilyId;
  horizon: number;
  responses: string[];
  /** Verification of the first response (the greedy one in greedy mode). */
  verification: Verification;
  correct: boolean;
  passAtK: boolean;
  length: number;
}

export interface Aggregate {
  n: number;
  accuracy: number;
  /** Wilson 95% interval of the accuracy over the n instances. */
  accuracy_ci: [number, number];
  pass_at_k: number;
  grounding_fidelity: number;
  format_validity: number;
  mean_length: number;
}

export interface EvalReport extends Aggregate {
  samples: number;
  temperature: number;
  /** Counts of the first failing step index ("none" = fully verified). */
  first_error_hist: Record<string, number>;
  by_family: ({ family: FamilyId } & Aggregate)[];
  by_horizon: ({ family: FamilyId; horizon: number; first_error_hist: Record<string, number> } & Aggregate)[];
  results: InstanceResult[];
}

export function aggregate(rs: InstanceResult[]): Aggregate {
  const n = rs.length;
  const claims = rs.reduce((a, r) => a + r.verification.visualClaims, 0);
  const held = rs.reduce((a, r) => a + r.verification.visualClaimsHeld, 0);
  const mean = (f: (r: InstanceResult) => number) => (n ? rs.reduce((a, r) => a + f(r), 0) / n : 0);
  const correct = rs.reduce((a, r) => a + Number(r.correct), 0);
  const ci = wilson95(correct, n);
  return {
    n,
    accuracy: n ? correct / n : 0,
    accuracy_ci: [ci.low, ci.high],
    pass_at_k: mean((r) => Number(r.passAtK)),
    grounding_fidelity: claims ? held / claims : 0,
    format_validity: mean((r) => Number(r.verification.formatValid)),
    mean_length: mean((r) => r.length),
  };
}

/** One character per instance, '1' = correct, in instance order: what paired intervals need. */
export function outcomeString(rs: InstanceResult[]): string {
  return rs.map((r) => (r.correct ? '1' : '0')).join('');
}

export function firstErrorHist(rs: InstanceResult[]): Record<string, number> {
  const h: Record<string, number> = {};
  for (const r of rs) {
    const k = r.verification.firstError === null ? 'none' : String(r.verification.firstError);
    h[k] = (h[k] ?? 0) + 1;
  }
  return h;
}

/** The compact model: its generation budget defaults to 1.5 x the longest gold response + 16 tokens. */
export async function evaluatePolicy(policy: Policy, instances: Instance[], opts: EvalOptions): Promise<EvalReport> {
  const tok = policy.tokenizer;
  const maxNew = opts.maxNew ?? Math.ceil(1.5 * Math.max(...instances.map((i) => tok.encode(goldResponse(i)).length))) + 16;
  const reasoner = new LocalReasoner(policy, { temperature: opts.temperature, topP: opts.topP, maxTokens: maxNew });
  // Lengths in the policy's own tokens of the decoded text, as every report before measured them.
  return evaluateReasoner(reasoner, instances, opts, (text) => tok.encode(text).length);
}

/**
 * Any reasoner (e.g. a RemoteReasoner on `ivr serve` or another VLM server). Sampling
 * parameters are the reasoner's own; opts.maxNew overrides its reply budget. Rows go out in
 * batches of batchSize with seed + offset. `lengthOf` measures a response (default: the
 * tokens the reasoner reports for it).
 */
export async function evaluateReasoner(
  reasoner: Reasoner, instances: Instance[], opts: EvalOptions, lengthOf?: (text: string) => number,
  /** A remote reasoner needs image files: e.g. client/task.ts fromInstance(inst, renderDir). */
  taskOf: (inst: Instance) => ReasonTask = instanceTask,
): Promise<EvalReport> {
  const k = Math.max(1, opts.samples);
  const rows = instances.flatMap((inst) => { const t = taskOf(inst); return Array.from({ length: k }, () => t); });
  const bs = opts.batchSize ?? 64;
  const progress = new Progress('eval', rows.length, !opts.progress);
  const replies: { text: string; tokens: number }[] = [];
  for (let s = 0; s < rows.length; s += bs) {
    const out = await reasoner.sample(rows.slice(s, s + bs).map((task) => ({ task, n: 1 })), { seed: opts.seed + s, batchSize: bs, ...(opts.maxNew !== undefined ? { maxTokens: opts.maxNew } : {}) });
    for (const [r] of out) replies.push(r!);
    progress.update(replies.length);
  }
  progress.done();
  const texts = replies.map((r) => r.text);
  const results: InstanceResult[] = instances.map((inst, i) => {
    const responses = texts.slice(i * k, (i + 1) * k);
    const verifications = responses.map((r) => verifyResponse(inst, r));
    return {
      id: inst.id, family: inst.family, horizon: inst.horizon, responses,
      verification: verifications[0]!,
      correct: verifications[0]!.answerCorrect,
      passAtK: verifications.some((v) => v.answerCorrect),
      length: lengthOf ? lengthOf(responses[0]!) : replies[i * k]!.tokens,
    };
  });
  const families = [...new Set(results.map((r) => r.family))];
  const byHorizon: EvalReport['by_horizon'] = [];
  for (const f of families) {
    const hs = [...new Set(results.filter((r) => r.family === f).map((r) => r.horizon))].sort((a, b) => a - b);
    for (const h of hs) {
      const rs = results.filter((r) => r.family === f && r.horizon === h);
      byHorizon.push({ family: f, horizon: h, ...aggregate(rs), first_error_hist: firstErrorHist(rs) });
    }
  }
  return {
    ...aggregate(results), samples: k, temperature: opts.temperature,
    first_error_hist: firstErrorHist(results),
    by_family: families.map((f) => ({ family: f, ...aggregate(results.filter((r) => r.family === f)) })),
    by_horizon: byHorizon,
    results,
  };
}
