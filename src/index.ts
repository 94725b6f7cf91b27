// The public API of the `ivr-r1` package: `import { ... } from 'ivr-r1'`.
//
// Everything a program needs to use the toolkit without the CLI: the task families (generate,
// split, verify, import/export), policy checkpoints (load/save), evaluation, the RL trainer
// (GRPO, Dr. GRPO, DAPO, LUFFY, IVR-R1) and the SFT trainer with their config loaders, the
// OpenAI-compatible server, the remote client and synthesis, and the bench report.
//
// Only names meant to stay are re-exported here; modules under dist/src/ are not part of the
// package's `exports` map, so internals (engine, graph compilation, schedulers) can change
// without breaking users. The few functions defined in this file are thin conveniences that
// the CLI does inline (wiring the IVR-R1 augmenter, reading an SFT or results file).
// IVR-R1's own config is the `ivr` block of a training config (src/ivr/config.ts): `rlDefaults('ivr')`, `IvrConfig`.
import * as fs from 'node:fs';
import { ivrAugmenter } from './ivr/method.js';
import { augmenterFor } from './ivr/methods.js';
import type { Policy } from './model/policy.js';
import { validateResults } from './report/results-schema.js';
import type { BenchResults } from './report/results.js';
import type { TrainConfig as RlConfig } from './ivr/config.js';
import { trainRl as trainRlWith, type TrainOptions } from './rl/trainer.js';
import { DEFAULT_SFT, type SftConfig } from './sft/config.js';
import type { RunDir } from './train/run-dir.js';
import { ConfigError } from './util/schema.js';

// ---- Tasks: families, splits, responses and their verification, files -------------------
export {
  FAMILY_IDS, SPLIT_IDS, FieldError,
  getFamily, isFamilyId, generateInstance,
  SPLITS, getSplit, splitEntry, splitHorizons, isSplitId,
  parseResponse, formatResponse, responsePrefix,
  promptText, goldResponse, instructionPrompt, verifyResponse, reward, oracleStep, FORMAT_BONUS,
  renderSmall, renderLarge, asciiRender, encodePng, decodePng,
  exportInstances, loadInstances, parseInstanceRecord, TaskFileError,
} from './tasks/index.js';
export type {
  FamilyId, SplitId, RgbImage, Instance, StepKind, StepCheck, StepVerdict, HorizonRange, TaskFamily,
  SplitSpec, ParsedResponse, Verification, InstanceRecord,
  GridScene, ShapesScene, ShapeObject, ChartScene, Bar,
} from './tasks/index.js';
/** Datasets other trainers read: TRL, verl (parquet), LLaMA-Factory, or our own JSONL. */
export { exportDataset, isExportFormat, EXPORT_FORMATS } from './tasks/export/index.js';
export type { ExportFormat } from './tasks/export/index.js';

// ---- Policies: the compact VLM and its checkpoints --------------------------------------
export { Policy } from './model/policy.js';
export type { GenerateRequest, GenerateOptions, Generation, Segment } from './model/policy.js';
export { DEFAULT_VLM, validateVlmConfig, type VlmConfig } from './model/config.js';
export { loadPolicy, savePolicy, type SavedPolicy } from './model/checkpoint-io.js';
/** Absolute path of the base policy shipped with the package (`checkpoints/base` of a clone). */
export { BASE_CHECKPOINT } from './util/package-paths.js';

// ---- Evaluation -------------------------------------------------------------------------
export { evaluatePolicy } from './eval/evaluate.js';
export type { EvalOptions, EvalReport, InstanceResult, Aggregate as EvalAggregate } from './eval/evaluate.js';

// ---- Configs: JSON or YAML files, `key.path=value` overrides; errors name file and key path --
export { ConfigError };
export { parseOverride, readConfigFile, type ConfigOverride } from './util/config-file.js';

// ---- RL post-training: GRPO, Dr. GRPO, DAPO, LUFFY, IVR-R1 -------------------------------
export { METHODS as RL_METHODS } from './rl/config.js';
// A training config is the RL config with every method's block (ivr/config.ts composes them).
export { trainDefaults as rlDefaults, parseTrainConfig as parseRlConfig, loadTrainConfig as loadRlConfig } from './ivr/config.js';
export type { RlMethod, ParseRlOptions } from './rl/config.js';
export type { TrainConfig as RlConfig, IvrConfig } from './ivr/config.js';
export type { Augmenter, AugmentContext, AugmentResult } from './rl/augment.js';
export type { Group, Sample } from './rl/rollout.js';
export type { RunDir };
/** IVR-R1's rectification step (screen → localize → Re-Reasoning Loop → inject), built from `cfg.ivr`. */
export { ivrAugmenter, augmenterFor };

