// The PyTorch peer of `ivr engine-bench`: where no Python with torch exists the bench says
// why instead of failing; where one does (Debian's python3-torch), the shipped reference
// runs and prints the figures the bench reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { findTorchPython, TORCH_REFERENCE } from '../../src/engine/torch-peer.js';

test('torch peer: a Python without torch is reported as unavailable, with the fix', () => {
  const before = process.env.IVR_TORCH_PYTHON;
  process.env.IVR_TORCH_PYTHON = '/nonexistent/python3';
  try {
    const r = findTorchPython();
    assert.ok('unavailable' in r);
    assert.match(r.unavailable, /no Python with torch among \/nonexistent\/python3 .*python3-torch/);
  } finally {
    if (before === undefined) delete process.env.IVR_TORCH_PYTHON;
    else process.env.IVR_TORCH_PYTHON = before;
  }
  assert.ok(fs.existsSync(TORCH_REFERENCE), `${TORCH_REFERENCE} ships with the package`);
});

const found = findTorchPython();
test('torch peer: the reference decodes and prints its figures as JSON', { skip: 'unavailable' in found && found.unavailable }, () => {
  const python = (found as { python: string }).python;
  const r = spawnSync(python, [TORCH_REFERENCE, '--threads', '1', '--skip-train'], { encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const fig = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
  assert.equal(fig.threads, 1);
  assert.ok(typeof fig.decode_tokens_per_s === 'number' && fig.decode_tokens_per_s > 0);
  assert.equal(fig.train_step_ms, undefined, '--skip-train skips the train step');
});
