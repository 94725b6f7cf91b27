// The bench's child runs: a real `ivr eval` child process, its stdout returned and its peak
// RSS sampled from /proc (what `ivr bench` reports per run), the log file written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runIvr } from '../../src/bench/child.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

test('runIvr: a real child eval, its JSON on stdout, its peak RSS measured and logged', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-child-'));
  try {
    const log = path.join(dir, 'log.txt');
    const r = await runIvr(['eval', '--checkpoint', path.join(ROOT, 'checkpoints', 'base'), '--split', 'test', '--n', '2', '--json'], log, { IVR_THREADS: '1' });
    const evalJson = JSON.parse(r.stdout) as { n: number; accuracy: number };
    assert.equal(evalJson.n, 2 * 3, 'two instances per family');
    assert.ok(evalJson.accuracy >= 0 && evalJson.accuracy <= 1);
    // A node process with onnxruntime loaded is tens of MiB at least, and far below a GiB here.
    assert.ok(r.peakRssMiB !== null && r.peakRssMiB > 30 && r.peakRssMiB < 1024, `peak ${r.peakRssMiB}`);
    assert.match(fs.readFileSync(log, 'utf8'), /\[bench\] peak RSS of this run: \d+ MiB/);
    await assert.rejects(runIvr(['eval', '--checkpoint', path.join(dir, 'missing')], log), /ivr eval exited with 1/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
