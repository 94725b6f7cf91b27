// `ivr synth`: IVR-R1's data side on any reasoner (a remote VLM, or the compact model),
// built from the same strategies as the RL method (src/ivr/). For every task:
//   1. rollouts: G responses through the reasoner port;
//   2. screen: flagged = reward < τ (ivr/screen.ts; the first maxPerInstance flagged);
//   3. localize: the first eroded step and the verified prefix — the scene-prior verifier
//      where the task has a scene, else the judge (or the judge everywhere, on request);
//   4. the Re-Reasoning Loop (ivr/rereason.ts, up to J rounds) with the chosen rectifier;
//      the localizer checks every round;
//   5. write each rectified trajectory (and, on request, verified-correct rollouts) as a
//      chat "messages" record with the image referenced by file.
// Output lines are appended whole with fsync; a torn last line is truncated on start; ids
// already in the output (or in the progress log, for tasks that produced no demo) are
// skipped, so an interrupted run resumes where it stopped. Summary: DEMOS.summary.json.
// With --format llamafactory the output is also registered in dataset_info.json beside it
// (merged with the entries already there), so LLaMA-Factory can train on it by name.
import * as path from 'node:path';
import type { Reasoner } from '../reasoner/reasoner.js';
import { taskOutcome, taskPrompt, type ReasonTask } from '../reasoner/task.js';
import { composeReward, type RewardMode } from '../rl/rewards.js';
import { FORMAT_BONUS, hashString } from '../tasks/index.js';
import { registerDataFile } from '../tasks/export/llamafactory.js';
import { atomicWriteJson } from '../util/fs.js';
import { appendRecords, openJsonl } from '../util/jsonl-out.js';
import { Progress } from '../util/progress.js';
import { judgeLocalizer, verifierLocalizer, type JudgeCheck, type Localizer, type StepJudge } from './localize.js';
import { rectifierFor, type RectifierName } from './rectifiers.js';
import { rereason, type RectifyItem } from './rereason.js';
import { rewardScreen } from './screen.js';

/** Screening reward: the tasks' own outcome reward (accuracy + FORMAT_BONUS · format), so τ
 * means what it meant before the RL default composition changed (rl/rewards.ts). */
const SYNTH_REWARD: { mode: RewardMode; formatBonus: number } = { mode: 'accuracy+format', formatBonus: FORMAT_BONUS };

export type LocalizerChoice = 'verifier' | 'judge';
export type DemoFormat = 'trl' | 'llamafactory';

export interface SynthOptions {
  out: string;
  reasoner: Reasoner;
  /** verifier: the scene prior where the task has one, else the judge; judge: the judge everywhere. */
  localizer: LocalizerChoice;
  judge?: StepJudge;
  /** Rollouts per task (G). */
  samples: number;
  /** Re-Reasoning Loop rounds (J). */
  rounds: number;
  /** Screening threshold τ: rollouts with reward < τ are flagged. */
  tau: number;
  /** Flagged rollouts rectified per task. */
  maxPerInstance: number;
  /** Verified-correct rollouts also written per task (source "rollout"). */
  keepCorrect: number;
  oracleFallback: boolean;
  /** How the loop continues (ivr/rectifiers.ts); default re-ground. */
  rectifier?: RectifierName;
  /** Tasks processed at once. */
  concurrency: number;
  format: DemoFormat;
  imagePaths: 'absolute' | 'relative';
  seed: number;
  /** Stop after this many failed tasks in this run. */
  maxErrors: number;
  progress?: boolean;
  /** Polled between tasks; true = finish the running tasks and stop (Ctrl-C). */
  shouldStop?: () => boolean;
  /** Extra fields for the summary (endpoints, model, request counters). */
  meta?: () => Record<string, unknown>;
}

/** One processed task in DEMOS.progress.jsonl. */
export interface ProgressRecord {
  id: string;
  family: string | null;
  horizon: number | null;
  rollouts: number;
  correct: number;
  flagged: number;
  attempted: number;
  rectified: number;
  /** Demos written (after de-duplication), and how many of them are rectified trajectories. */
  demos: number;
  demos_rectified: number;
  rewritten: number;
  first_errors: { step: number; kind: string }[];
  /** Rounds used by each attempted rectification, and whether it succeeded. */
  loops: { rounds: number; ok: boolean; rewritten_steps: number }[];
  judge_checks?: { judge: number | null; verifier: number | null }[];
  /** Reconstructed from the output after a crash between the demo and progress writes. */
  recovered?: boolean;
}

