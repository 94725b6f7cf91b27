// bin/ivr, the installed `ivr`: it starts the CLI with glibc's malloc tuned for onnxruntime
// (src/util/malloc-tuning.ts), keeps a GLIBC_TUNABLES the user set, and execs, so the pid
// a caller holds is the CLI's own and signals reach it (SIGTERM stops `ivr serve` cleanly).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MALLOC_ENV } from '../../src/util/malloc-tuning.js';
import { listeningUrl } from '../helpers/serve-child.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const LAUNCHER = path.join(ROOT, 'bin', 'ivr');

async function serveEnvironment(env: NodeJS.ProcessEnv): Promise<{ environ: Map<string, string>; exe: string; code: number | null }> {
  const child = spawn(LAUNCHER, ['serve', '--checkpoint', path.join(ROOT, 'checkpoints', 'base'), '--port', '0', '--threads', '1'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await listeningUrl(child);
  const environ = new Map(fs.readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0').filter(Boolean).map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)] as [string, string];
  }));
  const exe = fs.realpathSync(`/proc/${child.pid}/exe`);
  child.kill('SIGTERM');
  return { environ, exe, code: await exited };
}

test('bin/ivr sets the malloc variables, keeps the user\'s, and execs node itself (SIGTERM to its pid stops serve with 0)', { skip: process.platform !== 'linux' && 'reads /proc' }, async () => {
  const env = { ...process.env };
  for (const k of Object.keys(MALLOC_ENV)) delete env[k];
  const tuned = await serveEnvironment(env);
  for (const [k, v] of Object.entries(MALLOC_ENV)) assert.equal(tuned.environ.get(k), v, k);
  assert.equal(tuned.exe, fs.realpathSync(process.execPath), 'the pid is node, not a shell waiting on it');
  assert.equal(tuned.code, 0);
  const own = await serveEnvironment({ ...env, MALLOC_TRIM_THRESHOLD_: '4096' });
  assert.equal(own.environ.get('MALLOC_TRIM_THRESHOLD_'), '4096');
  assert.equal(own.environ.get('MALLOC_MMAP_THRESHOLD_'), undefined, 'a caller who set either variable chose for both');
  assert.equal(own.code, 0);
});

test('the launcher sets exactly the library\'s values', () => {
  const text = fs.readFileSync(LAUNCHER, 'utf8');
  for (const [k, v] of Object.entries(MALLOC_ENV)) assert.ok(text.includes(`  ${k}=${v}\n`), k);
});
