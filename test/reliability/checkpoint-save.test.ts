// Issue #17 row 3: a crash between the two renames of a checkpoint save left no
// checkpoints/latest, `--resume` silently restarted from step 0 although complete copies sat
// beside it, and half-written latest.tmp-* folders were never cleaned. Now resume restores the
// newest complete copy (verified by the weights checksum in its config.json), removes the rest,
// and refuses rather than starting over when the only copies are damaged.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadCheckpoint, saveCheckpoint, type NamedTensor } from '../../src/engine/checkpoint.js';
import { recoverCheckpoint } from '../../src/engine/checkpoint-recovery.js';
import { parseSftConfig } from '../../src/sft/config.js';
import { runSft } from '../../src/sft/trainer.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-ck-save-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let counter = 0;
const fresh = () => path.join(root, `d${counter++}`);

const weights = (v: number): NamedTensor[] => [{ name: 'w', dtype: 'float32', shape: [4], data: new Float32Array(4).fill(v) }];
const valueOf = (dir: string) => (loadCheckpoint(dir).tensors.get('w')!.data as Float32Array)[0];
const siblings = (dir: string) => fs.readdirSync(path.dirname(dir)).sort();

/** The state a crash between saveCheckpoint's two renames leaves: the previous checkpoint as
 *  <dir>.old-*, the finished new one as <dir>.tmp-*, no <dir>. */
function crashBetweenRenames(dir: string, previous: number, next: number): void {
  saveCheckpoint(dir, { tensors: weights(previous), config: { v: previous } });
  fs.renameSync(dir, `${dir}.old-111-aaaaaaaa`);
  saveCheckpoint(`${dir}.tmp-111-bbbbbbbb`, { tensors: weights(next), config: { v: next } });
}

test('crash between the renames: the newer complete copy is restored, leftovers and half-written temporaries removed', () => {
  const dir = path.join(fresh(), 'latest');
  crashBetweenRenames(dir, 1, 2);
  fs.mkdirSync(`${dir}.tmp-222-cccccccc`); // a save killed while writing
  fs.writeFileSync(`${dir}.tmp-222-cccccccc/model.safetensors`, 'partial');
  const r = recoverCheckpoint(dir);
  assert.equal(path.basename(r.restored!), 'latest.tmp-111-bbbbbbbb');
  assert.equal(valueOf(dir), 2);
  assert.deepEqual(siblings(dir), ['latest']);
});

test('only the old copy left (the issue\'s reproduction): restored; a present checkpoint wins over leftovers', () => {
  const dir = path.join(fresh(), 'latest');
  saveCheckpoint(dir, { tensors: weights(5), config: { v: 5 } });
  fs.renameSync(dir, `${dir}.old-1-dddddddd`);
  recoverCheckpoint(dir);
  assert.equal(valueOf(dir), 5);
  // A temporary next to an intact checkpoint never committed: removed, the checkpoint kept.
  saveCheckpoint(`${dir}.tmp-9-eeeeeeee`, { tensors: weights(6), config: { v: 6 } });
  assert.deepEqual(recoverCheckpoint(dir).removed.map((d) => path.basename(d)), ['latest.tmp-9-eeeeeeee']);
  assert.equal(valueOf(dir), 5);
  assert.deepEqual(siblings(dir), ['latest']);
});

test('damaged copies only: refused with each copy and its defect named, nothing deleted', () => {
  const dir = path.join(fresh(), 'latest');
  saveCheckpoint(dir, { tensors: weights(3), config: { v: 3 } });
  const old = `${dir}.old-1-ffffffff`;
  fs.renameSync(dir, old);
  const file = path.join(old, 'model.safetensors');
  const bytes = fs.readFileSync(file);
  bytes[bytes.length - 1]! ^= 0x01;
  fs.writeFileSync(file, bytes);
  assert.throws(() => recoverCheckpoint(dir), /checkpoint .*latest is missing and no copy left by an interrupted save is intact:[^]*latest\.old-1-ffffffff: .*sha256 .* differs/);
  assert.ok(fs.existsSync(old));
});

// The same through the trainer: a finished tiny SFT run whose checkpoints/latest was renamed
// away mid-save. Before, --resume found no latest and trained from step 0 again.
const sftConfig = parseSftConfig({
  seed: 3,
  model: { vocab: 112, dim: 32, layers: 1, heads: 2, mlpRatio: 2, maxText: 128, imageSize: 48, patch: 8 },
  steps: 4, batch_size: 2, lr: 3e-3, warmup: 1, min_lr_frac: 0.1, weight_decay: 0.1, grad_clip: 1,
  families: ['grid'], max_horizon: { grid: 2, shapes: 2, chart: 2 },
  val_every: 1000, val_n: 1, checkpoint_every: 2, threads: 1,
}, 'test config');

test('--resume after a crash between the renames continues from the restored checkpoint instead of step 0', async () => {
  const out = fresh();
  await runSft(sftConfig, { out, resume: false, quiet: true });
  const ck = path.join(out, 'checkpoints');
  const metrics = fs.readFileSync(path.join(out, 'metrics.jsonl'));
  fs.renameSync(path.join(ck, 'latest'), path.join(ck, 'latest.old-1-12345678'));
  fs.mkdirSync(path.join(ck, 'latest.tmp-2-87654321'));
  fs.rmSync(path.join(ck, 'final'), { recursive: true });

  await runSft(sftConfig, { out, resume: true, quiet: true });
  assert.ok(metrics.equals(fs.readFileSync(path.join(out, 'metrics.jsonl'))), 'no step was trained again (the rows, timings included, are untouched)');
  assert.deepEqual(fs.readdirSync(ck).sort(), ['final', 'latest']);
  assert.equal((JSON.parse(fs.readFileSync(path.join(ck, 'latest', 'config.json'), 'utf8')) as { optimizer_step: number }).optimizer_step, 4);

  // The only copy damaged: --resume refuses instead of starting over.
  fs.renameSync(path.join(ck, 'latest'), path.join(ck, 'latest.old-3-abcdef12'));
  fs.writeFileSync(path.join(ck, 'latest.old-3-abcdef12', 'model.safetensors'), 'torn');
  await assert.rejects(runSft(sftConfig, { out, resume: true, quiet: true }), /latest is missing and no copy left by an interrupted save is intact/);
  assert.ok(metrics.equals(fs.readFileSync(path.join(out, 'metrics.jsonl'))));
});
