// Host-side token sampling from one row of logits: temperature, nucleus (top-p), greedy.
import type { Rng } from '../util/rng.js';

export interface SamplingOptions {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Nucleus mass in (0, 1]; 1 = sample from the full distribution. */
  topP: number;
}

/**
 * Picks a token and returns it with its log-probability under the tempered distribution
 * softmax(logits / temperature) before top-p truncation (temperature 1 when greedy), which
 * is the policy probability RL's importance ratios refer to.
 */
export function sampleToken(logits: Float32Array, offset: number, V: number, opts: SamplingOptions, rng: Rng): { token: number; logp: number } {
  const t = opts.temperature > 0 ? opts.temperature : 1;
  let maxv = -Infinity;
  for (let i = 0; i < V; i++) maxv = Math.max(maxv, logits[offset + i]! / t);
  const probs = scratch(V);
  let z = 0;
  for (let i = 0; i < V; i++) { probs[i] = Math.exp(logits[offset + i]! / t - maxv); z += probs[i]!; }
  for (let i = 0; i < V; i++) probs[i]! /= z;
  let token = 0;
  if (opts.temperature <= 0) {
    for (let i = 1; i < V; i++) if (probs[i]! > probs[token]!) token = i;
  } else if (opts.topP >= 1) {
    // The whole distribution, in token order (what the nucleus path does with mass 1).
    let r = rng.float();
    token = V - 1;
    for (let i = 0; i < V; i++) { r -= probs[i]!; if (r <= 0) { token = i; break; } }
  } else {
    const order = [...Array(V).keys()].sort((a, b) => probs[b]! - probs[a]!);
    let cum = 0;
    let k = 0;
    while (k < order.length && cum < opts.topP) cum += probs[order[k++]!]!;
    const nucleus = order.slice(0, Math.max(1, k));
    let r = rng.float() * cum;
    token = nucleus[nucleus.length - 1]!;
    for (const i of nucleus) { r -= probs[i]!; if (r <= 0) { token = i; break; } }
  }
  return { token, logp: Math.log(Math.max(probs[token]!, 1e-30)) };
}

// One probability buffer for every call: sampling runs once per row per decode step.
let probsBuffer = new Float64Array(0);
function scratch(V: number): Float64Array {
  if (probsBuffer.length < V) probsBuffer = new Float64Array(V);
  return probsBuffer;
}

/** The k most likely tokens with their log-probabilities under softmax(logits / temperature). */
export function topTokens(logits: Float32Array, offset: number, V: number, temperature: number, k: number): { token: number; logp: number }[] {
  const t = temperature > 0 ? temperature : 1;
  let maxv = -Infinity;
  for (let i = 0; i < V; i++) maxv = Math.max(maxv, logits[offset + i]! / t);
  let z = 0;
  for (let i = 0; i < V; i++) z += Math.exp(logits[offset + i]! / t - maxv);
  const lz = Math.log(z) + maxv;
  const idx = [...Array(V).keys()].sort((a, b) => logits[offset + b]! - logits[offset + a]!).slice(0, k);
  return idx.map((i) => ({ token: i, logp: logits[offset + i]! / t - lz }));
}