export interface SynthSummary {
  out: string;
  localizer: LocalizerChoice;
  policy: string;
  config: Record<string, unknown>;
  instances: { total: number; done: number; this_run: number; resumed: number; errors_this_run: number; remaining: number };
  rollouts: { total: number; correct: number; accuracy: number };
  flagged: number;
  attempted: number;
  rectified: number;
  rectify_rate: number;
  demos: { total: number; rectified: number; rollout: number; with_oracle_rewrite: number };
  first_error_hist: Record<string, number>;
  error_kinds: Record<string, number>;
  rounds_hist: Record<string, number>;
  rounds_mean: number;
  by_family: Record<string, { instances: number; rollout_accuracy: number; flagged: number; attempted: number; rectified: number; rectify_rate: number }>;
  by_horizon: Record<string, { instances: number; rollout_accuracy: number; attempted: number; rectified: number; rectify_rate: number }>;
  judge_agreement: { compared: number; exact: number; rate: number } | null;
  errors: { id: string; message: string }[];
  aborted: string | null;
  output_repaired_bytes: number;
  wall_s: number;
  [key: string]: unknown;
}

/** DEMOS.jsonl -> DEMOS.summary.json / DEMOS.progress.jsonl. */
export function sidecar(out: string, suffix: 'summary.json' | 'progress.jsonl'): string {
  const base = out.endsWith('.jsonl') ? out.slice(0, -'.jsonl'.length) : out;
  return `${base}.${suffix}`;
}

interface Demo { text: string; source: 'rectified' | 'rollout'; rounds: number; rewrittenSteps: number; firstError: { step: number; kind: string } | null }

export class Synthesizer {
  private readonly progressFile: string;

  constructor(private readonly opts: SynthOptions) {
    this.progressFile = sidecar(opts.out, 'progress.jsonl');
  }

  /** The task's localizer; it also checks every round of the loop. */
  private localizerFor(task: ReasonTask, judgeChecks: JudgeCheck[]): Localizer {
    const useJudge = this.opts.localizer === 'judge' || !task.inst;
    if (!useJudge) return verifierLocalizer;
    if (!this.opts.judge) throw new Error(task.inst ? '--localizer judge needs a judge model' : `task ${task.id} has no scene prior, so it needs a judge model (--judge-model)`);
    return judgeLocalizer(this.opts.judge, (c) => judgeChecks.push(c));
  }

  /** Rollouts, screening, localization and rectification for one task. */
  async processTask(task: ReasonTask): Promise<{ demos: Demo[]; record: ProgressRecord }> {
    const o = this.opts;
    const seed = (o.seed + hashString(task.id)) >>> 0;
    const [rollouts] = await o.reasoner.sample([{ task, n: o.samples, seed }], { seed });
    const scored = rollouts!.map((r, i) => {
      const c = taskOutcome(task, r.text);
      return { kind: 'policy', i, text: r.text, ...c, reward: composeReward(SYNTH_REWARD.mode, SYNTH_REWARD.formatBonus, c.accuracy, c.format) };
    });
    const judgeChecks: JudgeCheck[] = [];
    const localizer = this.localizerFor(task, judgeChecks);
    const { flagged, chosen } = rewardScreen.select([{ samples: scored }], o.tau, o.maxPerInstance);
    const record: ProgressRecord = {
      id: task.id, family: task.family, horizon: task.horizon,
      rollouts: scored.length, correct: scored.filter((s) => s.accuracy > 0).length,
      flagged, attempted: 0, rectified: 0, demos: 0, demos_rectified: 0, rewritten: 0, first_errors: [], loops: [],
    };
    // A rollout flagged by a high τ but fully verified has nothing to rectify (as in RL).
    const items: RectifyItem[] = [];
    for (const c of chosen) {
      const loc = await localizer.localize(task, c.sample.text);
      if (!loc) continue;
      record.first_errors.push({ step: loc.step, kind: loc.kind });
      items.push({ task, loc, seed: (seed + 7919 * (c.sample.i + 1)) >>> 0 });
    }
    record.attempted = items.length;
    const { outcomes } = await rereason(o.reasoner, items, { rounds: o.rounds, rectifier: rectifierFor(o.rectifier ?? 're-ground'), oracleFallback: o.oracleFallback, check: localizer }, seed);
    const demos: Demo[] = [];
    outcomes.forEach((r, i) => {
      const rewrittenSteps = r.pieces ? r.pieces.filter((p) => p.rewritten).length : 0;
      record.loops.push({ rounds: r.rounds, ok: r.pieces !== null, rewritten_steps: rewrittenSteps });
      if (!r.pieces) return;
      record.rectified++;
      const { step, kind } = items[i]!.loc;
      demos.push({ text: r.pieces.map((p) => p.text).join(''), source: 'rectified', rounds: r.rounds, rewrittenSteps, firstError: { step, kind } });
    });
    if (o.keepCorrect > 0) {
      for (const s of scored.filter((x) => x.complete).slice(0, o.keepCorrect)) demos.push({ text: s.text, source: 'rollout', rounds: 0, rewrittenSteps: 0, firstError: null });
    }
    const unique = demos.filter((d, i) => demos.findIndex((e) => e.text === d.text) === i);
    record.demos = unique.length;
    record.demos_rectified = unique.filter((d) => d.source === 'rectified').length;
    record.rewritten = unique.filter((d) => d.rewrittenSteps > 0).length;
    if (judgeChecks.length) record.judge_checks = judgeChecks;
    return { demos: unique, record };
  }

