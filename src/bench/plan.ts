// What a bench runs: one entry per (method or ablation variant, seed), each with the
// config it trains with. Variants of IVR-R1 are config overrides, never code changes.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_EXTENSIONS, readConfigFile } from '../util/config-file.js';

export interface RunSpec {
  /** Method or variant name shown in the report ("grpo", "ivr-noloc", ...). */
  name: string;
  kind: 'rl' | 'sft';
  /** The RL method the trainer runs (for ablations: "ivr"). */
  method: string;
  seed: number;
  /** The config, with the seed already set; written into the run directory. */
  config: Record<string, unknown>;
}

export const BENCH_METHODS = ['sft', 'grpo', 'drgrpo', 'dapo', 'luffy', 'ivr'] as const;

/** IVR-R1 ablations of the IVR-R1 issue, each a set of overrides of configs/bench/ivr.json. */
export const ABLATIONS: Record<string, Record<string, unknown>> = {
  ivr: {},
  'ivr-noloc': { localizer: 'none' },
  'ivr-oracle': { rectifier: 'oracle' },
  'ivr-resample': { rectifier: 'resample' },
  'ivr-nocredit': { step_credit: false },
  'ivr-noshaping': { shaping: false },
  'ivr-j1': { rounds: 1 },
  'ivr-adaptive': { rectifier: 'adaptive' },
};

/** `<configDir>/<name>.json` (or .yaml / .yml), read but not yet validated (the trainer does). */
function readConfig(configDir: string, name: string): Record<string, unknown> {
  const candidates = CONFIG_EXTENSIONS.map((ext) => path.join(configDir, `${name}${ext}`));
  const file = candidates.find((f) => fs.existsSync(f));
  if (!file) throw new Error(`bench: no config for "${name}": none of ${candidates.join(', ')} exists`);
  return readConfigFile(file) as Record<string, unknown>;
}

export function planBench(methods: string[], seeds: number, configDir: string): RunSpec[] {
  const out: RunSpec[] = [];
  for (const m of methods) {
    if (!(BENCH_METHODS as readonly string[]).includes(m)) throw new Error(`bench: unknown method "${m}" (known: ${BENCH_METHODS.join(', ')})`);
    const base = readConfig(configDir, m);
    for (let s = 0; s < seeds; s++) out.push({ name: m, kind: m === 'sft' ? 'sft' : 'rl', method: m, seed: s, config: { ...base, seed: s } });
  }
  return out;
}

export function planAblations(variants: string[], seeds: number, configDir: string): RunSpec[] {
  const base = readConfig(configDir, 'ivr');
  const out: RunSpec[] = [];
  for (const v of variants) {
    const o = ABLATIONS[v];
    if (!o) throw new Error(`bench: unknown ablation "${v}" (known: ${Object.keys(ABLATIONS).join(', ')})`);
    for (let s = 0; s < seeds; s++) {
      out.push({ name: v, kind: 'rl', method: 'ivr', seed: s, config: { ...base, seed: s, ivr: { ...(base.ivr as object), ...o } } });
    }
  }
  return out;
}
