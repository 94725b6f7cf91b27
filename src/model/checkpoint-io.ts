// A policy checkpoint directory: model.safetensors (weights, and optimizer moments when
// saved for resuming), config.json ({ model, ...extra }) and tokenizer.json.
import * as path from 'node:path';
import { loadCheckpoint, saveCheckpoint, type NamedTensor } from '../engine/checkpoint.js';
import { AdamState } from '../engine/optim.js';
import { ParamStore } from '../engine/params.js';
import { validateVlmConfig, type VlmConfig } from './config.js';
import { Policy } from './policy.js';
import { Tokenizer } from './tokenizer.js';
import { readJsonFile } from '../util/fs.js';

export interface SavedPolicy { policy: Policy; extra: Record<string, unknown>; optimizer: AdamState | null }

export function savePolicy(dir: string, policy: Policy, extra: Record<string, unknown> = {}, optimizer?: AdamState): void {
  const tensors: NamedTensor[] = policy.params.toTensors();
  if (optimizer) tensors.push(...optimizer.toTensors(policy.params.specs));
  saveCheckpoint(dir, {
    tensors,
    config: { model: policy.cfg, ...extra, ...(optimizer ? { optimizer_step: optimizer.step } : {}) },
    extraFiles: { 'tokenizer.json': JSON.stringify(policy.tokenizer.toJson(), null, 2) + '\n' },
  });
}

export function loadPolicy(dir: string, threads?: number): SavedPolicy {
  const raw = readJsonFile(path.join(dir, 'config.json'), 'checkpoint config') as Record<string, unknown>;
  if (typeof raw !== 'object' || raw === null || !('model' in raw)) throw new Error(`${dir}/config.json: missing "model" section`);
  const cfg: VlmConfig = validateVlmConfig(raw.model, `${dir}/config.json model`);
  const tokenizer = Tokenizer.fromJson(readJsonFile(path.join(dir, 'tokenizer.json'), 'tokenizer'), `${dir}/tokenizer.json`);
  const specs = Policy.specs(cfg);
  const ck = loadCheckpoint(dir);
  const params = ParamStore.fromTensors(specs, ck.tensors);
  const known = new Set(specs.map((s) => s.name));
  for (const name of ck.tensors.keys()) {
    if (!known.has(name) && !name.endsWith('::m') && !name.endsWith('::v')) throw new Error(`${dir}: checkpoint has unexpected tensor "${name}" for this model config`);
  }
  const step = typeof raw.optimizer_step === 'number' ? raw.optimizer_step : null;
  const optimizer = step !== null ? AdamState.fromTensors(specs, ck.tensors, step) : null;
  const { model: _model, optimizer_step: _s, ...extra } = raw;
  return { policy: new Policy(cfg, tokenizer, params, threads), extra, optimizer };
}
