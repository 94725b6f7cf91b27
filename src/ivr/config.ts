// IVR-R1's own config: the `ivr` block of a training config (DESIGN §7), its schema, defaults
// and strategy names, composed into the RL config (rl/config.ts ConfigExtension). The parser
// of training configs lives here because it is the one place that knows every method's block:
// `ivr train`, the bench and the library parse with parseTrainConfig / loadTrainConfig.
import { z } from 'zod';
import {
  loadRlConfig, parseRlConfig, rlConfigJsonSchema, rlDefaults,
  type ConfigExtension, type ParseRlOptions, type RlConfig, type RlMethod,
} from '../rl/config.js';
import type { ConfigOverride } from '../util/config-file.js';
import { MAX_BATCH_SEQUENCES } from '../util/limits.js';

/** Rectifier names (ivr/rectifiers.ts holds the strategies). */
export const RECTIFIER_NAMES = ['re-ground', 'resample', 'oracle', 'adaptive'] as const;
/** Injector names (ivr/inject.ts holds the strategies). */
export const INJECTOR_NAMES = ['member', 'likelihood', 'prefix'] as const;
/** Localizer names (ivr/localize.ts holds the strategies). */
export const LOCALIZER_NAMES = ['verifier', 'none'] as const;

export const ivrSchema = z.strictObject({
  /** Rollouts with reward < tau are flagged for rectification. */
  tau: z.number(),
  /** M: at most this many rectifications per iteration (there are at most P × G rollouts). */
  max_rectifications: z.int().min(0).max(MAX_BATCH_SEQUENCES),
  /** J: Re-Reasoning Loop rounds per flagged rollout (each round re-generates). */
  rounds: z.int().min(1).max(64),
  /** 'verifier' = first eroded step from the step verifier; 'none' = rectify from the start. */
  localizer: z.enum(LOCALIZER_NAMES),
  /** 're-ground' = continue with the image re-inserted; 'resample' = continue without it;
   *  'oracle' = rewrite eroded steps from the scene prior only;
   *  'adaptive' = re-ground, but rewrite a step-0 erosion from the prior first (k* = 0). */
  rectifier: z.enum(RECTIFIER_NAMES),
  /** When the loop's rounds run out, rewrite the eroded step from the prior and continue. */
  oracle_fallback: z.boolean(),
  /** Negative advantage applies only from the eroded step on (verified prefix not punished). */
  step_credit: z.boolean(),
  /** Rewritten tokens use policy shaping (false: they are scored like sampled tokens); 'member' only. */
  shaping: z.boolean(),
  /** How a rectified trajectory enters the update (ivr/inject.ts): 'member' of its group's
   *  advantages, 'likelihood' (an auxiliary λ·NLL apart from the advantages), or 'prefix'
   *  (its first rewritten step is a hint the policy continues from; NLL on that step). */
  inject: z.enum(INJECTOR_NAMES),
  /** G': continuations sampled from each hint ('prefix' only). */
  prefix_samples: z.int().min(1).max(64),
  /** λ of the 'likelihood' injection: the loss gets λ · mean NLL over demonstration tokens. */
  demo_nll: z.number().min(0),
  /** Replay (ivr/replay.ts): rectified trajectories of hard prompts (no right rollout in the
   *  group) kept and trained again in later iterations as NLL demonstrations (weight demo_nll).
   *  per_iter 0 = off. */
  replay: z.strictObject({
    /** Trajectories replayed per iteration. */
    per_iter: z.int().min(0).max(MAX_BATCH_SEQUENCES),
    /** Buffer size; the oldest leave first. */
    capacity: z.int().min(1).max(100_000),
    /** An entry leaves after this many replays. */
    max_uses: z.int().min(1).max(1000),
  }),
});

export type IvrConfig = z.infer<typeof ivrSchema>;

export const IVR_DEFAULTS: IvrConfig = {
  tau: 0.5,
  max_rectifications: 8,
  rounds: 3,
  localizer: 'verifier',
  rectifier: 're-ground',
  oracle_fallback: true,
  step_credit: true,
  shaping: true,
  inject: 'member',
  prefix_samples: 4,
  demo_nll: 1,
  replay: { per_iter: 0, capacity: 1024, max_uses: 4 },
};

export const IVR_EXTENSION: ConfigExtension<IvrConfig> = { key: 'ivr', method: 'ivr', schema: ivrSchema, defaults: IVR_DEFAULTS };

/** A training config: the RL config with every method's block (today IVR-R1's). */
export type TrainConfig = RlConfig & { ivr: IvrConfig };

const EXTENSIONS: readonly ConfigExtension[] = [IVR_EXTENSION as ConfigExtension];

/** Validates a parsed JSON training config (see parseRlConfig); the `ivr` block is checked here. */
export function parseTrainConfig(json: unknown, source: string, opts: ParseRlOptions = {}): TrainConfig {
  return parseRlConfig(json, source, opts, EXTENSIONS) as TrainConfig;
}

/** Reads, applies `--set` overrides and validates a training config file (JSON or YAML). */
export function loadTrainConfig(file: string, opts: ParseRlOptions = {}, overrides: readonly ConfigOverride[] = []): TrainConfig {
  return loadRlConfig(file, opts, overrides, EXTENSIONS) as TrainConfig;
}

/** The full default training config of a method. */
export function trainDefaults(method: RlMethod): TrainConfig {
  return rlDefaults(method, EXTENSIONS) as TrainConfig;
}

/** The JSON Schema of training config files (docs/schema/rl-config.schema.json). */
export function trainConfigJsonSchema(): Record<string, unknown> {
  return rlConfigJsonSchema(EXTENSIONS);
}
