#!/usr/bin/env node
// Installs onnxruntime-node's CUDA execution provider when it can be useful, and never
// fails the surrounding `npm ci`.
//
// Why: onnxruntime-node ships its CPU binaries inside the npm package, but its own
// postinstall fetches the CUDA provider from a NuGet feed. On an offline machine (only the
// npm registry reachable) that download fails and takes `npm ci` down with it, so
// package.json's `allowScripts` denies onnxruntime-node's install script (npm >= 11.16; older
// npm needs ONNXRUNTIME_NODE_INSTALL=skip in the environment) and this script does the same
// download instead:
//   - automatically on linux/x64 when an NVIDIA driver is visible (nvidia-smi or
//     /proc/driver/nvidia), which is the only case where the provider is usable;
//   - always with `npm run install:cuda` (--force);
//   - never when IVR_SKIP_CUDA=1, or (without --force) when ONNXRUNTIME_NODE_INSTALL=skip,
//     onnxruntime-node's own switch, so that a user who turned its download off gets none here.
// A failed download prints one line and exits 0: the CPU engine works regardless.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const force = process.argv.includes('--force');
const log = (msg) => console.log(`[ivr-r1] ${msg}`);

function hasNvidiaDriver() {
  if (existsSync('/proc/driver/nvidia/version')) return true;
  const probe = spawnSync('nvidia-smi', ['-L'], { stdio: 'ignore', timeout: 10_000 });
  return probe.status === 0;
}

function main() {
  if (process.env.IVR_SKIP_CUDA === '1') return;
  if (!force && process.env.ONNXRUNTIME_NODE_INSTALL === 'skip') return;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    if (force) log('the CUDA execution provider is only distributed for linux/x64');
    return;
  }
  if (!force && !hasNvidiaDriver()) return;
  let installer;
  try {
    const require = createRequire(import.meta.url);
    installer = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'script', 'install.js');
  } catch {
    log('onnxruntime-node is not installed yet; run `npm run install:cuda` after `npm ci`');
    return;
  }
  const env = { ...process.env };
  // onnxruntime-node's installer reads these before its command line, so a "skip" in them
  // (a user's environment or .npmrc) would win over the flag we pass.
  delete env.npm_config_onnxruntime_node_install;
  delete env.ONNXRUNTIME_NODE_INSTALL;
  log('installing the onnxruntime CUDA execution provider (needs network access to the NuGet feed)');
  const run = spawnSync(process.execPath, [installer, '--onnxruntime-node-install=cuda12'], {
    env, stdio: 'inherit', timeout: 600_000,
  });
  if (run.status !== 0) {
    log('CUDA provider not installed (offline?); the CPU engine is unaffected. Retry later with `npm run install:cuda`.');
  }
}

main();
