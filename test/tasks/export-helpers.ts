// Shared by the dataset-format round-trip tests: a handful of instances from every family
// (two splits, so `split` varies) and checks that an exported PNG is the instance's large image.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng, FAMILY_IDS, getSplit, renderLarge, type Instance } from '../../src/tasks/index.js';

export function sampleInstances(): Instance[] {
  return FAMILY_IDS.flatMap((f) => [...getSplit(f, 'test', 2), ...getSplit(f, 'ood', 1)]);
}

export function tempExportDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `ivr-export-${tag}-`));
}

/** The bytes decode as a PNG whose pixels are exactly the instance's 384×384 rendering. */
export function assertLargePng(bytes: Uint8Array, inst: Instance): void {
  const img = decodePng(bytes);
  const want = renderLarge(inst);
  assert.equal(img.width, want.width, `${inst.id}: width`);
  assert.equal(img.height, want.height, `${inst.id}: height`);
  assert.equal(img.width, 384);
  assert.ok(Buffer.from(img.data).equals(Buffer.from(want.data)), `${inst.id}: pixels differ from renderLarge`);
}
