// `ivr eval --endpoint` against `ivr serve` on loopback (both real processes): the remote
// path through the reasoner port gives the same greedy responses, outcomes and accuracy as
// `ivr eval --checkpoint` of the checkpoint being served; plus its usage errors.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir, trainedCheckpoint } from '../helpers/remote-fixture.js';
import { listeningUrl } from '../helpers/serve-child.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const KEY = 'k3y';

let ckpt = '';
let serve: ChildProcessWithoutNullStreams;
let url = '';

function ivr(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [MAIN, ...args], { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    p.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

before(async () => {
  ckpt = await trainedCheckpoint();
  serve = spawn(process.execPath, [MAIN, 'serve', '--checkpoint', ckpt, '--port', '0', '--model-name', 'tiny', '--api-key', KEY, '--threads', '1'], { stdio: 'pipe' });
  url = await listeningUrl(serve, 30_000);
});

after(() => { if (serve.exitCode === null) serve.kill('SIGKILL'); });

interface EvalOut {
  accuracy: number; format_validity: number; grounding_fidelity: number; mean_length: number; first_error_hist: Record<string, number>;
  by_split: Record<string, { correct: string; instances: { id: string }[] }>;
  results: { id: string; responses: string[]; correct: boolean; length: number }[];
  [k: string]: unknown;
}

/** Both ways on the same instances; returns the two JSON objects. */
async function both(args: string[], renderDir?: string): Promise<[EvalOut, EvalOut]> {
  const local = await ivr(['eval', '--checkpoint', ckpt, '--threads', '1', ...args, '--json', '--with-results']);
  assert.equal(local.code, 0, local.stderr);
  const remote = await ivr(['eval', '--endpoint', url, '--model', 'tiny', '--api-key', KEY, ...(renderDir ? ['--render-dir', renderDir] : []), ...args, '--json', '--with-results']);
  assert.equal(remote.code, 0, remote.stderr);
  return [JSON.parse(local.stdout), JSON.parse(remote.stdout)];
}

function assertSameOutcomes(l: EvalOut, r: EvalOut): void {
  assert.deepEqual(r.results.map((x) => x.responses), l.results.map((x) => x.responses), 'greedy decoding gives the same text over HTTP');
  assert.equal(r.accuracy, l.accuracy);
  for (const s of Object.keys(l.by_split)) {
    assert.equal(r.by_split[s]!.correct, l.by_split[s]!.correct);
    assert.deepEqual(r.by_split[s]!.instances, l.by_split[s]!.instances);
  }
  assert.equal(r.format_validity, l.format_validity);
  assert.equal(r.grounding_fidelity, l.grounding_fidelity);
  assert.deepEqual(r.first_error_hist, l.first_error_hist);
  // Lengths: the checkpoint path counts the tokens of the decoded text, the remote path the
  // completion_tokens the server reports, which include the <eos> a reply ends on (as vLLM's
  // do). They agree except on replies that stop at <eos> instead of </answer>, by one token.
  l.results.forEach((x, i) => {
    const y = r.results[i]!;
    const endsOnEos = !x.responses[0]!.endsWith('</answer>') && y.length === x.length + 1;
    assert.ok(y.length === x.length || endsOnEos, `${x.id}: length ${x.length} (checkpoint) vs ${y.length} (endpoint)`);
  });
}

describe('ivr eval --endpoint', () => {
  test('matches ivr eval --checkpoint of the served checkpoint (greedy)', async () => {
    const renderDir = path.join(tempDir('eval-render'), 'png');
    const [l, r] = await both(['--split', 'test', '--n', '2', '--families', 'grid'], renderDir);
    assertSameOutcomes(l, r);
    assert.equal(r.mean_length, l.mean_length);
    assert.equal(l.checkpoint, ckpt);
    assert.equal(r.model, 'tiny');
    assert.deepEqual(r.endpoints, [url]);
    assert.equal(r.prompt_format, 'question', 'asked the endpoint for its prompt format');
    // Same shape apart from what was evaluated.
    const { checkpoint: _c, ...lRest } = l;
    const { model: _m, endpoints: _e, prompt_format: _p, ...rRest } = r;
    assert.deepEqual(Object.keys(rRest), Object.keys(lRest));
    // The images the server saw were rendered into --render-dir (kept, since it was given).
    assert.equal(fs.readdirSync(renderDir).filter((f) => f.endsWith('.small.png')).length, 2);
  });

  test('matches on other families and the ood split too, with replies that end on <eos>', async (t) => {
    // With the test checkpoint, 2 of these 48 replies ramble until <eos> (no </answer>).
    const [l, r] = await both(['--split', 'test,ood', '--n', '12', '--families', 'shapes,chart']);
    assertSameOutcomes(l, r);
    t.diagnostic(`${l.results.filter((x, i) => r.results[i]!.length !== x.length).length} of ${l.results.length} replies ended on <eos>`);
  });

  test('usage errors: --model is needed, --checkpoint and remote options do not mix', async () => {
    const noModel = await ivr(['eval', '--endpoint', url, '--n', '1']);
    assert.equal(noModel.code, 2);
    assert.match(noModel.stderr, /'--endpoint <urls>' needs '--model <id>'/);
    const both = await ivr(['eval', '--endpoint', url, '--model', 'tiny', '--checkpoint', ckpt, '--n', '1']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /'--endpoint <urls>' cannot be used with option '--checkpoint <dir>'/);
    const stray = await ivr(['eval', '--checkpoint', ckpt, '--model', 'tiny', '--n', '1']);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /'--model' is for a remote model; it needs '--endpoint <urls>'/);
    const badKey = await ivr(['eval', '--endpoint', url, '--model', 'tiny', '--api-key', 'wrong', '--n', '1', '--families', 'grid', '--split', 'test', '--json']);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /401|API key/i);
  });
});
