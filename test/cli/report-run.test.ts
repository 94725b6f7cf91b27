// Issue 25 items 9 and 10 through the CLI: `ivr report` on a training run (a run directory
// gave EISDIR, a metrics.jsonl a JSON error), and the smaller stumbles: `--format ours`
// (the README's name) was refused, `tasks validate` on a TRL file said only `key "scene":
// is missing`, and a JSON config error gave a character position instead of line and column.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const REPO = path.resolve(path.dirname(CLI), '..', '..', '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-report-run-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000, cwd: REPO });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function fakeRun(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ run_kind: 'rl', method: 'ivr', init: 'checkpoints/base', iterations: 4 }));
  const rows = [1, 2, 3, 4].map((iter) => ({ iter, accuracy: 0.1 * iter, loss: 1 / iter, gen_tokens_total: 1000 * iter, t_rollout_s: 1, ...(iter % 2 === 0 ? { val_accuracy: 0.2 + 0.05 * iter } : {}) }));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

test('item 9: ivr report on a run directory and on its metrics.jsonl writes a report of the run', () => {
  const run = path.join(tmp, 'runs', 'ivr');
  fakeRun(run);
  for (const input of [run, path.join(run, 'metrics.jsonl')]) {
    const out = path.join(tmp, `report-${path.basename(input)}.html`);
    const r = cli(['report', '--results', input, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const html = fs.readFileSync(out, 'utf8');
    assert.match(html, /<h1>Training run .*runs\/ivr \(ivr\)<\/h1>/);
    assert.match(html, /last validation accuracy<\/td><td>40\.0% \(iter 4\)/);
    assert.match(html, /aria-label="val_accuracy"/);
    assert.match(html, /accuracy \(n = 4 rows\)/, 'each chart says how many rows it plots');
    assert.doesNotMatch(html, /vs RL baselines|methods ×|kind bench/);
  }
  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  const bad = cli(['report', '--results', empty, '--out', path.join(tmp, 'x.html')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /directory without metrics\.jsonl: not a run directory/);
  assert.doesNotMatch(bad.stderr, /EISDIR/);
});

test('item 10: --format ours is the jsonl format; tasks validate names the format it reads; JSON config errors give line and column', () => {
  const out = path.join(tmp, 'ours');
  const ex = cli(['tasks', 'export', '--format', 'ours', '--family', 'grid', '--split', 'test', '--n', '2', '--out', out]);
  assert.equal(ex.status, 0, ex.stderr);
  assert.ok(fs.existsSync(path.join(out, 'grid-test.jsonl')));

  const trl = path.join(tmp, 'trl');
  assert.equal(cli(['tasks', 'export', '--format', 'trl', '--family', 'grid', '--split', 'test', '--n', '2', '--out', trl]).status, 0);
  const v = cli(['tasks', 'validate', '--file', path.join(trl, 'grid-test.trl.jsonl')]);
  assert.equal(v.status, 1);
  assert.match(v.stderr, /is a TRL record .*reads only ivr's own instance JSONL \(tasks export --format jsonl, also called ours\)/);

  const bad = path.join(tmp, 'bad.json');
  fs.writeFileSync(bad, '{\n  "method": "grpo",\n  "lr": 1e-4,,\n}\n');
  const t = cli(['train', '--config', bad, '--out', path.join(tmp, 'never')]);
  assert.equal(t.status, 1);
  assert.match(t.stderr, /invalid JSON: .*\(line 3, column \d+\)/);
});
