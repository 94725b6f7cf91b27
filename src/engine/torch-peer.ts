// The PyTorch peer of `ivr engine-bench`: runs bench/torch_reference.py (the same train
// step and decode workloads, same shapes, eager PyTorch) in a child Python, so the engine's
// figures are read as ratios measured in one run. Optional: where no Python with torch is
// found the bench says so and reports the engine alone. Never used by the product.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** bench/torch_reference.py at the package root (dist/src/engine/ -> ../../../). */
export const TORCH_REFERENCE = fileURLToPath(new URL('../../../bench/torch_reference.py', import.meta.url));

export interface TorchFigures {
  python: string;
  torch: string;
  blas: string;
  /** Best over the thread counts tried, each figure at its own best count. */
  trainTokensPerS: number;
  trainStepMs: number;
  trainThreads: number;
  decodeTokensPerS: number;
  decodeThreads: number;
  /** Every run, for the record. */
  runs: Record<string, unknown>[];
}

// OpenBLAS tuning variables set for other programs would mis-tune the peer (the issue that
// asked for this peer measured it); it runs with OpenBLAS's own detection.
const PEER_ENV_DROP = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'];

function peerEnv(threads: number, blasThreads = threads): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(blasThreads) };
  for (const k of PEER_ENV_DROP) delete env[k];
  return env;
}

/** The first Python that imports torch: $IVR_TORCH_PYTHON, else python3, else Debian's /usr/bin/python3. */
export function findTorchPython(): { python: string } | { unavailable: string } {
  const candidates = process.env.IVR_TORCH_PYTHON ? [process.env.IVR_TORCH_PYTHON] : ['python3', '/usr/bin/python3'];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8', env: peerEnv(1), timeout: 60_000 });
    if (r.status === 0) return { python };
  }
  return { unavailable: `no Python with torch among ${candidates.join(', ')} (Debian: apt-get install python3-torch libopenblas0-pthread; or set IVR_TORCH_PYTHON)` };
}

/**
 * Runs the reference at 1..maxThreads torch threads and keeps each workload's best. Above
 * one thread it also runs with OpenBLAS single-threaded: torch's OpenMP pool and OpenBLAS's
 * own threads otherwise share the cores (measured on 2 cores: 2 threads of each ran the
 * train step at 696 ms against 464 ms at 1 thread).
 */
export function runTorchPeer(python: string, maxThreads: number, steps: number, log: (s: string) => void = () => {}): TorchFigures {
  if (!fs.existsSync(TORCH_REFERENCE)) throw new Error(`torch peer: ${TORCH_REFERENCE} is missing`);
  const runs: Record<string, unknown>[] = [];
  const settings = Array.from({ length: maxThreads }, (_, i) => i + 1).flatMap((t) => (t === 1 ? [[1, 1]] : [[t, t], [t, 1]]));
  for (const [t, blas] of settings as [number, number][]) {
    const label = `${t} thread(s), OpenBLAS ${blas}`;
    const r = spawnSync(python, [TORCH_REFERENCE, '--threads', String(t), '--steps', String(steps)], { encoding: 'utf8', env: peerEnv(t, blas), timeout: 600_000 });
    if (r.status !== 0) throw new Error(`torch peer at ${label} exited with ${r.status ?? r.signal}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
    const line = r.stdout.trim().split('\n').pop() ?? '';
    let fig: Record<string, unknown>;
    try { fig = JSON.parse(line) as Record<string, unknown>; } catch { throw new Error(`torch peer at ${label} printed no JSON: ${line.slice(0, 200)}`); }
    for (const k of ['train_tokens_per_s', 'train_step_ms', 'decode_tokens_per_s']) {
      if (typeof fig[k] !== 'number' || !Number.isFinite(fig[k])) throw new Error(`torch peer at ${label}: "${k}" is not a finite number`);
    }
    fig.blas_threads = blas;
    log(`    torch ${label}: train ${(fig.train_step_ms as number).toFixed(1)} ms/step, ${Math.round(fig.train_tokens_per_s as number)} tokens/s; decode ${Math.round(fig.decode_tokens_per_s as number)} tokens/s`);
    runs.push(fig);
  }
  const best = (k: string) => runs.reduce((a, r) => ((r[k] as number) > (a[k] as number) ? r : a));
  const tr = best('train_tokens_per_s');
  const dec = best('decode_tokens_per_s');
  return {
    python, torch: String(runs[0]!.torch), blas: String(runs[0]!.blas),
    trainTokensPerS: tr.train_tokens_per_s as number, trainStepMs: tr.train_step_ms as number, trainThreads: tr.threads as number,
    decodeTokensPerS: dec.decode_tokens_per_s as number, decodeThreads: dec.threads as number,
    runs,
  };
}
