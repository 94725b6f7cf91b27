// A deterministic synthetic BenchResults for the report tests: several methods × seeds, three
// families with test and OOD horizons, training curves and IVR-R1 diagnostics. Numbers come
// from a seeded PRNG, so every build of the fixture is identical.
import type { Aggregate, BenchResults, CurvePoint, RunResult, SplitEval } from '../../src/report/results.js';
import { summarizeAll } from '../../src/report/compare.js';
import { Rng } from '../../src/util/rng.js';

function mulberry32(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.float();
}

function hash(s: string): number {
  let h = 2166136261;
  for (const ch of s) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

export const FAMILIES: { family: string; test: number[]; ood: number[]; difficulty: number }[] = [
  { family: 'grid', test: range(2, 10), ood: range(12, 24), difficulty: 0.09 },
  { family: 'shapes', test: range(2, 6), ood: range(7, 10), difficulty: 0.16 },
  { family: 'chart', test: range(2, 7), ood: range(8, 12), difficulty: 0.12 },
];

function range(a: number, b: number): number[] {
  return Array.from({ length: b - a + 1 }, (_, i) => a + i);
}

/** Per-method strength (probability scale at horizon 0) and grounding. */
export const SKILL: Record<string, { skill: number; ground: number; erosion: number }> = {
  base: { skill: 0.62, ground: 0.8, erosion: 1.0 },
  sft: { skill: 0.7, ground: 0.84, erosion: 0.95 },
  grpo: { skill: 0.8, ground: 0.86, erosion: 0.9 },
  drgrpo: { skill: 0.81, ground: 0.86, erosion: 0.88 },
  dapo: { skill: 0.83, ground: 0.87, erosion: 0.86 },
  luffy: { skill: 0.85, ground: 0.88, erosion: 0.82 },
  ivr: { skill: 0.93, ground: 0.94, erosion: 0.62 },
};

const PER_HORIZON = 24;

function agg(n: number, acc: number, ground: number, rnd: () => number): Aggregate {
  return {
    n, accuracy: acc, pass_at_k: Math.min(1, acc + 0.05 + 0.05 * rnd()),
    grounding_fidelity: ground, format_validity: Math.min(1, 0.9 + 0.1 * rnd()), mean_length: 40 + 30 * rnd(),
  };
}

function pool(parts: Aggregate[]): Aggregate {
  const n = parts.reduce((a, p) => a + p.n, 0);
  const w = (k: keyof Aggregate) => parts.reduce((a, p) => a + p[k] * p.n, 0) / n;
  return { n, accuracy: w('accuracy'), pass_at_k: w('pass_at_k'), grounding_fidelity: w('grounding_fidelity'), format_validity: w('format_validity'), mean_length: w('mean_length') };
}

function splitEval(method: string, seed: number, split: 'test' | 'ood'): SplitEval {
  const rnd = mulberry32(hash(`${method}/${seed}/${split}`));
  const sk = SKILL[method] ?? { skill: 0.75, ground: 0.85, erosion: 0.9 };
  const byHorizon: SplitEval['by_horizon'] = [];
  const hist: Record<string, number> = {};
  let outcomes = '';
  const instances: NonNullable<SplitEval['instances']> = [];
  for (const f of FAMILIES) {
    for (const h of f[split]) {
      const p = Math.max(0, Math.min(1, sk.skill * Math.exp(-f.difficulty * h * sk.erosion) + (rnd() - 0.5) * 0.08));
      const correct = Math.round(p * PER_HORIZON);
      const ground = Math.max(0, Math.min(1, sk.ground - 0.012 * h * sk.erosion + (rnd() - 0.5) * 0.03));
      // first errors: correct → none; others spread over the steps, earlier for stronger erosion
      const fh: Record<string, number> = {};
      if (correct) fh.none = correct;
      for (let i = 0; i < PER_HORIZON - correct; i++) {
        const u = rnd();
        const step = u < 0.15 ? h : Math.min(h - 1, Math.floor(h * u ** (1 / sk.erosion) * 0.999));
        fh[String(step)] = (fh[String(step)] ?? 0) + 1;
      }
      for (const [k, v] of Object.entries(fh)) hist[k] = (hist[k] ?? 0) + v;
      // per-instance outcomes: the easier instances of a horizon block are the ones solved
      outcomes += '1'.repeat(correct) + '0'.repeat(PER_HORIZON - correct);
      for (let i = 0; i < PER_HORIZON; i++) instances.push({ id: `${f.family}-${split}-${h}-${i}`, family: f.family, horizon: h });
      byHorizon.push({ family: f.family, horizon: h, first_error_hist: fh, ...agg(PER_HORIZON, correct / PER_HORIZON, ground, rnd) });
    }
  }
  const byFamily = FAMILIES.map((f) => ({ family: f.family, ...pool(byHorizon.filter((b) => b.family === f.family)) }));
  return { ...pool(byHorizon), first_error_hist: hist, by_family: byFamily, by_horizon: byHorizon, correct: outcomes, instances };
}

/** Drops per-instance data, as in results files written before it existed. */
function withoutOutcomes(e: SplitEval): SplitEval {
  const { correct: _c, instances: _i, ...rest } = e;
  return rest;
}

function curve(method: string, seed: number, budget: number, iters: number): CurvePoint[] {
  const rnd = mulberry32(hash(`${method}/${seed}/curve`));
  const sk = SKILL[method] ?? { skill: 0.75, ground: 0.85, erosion: 0.9 };
  const start = SKILL.base!.skill * 0.6;
  const target = sk.skill * 0.6;
  const out: CurvePoint[] = [];
  let tokens = 0;
  for (let it = 0; it <= iters; it++) {
    const prog = 1 - Math.exp(-3 * it / iters);
    const acc = start + (target - start) * prog;
    const p: CurvePoint = {
      iter: it, gen_tokens_total: Math.round(tokens),
      reward_mean: acc + 0.08 + (rnd() - 0.5) * 0.04,
      accuracy: Math.max(0, acc + (rnd() - 0.5) * 0.05),
    };
    if (it % 3 === 0) p.val_accuracy = Math.max(0, acc + (rnd() - 0.5) * 0.03);
    if (method.startsWith('ivr')) {
      p.ivr_flagged = Math.round(20 * (1 - 0.6 * prog) + rnd() * 4);
      p.ivr_rectify_rate = Math.min(1, 0.35 + 0.4 * prog + (rnd() - 0.5) * 0.08);
      p.ivr_demo_token_frac = Math.max(0, 0.22 * (1 - 0.5 * prog) + (rnd() - 0.5) * 0.03);
      p.ivr_loop_tokens = Math.round(3000 * (1 - 0.5 * prog) + rnd() * 400);
    }
    out.push(p);
    tokens += (budget / iters) * (0.97 + 0.06 * rnd());
  }
  return out.filter((p) => p.gen_tokens_total <= budget * 1.02);
}

export interface FixtureOptions {
  methods?: string[];
  seeds?: number[];
  kind?: 'bench' | 'ablations';
  iters?: number;
  budget?: number;
  /** Per-instance outcomes (default true); false builds an old-style file. */
  outcomes?: boolean;
}

export function buildResults(o: FixtureOptions = {}): BenchResults {
  const methods = o.methods ?? ['sft', 'grpo', 'drgrpo', 'dapo', 'luffy', 'ivr'];
  const seeds = o.seeds ?? [0, 1, 2];
  const budget = o.budget ?? 2_000_000;
  const iters = o.iters ?? 40;
  const runs: RunResult[] = [];
  // the instance list lives on the base evaluation only, as the bench writes it
  const evalOf = (m: string, s: number, split: 'test' | 'ood') => {
    const e = splitEval(m, s, split);
    if (o.outcomes === false) return withoutOutcomes(e);
    const { instances: _i, ...rest } = e;
    return m === 'base' ? e : rest;
  };
  for (const m of methods) {
    for (const s of seeds) {
      const c = curve(m, s, budget, iters);
      runs.push({
        method: m, seed: s, run_dir: `runs/bench/${m}-s${s}`, wall_s: 600 + 37 * s + m.length * 11,
        gen_tokens_total: c[c.length - 1]!.gen_tokens_total, curve: c,
        eval: { test: evalOf(m, s, 'test'), ood: evalOf(m, s, 'ood') },
      });
    }
  }
  return {
    kind: o.kind ?? 'bench',
    created: '2025-01-01T00:00:00.000Z',
    command: `ivr bench --methods ${methods.join(',')} --seeds ${seeds.length} --budget-tokens ${budget}`,
    commit: '0123456789abcdef0123456789abcdef01234567',
    machine: 'fixture: 16 cores, no accelerator',
    budget_tokens: budget,
    methods, seeds,
    base: { eval: { test: evalOf('base', 0, 'test'), ood: evalOf('base', 0, 'ood') } },
    runs,
    summary: summarizeAll(runs),
  };
}
