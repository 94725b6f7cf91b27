// A policy checkpoint directory: model.safetensors (weights, and optimizer moments when
// saved for resuming), config.json ({ model, ...extra }) and tokenizer.json.
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { loadCheckpoint, saveCheckpoint, type NamedTensor } from '../engine/checkpoint.js';
import { AdamState } from '../engine/optim.js';
import { ParamStore } from '../engine/params.js';
import { validateVlmConfig, type VlmConfig } from './config.js';
import { Policy } from './policy.js';
import { Tokenizer } from './tokenizer.js';
import { readJsonFile } from '../util/fs.js';

export interface SavedPolicy { policy: Policy; extra: Record<string, unknown>; optimizer: AdamState | null }

// What the weights were trained with, kept in the weights file's own header so that an edit of
// config.json or tokenizer.json cannot silently pair the weights with another model or
// vocabulary. Checkpoints saved before these existed load without the checks.
const META_MODEL = 'ivr.model';
const META_TOKENIZER = 'ivr.tokenizer_sha256';

/** sha256 of the token id -> text mapping; a reordered character list changes it. */
function tokenizerFingerprint(t: Tokenizer): string {
  return createHash('sha256').update(JSON.stringify(t.toJson())).digest('hex');
}

/** The model config the weights depend on. maxText is left out: positions are ALiBi, so the
 *  context may be lengthened after training. */
function architecture(cfg: VlmConfig): Record<string, number> {
  const { maxText: _maxText, ...arch } = cfg;
  return arch;
}

export function savePolicy(dir: string, policy: Policy, extra: Record<string, unknown> = {}, optimizer?: AdamState): void {
  const tensors: NamedTensor[] = policy.params.toTensors();
  if (optimizer) tensors.push(...optimizer.toTensors(policy.params.specs));
  saveCheckpoint(dir, {
    tensors,
    config: { model: policy.cfg, ...extra, ...(optimizer ? { optimizer_step: optimizer.step } : {}) },
    extraFiles: { 'tokenizer.json': JSON.stringify(policy.tokenizer.toJson(), null, 2) + '\n' },
    metadata: { [META_MODEL]: JSON.stringify(architecture(policy.cfg)), [META_TOKENIZER]: tokenizerFingerprint(policy.tokenizer) },
  });
}

/** Refuses a config.json or tokenizer.json that differs from what the weights were trained with. */
function checkTrainedWith(dir: string, metadata: Record<string, string>, cfg: VlmConfig, tokenizer: Tokenizer): void {
  const problems: string[] = [];
  if (metadata[META_MODEL] !== undefined) {
    let trained: Record<string, unknown>;
    try { trained = JSON.parse(metadata[META_MODEL]) as Record<string, unknown>; } catch { throw new Error(`${path.join(dir, 'model.safetensors')}: metadata "${META_MODEL}" is not valid JSON`); }
    for (const [key, value] of Object.entries(trained)) {
      const now = (cfg as unknown as Record<string, unknown>)[key];
      if (now !== value) problems.push(`${path.join(dir, 'config.json')}: model.${key} is ${now} but the weights were trained with ${key} ${value}`);
    }
  }
  const want = metadata[META_TOKENIZER];
  if (want !== undefined && tokenizerFingerprint(tokenizer) !== want) {
    problems.push(`${path.join(dir, 'tokenizer.json')} is not the vocabulary the weights were trained with (fingerprint ${tokenizerFingerprint(tokenizer).slice(0, 12)}, trained with ${want.slice(0, 12)}): token ids would mean other characters`);
  }
  if (problems.length) throw new Error(`checkpoint ${dir} does not match its weights (restore the edited file):\n  ${problems.join('\n  ')}`);
}

export function loadPolicy(dir: string, threads?: number): SavedPolicy {
  // First the weights file itself: checksum and finite values.
  const ck = loadCheckpoint(dir);
  const raw = ck.config as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || !('model' in raw)) throw new Error(`${dir}/config.json: missing "model" section`);
  const cfg: VlmConfig = validateVlmConfig(raw.model, `${dir}/config.json model`);
  const tokenizer = Tokenizer.fromJson(readJsonFile(path.join(dir, 'tokenizer.json'), 'tokenizer'), `${dir}/tokenizer.json`);
  const specs = Policy.specs(cfg);
  const params = ParamStore.fromTensors(specs, ck.tensors);
  const known = new Set(specs.map((s) => s.name));
  for (const name of ck.tensors.keys()) {
    if (!known.has(name) && !name.endsWith('::m') && !name.endsWith('::v')) throw new Error(`${dir}: checkpoint has unexpected tensor "${name}" for this model config`);
  }
  const step = typeof raw.optimizer_step === 'number' ? raw.optimizer_step : null;
  const optimizer = step !== null ? AdamState.fromTensors(specs, ck.tensors, step) : null;
  const { model: _model, optimizer_step: _s, ...extra } = raw;
  const policy = new Policy(cfg, tokenizer, params, threads);
  checkTrainedWith(dir, ck.metadata, cfg, tokenizer);
  return { policy, extra, optimizer };
}
