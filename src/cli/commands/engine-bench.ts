// `ivr engine-bench`: prints the engine's figures (MatMul peak, train step, ratio).
import type { Command } from 'commander';
import { benchMatmul, benchTrainStep, BENCH_BATCH, BENCH_GPT } from '../../engine/bench.js';
import { defaultThreads } from '../../engine/runtime.js';
import { benchDecode } from '../../model/decode-bench.js';
import { peakRssMiB } from '../../util/memory.js';
import { withExamples } from '../help.js';
import { integer } from '../options.js';

interface Options { threads?: number; json?: boolean; steps: number }

export function configure(cmd: Command): void {
  cmd
    .description('Measures onnxruntime MatMul peak, the compiled GPT train step and KV-cache decoding.')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: $IVR_THREADS, else all cores)', integer(1))
    .option('--json', 'print one JSON object instead of a table')
    .option('--steps <n>', 'timed train steps (median reported)', integer(1), 12)
    .action(async (o: Options) => { process.exitCode = await run(o); });
  withExamples(cmd, ['ivr engine-bench', 'ivr engine-bench --threads 4 --json']);
}

async function run(o: Options): Promise<number> {
  const threads = o.threads ?? defaultThreads();
  const log = o.json ? () => {} : (s: string) => console.log(s);
  log(`ivr engine-bench: ${threads} thread(s)`);
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
  log(`  decode (default VLM, batch ${dec.batch}, ${dec.newTokens} new tokens): KV cache ${Math.round(dec.kvTokensPerS)} tokens/s (${dec.kvSeconds.toFixed(1)} s), no cache ${Math.round(dec.noKvTokensPerS)} tokens/s (${dec.noKvSeconds.toFixed(1)} s), ${(dec.kvTokensPerS / dec.noKvTokensPerS).toFixed(1)}x`);
  log(`  peak RSS: ${peakRssMiB().toFixed(0)} MiB`);
  if (o.json) {
    console.log(JSON.stringify({
      threads, matmul_gflops: peak, matmul: mm, train_step_ms: tr.ms, train_tokens_per_s: tr.tokensPerS,
      train_gflops: tr.gflops, train_flops_per_step: tr.flopsPerStep, train_to_matmul_ratio: ratio, params: tr.params,
      decode_tokens_per_s_kv: dec.kvTokensPerS, decode_tokens_per_s_nokv: dec.noKvTokensPerS, decode_batch: dec.batch, decode_new_tokens: dec.newTokens,
      peak_rss_mib: peakRssMiB(),
    }));
  }
  return 0;
}