/** Options of `trainRl`. `augmenter` may be left out: the method's own is built (`augmenterFor(cfg)`). */
export type RlTrainOptions = TrainOptions;

/**
 * RL post-training from the checkpoint `opts.init` into the run directory `opts.out`
 * (metrics.jsonl, config.json, checkpoints/). Same as `ivr train`: the method's augmenter
 * (LUFFY's gold demonstrations, IVR-R1's rectifications) is built from the config unless one is given.
 */
export async function trainRl(cfg: RlConfig, opts: RlTrainOptions): Promise<{ policy: Policy; run: RunDir }> {
  const augmenter = opts.augmenter ?? augmenterFor(cfg);
  return trainRlWith(cfg, { ...opts, augmenter });
}

// ---- SFT --------------------------------------------------------------------------------
export { parseSftConfig, loadSftConfig, type SftConfig } from './sft/config.js';
export { runSft, type SftOptions } from './sft/trainer.js';

/** The default SFT config (a fresh copy: changing it does not change the defaults). */
export function sftDefaults(): SftConfig {
  return structuredClone(DEFAULT_SFT);
}

// ---- Serving: an OpenAI-compatible chat-completions server over a policy ------------------
export { ChatServer, createChatServer } from './serve/server.js';
export type { ChatServerOptions, ModelCard } from './serve/server.js';

// ---- IVR-R1 as an environment service for OpenRLHF / verl / TRL (`ivr serve-env`) ---------
export { EnvServer, createEnvServer } from './serve-env/server.js';
export type { EnvServerOptions } from './serve-env/server.js';
export { Environment, feedbackText } from './serve-env/environment.js';
export type { VerifyReport, RectifyReport, StepReport, RectifyParams } from './serve-env/environment.js';

// ---- Remote models: OpenAI-compatible client, reasoners, IVR-R1 data synthesis ------------
export { OpenAIClient } from './client/client.js';
export type {
  ClientOptions, ChatBody, ChatMessageIn, ContentPart, ChatChoice, ChatCompletion, ModelInfo,
} from './client/client.js';
export { ApiError } from './wire/errors.js';
// The reasoner port: what ivr (the Re-Reasoning Loop, synthesis) and eval drive, behind which
// the local compact model and a remote VLM are interchangeable.
export type { Reasoner, SampleRequest, ContinueRequest, BatchOptions, Reply, SamplingParams } from './reasoner/reasoner.js';
export type { ReasonTask } from './reasoner/task.js';
export { instanceTask } from './reasoner/task.js';
export { LocalReasoner } from './reasoner/local-reasoner.js';
export { RemoteReasoner, describeModel } from './client/remote-reasoner.js';
export type { RemoteReasonerOptions, EndpointModel } from './client/remote-reasoner.js';
export { RemoteJudge, type RemoteJudgeOptions } from './client/judge.js';
export { loadRemoteTasks, fromInstance } from './client/task.js';
export type { RemoteTask, TaskImage, PromptFormat } from './client/task.js';
export { runSynth } from './ivr/synth.js';
export type { SynthOptions, SynthSummary, DemoFormat, LocalizerChoice } from './ivr/synth.js';

// ---- Benches and the report --------------------------------------------------------------
export { runBench, type BenchOptions } from './bench/runner.js';
export { planBench, planAblations, BENCH_METHODS, type RunSpec } from './bench/plan.js';
export { renderReport, SECTION_IDS as REPORT_SECTION_IDS, type ReportOptions } from './report/html.js';
export { validateResults, ResultsError } from './report/results-schema.js';
export { meanCi, diffCi } from './stats/interval.js';
export type { BenchResults, RunResult, SplitEval, CurvePoint, Ci } from './report/results.js';
// renderHtmlToPng (report/render-png.ts) is left out on purpose: it needs playwright-core and
// Debian's chromium, which are development dependencies; `ivr report --png` covers it.

/** Reads and validates a bench's results.json (the input of `renderReport`). */
export function loadResults(file: string): BenchResults {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) { throw new Error(`cannot read results file ${file}: ${(e as Error).message}`); }
  let json: unknown;
  try { json = JSON.parse(text); } catch (e) { throw new Error(`${file}: not valid JSON (${(e as Error).message})`); }
  return validateResults(json, file);
}
