// The Python adapters (integrations/python, standard library only) against a real
// `ivr serve-env` process on loopback, whose policy endpoint is a real `ivr serve` server:
// `python3 -m unittest discover integrations/python`. Skipped, saying so, where no python3
// (>= 3.9) is installed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import { createChatServer, type ChatServer } from '../../src/serve/server.js';
import { corruptStep, formatResponse, generateInstance, goldResponse, Rng, type Instance } from '../../src/tasks/index.js';
import { listeningUrl } from '../helpers/serve-child.js';
import { tempDir, trainedCheckpoint, TRAIN_INSTANCES } from '../helpers/remote-fixture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = path.join(ROOT, 'dist/src/cli/main.js');

function python(): string | null {
  for (const exe of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(exe, ['-c', 'import sys; print(sys.version_info >= (3, 9))'], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim() === 'True') return exe;
  }
  return null;
}

const PY = python();
let policy: ChatServer;
let child: ChildProcessWithoutNullStreams | null = null;
let url = '';

function wrongRead(inst: Instance, k: number): string {
  const steps = [...inst.steps];
  steps[k] = corruptStep(inst, k, 'visual', new Rng(1))!;
  return formatResponse(steps, inst.answer);
}

before(async () => {
  if (!PY) return;
  policy = createChatServer({ policy: loadPolicy(await trainedCheckpoint(), 1).policy, modelName: 'tiny', batchWindowMs: 2 });
  await policy.listen(0);
  child = spawn(process.execPath, [MAIN, 'serve-env', '--port', '0', '--api-key', 'py-k3y', '--policy-endpoint', policy.url, '--policy-model', 'tiny',
    '--temperature', '0', '--max-tokens', '60', '--rectifier', 'resample', '--quiet'], { stdio: 'pipe', env: { ...process.env, OPENAI_API_KEY: '' } });
  url = await listeningUrl(child, 30_000);
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child!.on('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  if (policy) await policy.close();
});

test('python3 -m unittest discover integrations/python passes against ivr serve-env', { skip: PY ? false : 'no python3 >= 3.9 on this machine' }, async () => {
  const inst = generateInstance('grid', 7, 4);
  const rect = TRAIN_INSTANCES[0]!;
  const file = path.join(tempDir('py'), 'cases.json');
  fs.writeFileSync(file, JSON.stringify({
    task: inst.id, question: inst.question, answer: inst.answer, gold: goldResponse(inst), wrong: wrongRead(inst, 1), wrong_step: 2,
    rest: inst.steps.slice(1).join('\n') + `\n</think><answer>${inst.answer}</answer>`,
    rectify_task: rect.id, rectify_wrong: wrongRead(rect, 1),
  }));
  const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
    const p = spawn(PY!, ['-m', 'unittest', 'discover', '-v', 'integrations/python'], { cwd: ROOT, env: { ...process.env, IVR_ENV_URL: url, IVR_ENV_API_KEY: 'py-k3y', IVR_TEST_CASES: file, PYTHONDONTWRITEBYTECODE: '1' } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    p.on('exit', (code) => resolve({ code, out }));
  });
  if (process.env.IVR_SHOW_PY) console.log(r.out);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Ran \d+ tests/);
  assert.doesNotMatch(r.out, /skipped/, 'the live tests ran');
});
