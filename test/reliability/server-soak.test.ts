// scripts/soak-serve.mjs end to end on a tiny checkpoint: it starts `ivr serve` on loopback,
// fires its bounded burst (PNG, large PNG and JPEG images, some streamed) and reports
// statuses, latency percentiles and the server's RSS before and after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { untrainedCheckpoint } from '../helpers/remote-fixture.js';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../scripts/soak-serve.mjs');

test('soak-serve reports requests, statuses, p50/p99 and RSS; exit 0 on only 2xx/429', () => {
  const r = spawnSync(process.execPath, [SCRIPT, '--checkpoint', untrainedCheckpoint(), '--requests', '24', '--concurrency', '12', '--max-tokens', '4', '--stream-every', '3', '--threads', '1', '--time-limit-s', '60', '--json'], { encoding: 'utf8', timeout: 90_000 });
  assert.equal(r.status, 0, `stdout ${r.stdout}\nstderr ${r.stderr}`);
  const rep = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.equal(rep.requests, 24);
  assert.deepEqual(rep.statuses, { 200: 24 });
  assert.ok(rep.latency_ms.p50 > 0 && rep.latency_ms.p99 >= rep.latency_ms.p50);
  for (const k of ['start', 'before', 'peak', 'after']) assert.ok(rep.rss_mb[k] > 0, k);
  assert.equal(rep.server.errors5xx, 0);
});

test('soak-serve refuses unbounded settings', () => {
  const r = spawnSync(process.execPath, [SCRIPT, '--requests', '1000000'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--requests must be an integer in \[1, 10000\]/);
});
