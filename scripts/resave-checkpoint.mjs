#!/usr/bin/env node
// Re-saves a policy checkpoint with the current format (weights checksum, what-it-was-
// trained-with fingerprints in the weights header), keeping its config extras; optimizer
// moments are dropped (a released base is for starting runs, not for resuming SFT).
// Usage: node scripts/resave-checkpoint.mjs DIR   (requires a build: npm run build)
import { loadPolicy, savePolicy } from '../dist/src/model/checkpoint-io.js';
const dir = process.argv[2];
if (!dir) { console.error('usage: node scripts/resave-checkpoint.mjs DIR'); process.exit(2); }
const { policy, extra } = loadPolicy(dir);
savePolicy(dir, policy, extra);
console.log(`${dir}: re-saved with checksum and fingerprints`);
