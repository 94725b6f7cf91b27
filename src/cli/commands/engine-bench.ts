// `ivr engine-bench`: prints the engine's figures (MatMul peak, train step, decode) and,
// where a Python with torch is found, the PyTorch peer's on the same workloads in the same
// run, with the ratios.
import type { Command } from 'commander';
import { benchMatmul, benchTrainStep, BENCH_BATCH, BENCH_GPT } from '../../engine/throughput.js';
import { defaultThreads } from '../../engine/runtime.js';
import { benchDecode } from '../../model/decode-throughput.js';
import { findTorchPython, runTorchPeer, type TorchFigures } from '../../engine/torch-peer.js';
import { mallocTuned } from '../../util/malloc-tuning.js';
import { peakRssMiB } from '../../util/memory.js';
import { withExamples } from '../help.js';
import { integer } from '../options.js';

interface Options { threads?: number; json?: boolean; steps: number; torch: boolean }

export function configure(cmd: Command): void {
  cmd
    .description('Measures onnxruntime MatMul peak, the compiled GPT train step and KV-cache decoding.')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: $IVR_THREADS, else all cores)', integer(1))
    .option('--json', 'print one JSON object instead of a table')
    .option('--steps <n>', 'timed train steps (median reported)', integer(1), 12)
    .option('--no-torch', 'skip the PyTorch peer (bench/torch_reference.py)')
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, ['ivr engine-bench', 'ivr engine-bench --threads 2 --json', 'IVR_TORCH_PYTHON=/usr/bin/python3 ivr engine-bench']);
}

async function run(o: Options): Promise<number> {
  const threads = o.threads ?? defaultThreads();
  const log = o.json ? () => {} : (s: string) => console.log(s);
  log(`ivr engine-bench: ${threads} thread(s), glibc malloc tuning ${mallocTuned() ? 'on' : 'off (start through bin/ivr or set GLIBC_TUNABLES; see src/util/malloc-tuning.ts)'}`);
  const mm = [await benchMatmul(6144, 128, 512, threads), await benchMatmul(6144, 512, 128, threads)];
  for (const f of mm) log(`  MatMul [${f.m}x${f.k}]·[${f.k}x${f.n}]: ${f.ms.toFixed(2)} ms, ${f.gflops.toFixed(1)} GFLOP/s`);
  const peak = Math.max(...mm.map((f) => f.gflops));
  const tr = await benchTrainStep(threads, o.steps);
  const ratio = tr.gflops / peak;
  log(`  GPT train step (vocab ${BENCH_GPT.vocab}, d ${BENCH_GPT.dim}, ${BENCH_GPT.layers} layers, ${BENCH_GPT.heads} heads, ctx ${BENCH_GPT.context}, batch ${BENCH_BATCH}, ${tr.params} params):`);
  log(`    ${tr.ms.toFixed(1)} ms/step, ${Math.round(tr.tokensPerS)} tokens/s, ${tr.gflops.toFixed(1)} GFLOP/s (loss ${tr.lossFirst.toFixed(3)} -> ${tr.lossLast.toFixed(3)})`);
  log(`    FLOPs = 3 x forward matmul FLOPs (weights 2·N per token + attention 4·T·D per layer per token) = ${(tr.flopsPerStep / 1e9).toFixed(2)} GFLOP/step`);
  log(`  train step / MatMul peak: ${(100 * ratio).toFixed(1)}%`);
  const dec = await benchDecode(threads);
  log(`  decode (default VLM, batch ${dec.batch}, ${dec.newTokens} new tokens): KV cache ${Math.round(dec.kvTokensPerS)} tokens/s (${dec.kvSeconds.toFixed(1)} s; ${dec.workers} decode worker(s), shared context), no cache ${Math.round(dec.noKvTokensPerS)} tokens/s (${dec.noKvSeconds.toFixed(1)} s), ${(dec.kvTokensPerS / dec.noKvTokensPerS).toFixed(1)}x`);
  log(`    one process: ${Math.round(dec.oneProcessTokensPerS)} tokens/s; one process, every row its own cache (the peer's method): ${Math.round(dec.perRowCacheTokensPerS)} tokens/s`);
  const peakMiB = peakRssMiB();
  log(`  peak RSS: ${peakMiB.toFixed(0)} MiB`);
  let peer: TorchFigures | null = null;
  let peerNote = 'skipped (--no-torch)';
  if (o.torch) {
    const found = findTorchPython();
    if ('unavailable' in found) peerNote = found.unavailable;
    else {
      log(`  PyTorch peer (bench/torch_reference.py, same shapes, 1..${threads} threads, best of each):`);
      peer = runTorchPeer(found.python, threads, o.steps, log);
      peerNote = `torch ${peer.torch}, BLAS ${peer.blas}`;
      log(`    ${peerNote}`);
      log(`  ours / PyTorch: train step ${(tr.tokensPerS / peer.trainTokensPerS).toFixed(2)}x (torch at ${peer.trainThreads} thread(s)), decode ${(dec.kvTokensPerS / peer.decodeTokensPerS).toFixed(2)}x (torch at ${peer.decodeThreads}; ${(dec.perRowCacheTokensPerS / peer.decodeTokensPerS).toFixed(2)}x by the same method)`);
    }
    if (!peer) log(`  PyTorch peer: ${peerNote}`);
  }
  if (o.json) {
    console.log(JSON.stringify({
      threads, malloc_tuned: mallocTuned(), matmul_gflops: peak, matmul: mm, train_step_ms: tr.ms, train_tokens_per_s: tr.tokensPerS,
      train_gflops: tr.gflops, train_flops_per_step: tr.flopsPerStep, train_to_matmul_ratio: ratio, params: tr.params,
      decode_tokens_per_s: dec.kvTokensPerS, decode_tokens_per_s_nokv: dec.noKvTokensPerS, decode_batch: dec.batch, decode_new_tokens: dec.newTokens,
      decode_workers: dec.workers, decode_tokens_per_s_one_process: dec.oneProcessTokensPerS, decode_tokens_per_s_per_row_cache: dec.perRowCacheTokensPerS,
      torch_train_tokens_per_s: peer?.trainTokensPerS ?? null, torch_train_step_ms: peer?.trainStepMs ?? null, torch_train_threads: peer?.trainThreads ?? null,
      torch_decode_tokens_per_s: peer?.decodeTokensPerS ?? null, torch_decode_threads: peer?.decodeThreads ?? null,
      train_speedup_vs_torch: peer ? tr.tokensPerS / peer.trainTokensPerS : null,
      decode_speedup_vs_torch: peer ? dec.kvTokensPerS / peer.decodeTokensPerS : null,
      decode_speedup_vs_torch_same_method: peer ? dec.perRowCacheTokensPerS / peer.decodeTokensPerS : null,
      torch_peer: peerNote, torch_runs: peer?.runs ?? [],
      peak_rss_mb: (peakMiB * 2 ** 20) / 1e6, peak_rss_mib: peakMiB,
    }));
  }
  return 0;
}