  /** A demo as a chat record (TRL's content lists, or LLaMA-Factory's "<image>" strings). */
  demoRecord(task: ReasonTask, d: Demo): Record<string, unknown> {
    const o = this.opts;
    const prompt = taskPrompt(task, o.reasoner.promptFormat);
    const abs = o.reasoner.imageFor(task);
    const image = o.imagePaths === 'relative' ? path.relative(path.dirname(path.resolve(o.out)), abs) : abs;
    const messages = o.format === 'trl'
      ? [
        { role: 'user', content: [{ type: 'image' }, { type: 'text', text: prompt }] },
        { role: 'assistant', content: [{ type: 'text', text: d.text }] },
      ]
      : [
        { role: 'user', content: '<image>' + prompt },
        { role: 'assistant', content: d.text },
      ];
    return {
      messages, images: [image],
      id: task.id, family: task.family, horizon: task.horizon, source: d.source,
      rounds: d.rounds, rewritten: d.rewrittenSteps > 0, rewritten_steps: d.rewrittenSteps,
      first_error: d.firstError, localizer: task.inst && o.localizer !== 'judge' ? 'verifier' : 'judge',
      model: o.reasoner.name, answer: task.answer,
    };
  }

  async run(tasks: ReasonTask[]): Promise<SynthSummary> {
    const o = this.opts;
    const t0 = performance.now();
    const outFile = openJsonl(o.out);
    // Registered up front (idempotent) so an interrupted run's demos are already usable.
    if (o.format === 'llamafactory') registerDataFile(o.out);
    const progFile = openJsonl(this.progressFile);
    const records = new Map<string, ProgressRecord>();
    for (const r of progFile.records) if (typeof r.id === 'string') records.set(r.id, r as unknown as ProgressRecord);
    // Tasks whose demos were written but whose progress line was not (a crash between the two).
    const recovered: ProgressRecord[] = [];
    const demoCounts = new Map<string, { all: number; rectified: number }>();
    for (const r of outFile.records) {
      if (typeof r.id !== 'string') continue;
      const c = demoCounts.get(r.id) ?? { all: 0, rectified: 0 };
      c.all++;
      if (r.source === 'rectified') c.rectified++;
      demoCounts.set(r.id, c);
    }
    for (const [id, n] of demoCounts) {
      if (records.has(id)) continue;
      const task = tasks.find((t) => t.id === id);
      const rec: ProgressRecord = {
        id, family: task?.family ?? null, horizon: task?.horizon ?? null, rollouts: 0, correct: 0, flagged: 0, attempted: 0, rectified: 0,
        demos: n.all, demos_rectified: n.rectified, rewritten: 0, first_errors: [], loops: [], recovered: true,
      };
      recovered.push(rec);
      records.set(id, rec);
    }
    appendRecords(this.progressFile, recovered);
    const pending = tasks.filter((t) => !records.has(t.id));
    const resumed = tasks.length - pending.length;
    const progress = new Progress('synth', pending.length, !o.progress);
    const errors: { id: string; message: string }[] = [];
    let aborted: string | null = null;
    let next = 0;
    let finished = 0;
    let rectifiedRun = 0;
    let attemptedRun = 0;
    const worker = async () => {
      for (;;) {
        if (aborted || next >= pending.length) return;
        if (o.shouldStop?.()) { aborted = 'stopped by signal'; return; }
        const task = pending[next++]!;
        try {
          const { demos, record } = await this.processTask(task);
          appendRecords(o.out, demos.map((d) => this.demoRecord(task, d)));
          appendRecords(this.progressFile, [record]);
          records.set(task.id, record);
          rectifiedRun += record.rectified;
          attemptedRun += record.attempted;
        } catch (e) {
          errors.push({ id: task.id, message: (e as Error).message });
          if (errors.length >= o.maxErrors) aborted = `stopped after ${errors.length} failed tasks (--max-errors ${o.maxErrors}); last: ${(e as Error).message}`;
        }
        finished++;
        progress.update(finished, `rectified ${rectifiedRun}/${attemptedRun} errors ${errors.length}`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(o.concurrency, pending.length)) }, worker));
    progress.done(`rectified ${rectifiedRun}/${attemptedRun} errors ${errors.length}`);
    const summary = this.summarize(tasks, records, {
      resumed, thisRun: finished - errors.length, errors, aborted,
      repaired: outFile.truncatedBytes + progFile.truncatedBytes, wall: (performance.now() - t0) / 1000,
    });
    atomicWriteJson(sidecar(o.out, 'summary.json'), summary);
    return summary;
  }

  private summarize(tasks: ReasonTask[], records: Map<string, ProgressRecord>, run: { resumed: number; thisRun: number; errors: { id: string; message: string }[]; aborted: string | null; repaired: number; wall: number }): SynthSummary {
    const o = this.opts;
    const ids = new Set(tasks.map((t) => t.id));
    const recs = [...records.values()].filter((r) => ids.has(r.id));
    const sum = (f: (r: ProgressRecord) => number) => recs.reduce((a, r) => a + f(r), 0);
    const rate = (a: number, b: number) => (b > 0 ? a / b : 0);
    const hist = (keys: (string | number)[]) => {
      const h: Record<string, number> = {};
      for (const k of keys) h[k] = (h[k] ?? 0) + 1;
      return h;
    };
    const group = <K extends string>(key: (r: ProgressRecord) => K) => {
      const m = new Map<K, ProgressRecord[]>();
      for (const r of recs) m.set(key(r), [...(m.get(key(r)) ?? []), r]);
      return m;
    };
    const agg = (rs: ProgressRecord[]) => {
      const roll = rs.reduce((a, r) => a + r.rollouts, 0);
      const att = rs.reduce((a, r) => a + r.attempted, 0);
      const rec = rs.reduce((a, r) => a + r.rectified, 0);
      return { instances: rs.length, rollout_accuracy: rate(rs.reduce((a, r) => a + r.correct, 0), roll), flagged: rs.reduce((a, r) => a + r.flagged, 0), attempted: att, rectified: rec, rectify_rate: rate(rec, att) };
    };
    const loops = recs.flatMap((r) => r.loops);
    const okLoops = loops.filter((l) => l.ok);
    const checks = recs.flatMap((r) => r.judge_checks ?? []);
    const rollouts = sum((r) => r.rollouts);
    const correct = sum((r) => r.correct);
    const attempted = sum((r) => r.attempted);
    const rectified = sum((r) => r.rectified);
    const demosTotal = sum((r) => r.demos);
    const demosRectified = sum((r) => r.demos_rectified ?? 0);
    return {
      out: path.resolve(o.out),
      localizer: o.localizer,
      policy: o.reasoner.name,
      config: { samples: o.samples, rounds: o.rounds, tau: o.tau, max_per_instance: o.maxPerInstance, keep_correct: o.keepCorrect, oracle_fallback: o.oracleFallback, rectifier: o.rectifier ?? 're-ground', prompt_format: o.reasoner.promptFormat, format: o.format, seed: o.seed },
      instances: { total: tasks.length, done: recs.length, this_run: run.thisRun, resumed: run.resumed, errors_this_run: run.errors.length, remaining: tasks.length - recs.length },
      rollouts: { total: rollouts, correct, accuracy: rate(correct, rollouts) },
      flagged: sum((r) => r.flagged),
      attempted,
      rectified,
      rectify_rate: rate(rectified, attempted),
      demos: { total: demosTotal, rectified: demosRectified, rollout: demosTotal - demosRectified, with_oracle_rewrite: sum((r) => r.rewritten) },
      first_error_hist: hist(recs.flatMap((r) => r.first_errors.map((f) => f.step))),
      error_kinds: hist(recs.flatMap((r) => r.first_errors.map((f) => f.kind))),
      rounds_hist: hist(okLoops.map((l) => l.rounds)),
      rounds_mean: rate(okLoops.reduce((a, l) => a + l.rounds, 0), okLoops.length),
      by_family: Object.fromEntries([...group((r) => r.family ?? 'none')].map(([k, rs]) => [k, agg(rs)])),
      by_horizon: Object.fromEntries([...group((r) => String(r.horizon ?? 'none'))].map(([k, rs]) => {
        const { flagged: _f, ...rest } = agg(rs);
        return [k, rest];
      })),
      judge_agreement: checks.length ? { compared: checks.length, exact: checks.filter((c) => c.judge === c.verifier).length, rate: rate(checks.filter((c) => c.judge === c.verifier).length, checks.length) } : null,
      errors: run.errors.slice(0, 50),
      aborted: run.aborted,
      output_repaired_bytes: run.repaired,
      wall_s: run.wall,
      ...(o.meta?.() ?? {}),
    };
  }
}

export async function runSynth(tasks: ReasonTask[], opts: SynthOptions): Promise<SynthSummary> {
  return new Synthesizer(opts).run(tasks);
}
