#!/usr/bin/env node
// Per-step cost of KV-cached decoding as the policy runs it (Policy.runChunk: feeds, graph run,
// cache append; no sampling), on checkpoints/base: batch B, one new token per step, the cache
// growing from FROM to TO slots (default 100 → 200, the IVR-R1 Re-Reasoning Loop's range).
// Compares builds of the engine: BUILDS is a comma list of directories holding a built `dist`
// (default: this checkout); they run in turn, ROUNDS times (default 3), and each figure is the
// median over rounds of wall and process CPU ms per step. Every build is fed the same ids and
// its logits are compared bit for bit with the first build's.
//   MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=1073741824 IVR_THREADS=1 \
//     BATCH=4,8,64 BUILDS=/tmp/before,. node scripts/time-decode-steps.mjs
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const threads = Number(process.env.IVR_THREADS ?? 1);
const rounds = Number(process.env.ROUNDS ?? 3);
const from = Number(process.env.FROM ?? 100);
const to = Number(process.env.TO ?? 200);
const dirs = (process.env.BUILDS ?? '.').split(',');
const load = async (dir, mod) => import(pathToFileURL(path.resolve(dir, 'dist/src/model', mod)).href);
const builds = [];
for (const dir of dirs) {
  const { loadPolicy } = await load(dir, 'checkpoint-io.js');
  const { KvCache } = await load(dir, 'kv-cache.js');
  builds.push({ dir, policy: loadPolicy('checkpoints/base', threads).policy, KvCache });
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
console.log(`decode steps ${from} → ${to} slots, ${threads} thread(s), median of ${rounds} rounds, ms/step wall / CPU`);
for (const B of (process.env.BATCH ?? '4,8,64').split(',').map(Number)) {
  // One pass: a cache filled with `from` slots of fixed values, then to − from steps.
  const pass = async ({ policy, KvCache }) => {
    const cfg = policy.cfg;
    const cache = new KvCache(B, cfg.layers, cfg.heads, cfg.dim / cfg.heads, policy.cacheCapacity);
    cache.append(from, new Uint8Array(B * from).fill(1), Int32Array.from({ length: B * from }, (_, i) => i % from), (l) => {
      const a = Float32Array.from({ length: B * cfg.heads * from * (cfg.dim / cfg.heads) }, (_, i) => Math.sin(i + l) * 0.5);
      return [a, a.map((x) => -x)];
    });
    const valid = new Uint8Array(B).fill(1);
    let logits;
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    for (let s = from; s < to; s++) {
      const ids = BigInt64Array.from({ length: B }, (_, b) => BigInt((b * 7 + s) % 100));
      logits = await policy.runChunk(cache, { ids: { data: ids, shape: [B, 1] } }, 1, valid, Int32Array.from({ length: B }, () => s));
    }
    const c = process.cpuUsage(c0);
    cache.release();
    return { wall: (performance.now() - t0) / (to - from), cpu: (c.user + c.system) / 1000 / (to - from), logits };
  };
  const res = builds.map(() => ({ wall: [], cpu: [] }));
  const same = builds.map(() => true);
  for (const b of builds) await pass(b); // warm-up: sessions, buffers
  for (let r = 0; r < rounds; r++) {
    let ref;
    for (const [i, b] of builds.entries()) {
      const { wall, cpu, logits } = await pass(b);
      res[i].wall.push(wall);
      res[i].cpu.push(cpu);
      if (i === 0) ref = logits;
      else same[i] &&= Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength).equals(Buffer.from(ref.buffer, ref.byteOffset, ref.byteLength));
    }
  }
  console.log(`  batch ${String(B).padStart(2)}: ${builds.map((b, i) => `${b.dir} ${med(res[i].wall).toFixed(3)} / ${med(res[i].cpu).toFixed(3)}${i > 0 ? (same[i] ? ' (same logits)' : ' (LOGITS DIFFER)') : ''}`).join(', ')}`);
}
