// The command line as a user meets it: help and --version everywhere, usage errors (exit 2)
// that name the option and suggest what was meant, input errors (exit 1) that name the file
// and key, YAML configs equal to their JSON twins, and --set overrides.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify as toYaml } from 'yaml';
import { loadTrainConfig as loadRlConfig } from '../../src/ivr/config.js';
import { loadSftConfig } from '../../src/sft/config.js';
import { parseOverride } from '../../src/util/config-file.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const MAIN = path.join(HERE, '../../src/cli/main.js');

function ivr(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tmpDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-cli-parser-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('-h / --help prints help (exit 0) on the root, every kind of command and subcommands', () => {
  for (const args of [['--help'], ['-h'], ['train', '-h'], ['sft', '--help'], ['eval', '-h'], ['serve', '-h'], ['synth', '-h'],
    ['tasks', '-h'], ['tasks', 'export', '-h'], ['tasks', 'validate', '--help'], ['help', 'bench'], ['tasks', 'help', 'show']]) {
    const r = ivr(...args);
    assert.equal(r.status, 0, `ivr ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^Usage: ivr/, `ivr ${args.join(' ')}`);
    assert.equal(r.stderr, '', `ivr ${args.join(' ')} writes help to stdout only`);
  }
  // A command's help lists its options with defaults, marks required ones, and shows examples.
  const train = ivr('train', '-h').stdout;
  assert.match(train, /--config <file> .*\(required\)/s);
  assert.match(train, /--init <checkpoint> +checkpoint to start from \(or a run directory: its\s+final, else latest, checkpoint\) \(default:\s+"checkpoints\/base"\)/);
  assert.match(train, /--set <key\.path=value>/);
  assert.match(train, /Examples:\n {2}\$ ivr train /);
  assert.match(ivr('tasks', 'export', '-h').stdout, /Examples:\n {2}\$ ivr tasks export /);
  // The root help documents the exit codes.
  const root = ivr('--help').stdout;
  for (const line of [/ 0 +ok/, / 1 +input, config or data error/, / 2 +usage error/, / 130 +interrupted/]) assert.match(root, line);
});

test('--version prints the package version', () => {
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = ivr(flag);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), version);
  }
});

test('unknown options and commands are usage errors (exit 2) with a suggestion', () => {
  let r = ivr('eval', '--chekpoint', 'x');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown option '--chekpoint'\n\(Did you mean --checkpoint\?\)/);
  r = ivr('tasks', 'export', '--split', 'test', '--out', '/nonexistent/never-written', '--famly', 'grid');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /Did you mean --family\?/);
  r = ivr('evl');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'evl'\n\(Did you mean eval\?\)/);
  r = ivr('tasks', 'exprt');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /Did you mean export\?/);
  // A command or subcommand left out: the help, on stderr, as a usage error.
  r = ivr('tasks');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /Usage: ivr tasks/);
});

test('stray positional arguments are usage errors (exit 2), with a hint', () => {
  let r = ivr('eval', 'foo');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unexpected argument "foo" \(ivr eval takes options only; -h lists them\)/);
  r = ivr('eval', 'checkpoint', 'x');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unexpected argument "checkpoint" \(did you mean --checkpoint\?\)/);
  r = ivr('tasks', 'export', '--split', 'test', '--out', '/nonexistent/never-written', 'extra');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unexpected argument "extra" \(ivr tasks export takes options only/);
});

test('bad option values are usage errors (exit 2) naming the option, before anything runs', () => {
  for (const [args, message] of [
    [['eval', '--n', '0'], /option '--n <count>' argument '0' is invalid\. Expected an integer >= 1/],
    [['bench', '--budget-tokens', '-5'], /option '--budget-tokens <n>' argument '-5' is invalid\. Expected an integer >= 1/],
    [['train', '--config', 'configs/grpo-smoke.json', '--budget-tokens', '1.5'], /option '--budget-tokens <n>' argument '1\.5' is invalid/],
    [['eval', '--temperature', '-1', '--top-p', '0.9'], /option '--temperature <t>' argument '-1' is invalid\. Expected a number >= 0/],
    [['eval', '--top-p', '5'], /option '--top-p <p>' argument '5' is invalid\. Expected a number > 0 and <= 1/],
    [['eval', '--split', 'test,dev'], /option '--split <splits>' argument 'test,dev' is invalid\. Unknown "dev"/],
    [['train', '--method', 'ppo', '--config', 'configs/grpo-smoke.json'], /Allowed choices are grpo, drgrpo, dapo, luffy, ivr/],
    [['serve', '--port', '70000'], /option '--port <port>' argument '70000' is invalid\. Expected an integer in 0\.\.65535/],
    [['train'], /required option '--config <file>' not specified/],
    [['train', '--config', 'configs/grpo-smoke.json', '--set', 'lr'], /option '--set <key\.path=value>' argument 'lr' is invalid\. Expected key\.path=value/],
    [['train', '--config', 'configs/grpo-smoke.json', '--set', 'lr='], /lr= has no value/],
  ] as const) {
    const r = ivr(...args);
    assert.equal(r.status, 2, `ivr ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, `ivr ${args.join(' ')}`);
    assert.match(r.stderr, /^ivr: /, 'every error line starts with the program name');
  }
});

test('input errors are exit 1 and name the file: a directory, a missing file, empty task files', (t) => {
  const dir = tmpDir(t);
  let r = ivr('sft', '--config', dir);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${dir.replace(/[.]/g, '\\.')}: is a directory, not a config file`));
  assert.doesNotMatch(r.stderr, /EISDIR/);
  r = ivr('train', '--config', path.join(dir, 'nope.yaml'));
  assert.equal(r.status, 1);
  assert.match(r.stderr, /nope\.yaml: cannot read \(no such file\)/);
  const txt = path.join(dir, 'grpo.toml');
  fs.writeFileSync(txt, 'lr = 1');
  r = ivr('train', '--config', txt);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /grpo\.toml: unknown config format "\.toml": name the file \.json, \.yaml, \.yml/);
  const empty = path.join(dir, 'empty.jsonl');
  fs.writeFileSync(empty, '\n\n');
  for (const args of [['tasks', 'validate', '--file', empty], ['eval', '--tasks', empty]]) {
    r = ivr(...args);
    assert.equal(r.status, 1, `ivr ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /empty\.jsonl: no tasks in the file/);
  }
});

test('a YAML config is read like its JSON twin (RL and SFT)', (t) => {
  const dir = tmpDir(t);
  for (const name of ['ivr-smoke', 'dapo-smoke']) {
    const json = path.join(ROOT, 'configs', `${name}.json`);
    for (const ext of ['.yaml', '.yml']) {
      const yaml = path.join(dir, `${name}${ext}`);
      fs.writeFileSync(yaml, `# ${name} as YAML\n${toYaml(JSON.parse(fs.readFileSync(json, 'utf8')))}`);
      assert.deepEqual(loadRlConfig(yaml), loadRlConfig(json), `${name}${ext}`);
    }
  }
  const sftJson = path.join(dir, 'sft.json');
  const sft = { steps: 10, batch_size: 4, families: ['grid', 'chart'], max_horizon: { grid: 3 }, lr: 1e-3 };
  fs.writeFileSync(sftJson, JSON.stringify(sft));
  const sftYaml = path.join(dir, 'sft.yaml');
  fs.writeFileSync(sftYaml, 'steps: 10\nbatch_size: 4\nfamilies: [grid, chart]\nmax_horizon:\n  grid: 3\nlr: 1.0e-3\n');
  assert.deepEqual(loadSftConfig(sftYaml), loadSftConfig(sftJson));

  // YAML errors name the file and the key path as JSON ones do, through the CLI too.
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'method: ivr\nivr:\n  rounds: three\n');
  let r = ivr('train', '--config', bad);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /bad\.yaml: key "ivr\.rounds" must be an integer/);
  const broken = path.join(dir, 'broken.yml');
  fs.writeFileSync(broken, 'lr: 1e-4\n  iterations: [3\n');
  r = ivr('train', '--config', broken);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /broken\.yml: invalid YAML: .*line \d+/);
});

test('--set overrides keys of the file, parsed as YAML values; an error at one names the override', () => {
  const file = path.join(ROOT, 'configs', 'ivr-smoke.json');
  const base = loadRlConfig(file);
  const set = (...items: string[]) => loadRlConfig(file, {}, items.map(parseOverride));
  const cfg = set('ivr.rounds=2', 'lr=5e-5', 'ivr.shaping=false', 'prompts.families=[grid, chart]', 'prompts.curriculum={start_max_horizon: 2, iterations: 3}', 'overlong.max_len=null');
  assert.equal(cfg.ivr.rounds, 2);
  assert.equal(cfg.lr, 5e-5);
  assert.equal(cfg.ivr.shaping, false);
  assert.deepEqual(cfg.prompts.families, ['grid', 'chart']);
  assert.deepEqual(cfg.prompts.curriculum, { start_max_horizon: 2, iterations: 3 });
  assert.equal(cfg.overlong.max_len, null);
  assert.deepEqual({ ...cfg, ivr: base.ivr, lr: base.lr, prompts: base.prompts, overlong: base.overlong }, base, 'nothing else changes');
  assert.equal(set('ivr.rounds=2', 'ivr.rounds=4').ivr.rounds, 4, 'the last override of a key wins');

  // An unknown key path is the same error as an unknown key in the file, naming the override.
  assert.throws(() => set('ivr.roundz=3'), (e: Error) => {
    assert.match(e.message, /ivr-smoke\.json: --set ivr\.roundz=3: unknown key "ivr\.roundz"/);
    assert.match(e.message, /did you mean "rounds"\?/);
    return true;
  });
  assert.throws(() => set('ivr.rounds=three'), /--set ivr\.rounds=three: key "ivr\.rounds" must be an integer/);
  assert.throws(() => set('lr=0'), /--set lr=0: key "lr" must be/);

  // A problem the file has on its own is not blamed on an override.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-cli-set-'));
  try {
    const own = path.join(dir, 'own.json');
    fs.writeFileSync(own, JSON.stringify({ method: 'grpo', iterations: 0 }));
    assert.throws(() => loadRlConfig(own, {}, [parseOverride('lr=1e-4')]), (e: Error) => {
      assert.match(e.message, /own\.json: key "iterations" must be/);
      assert.doesNotMatch(e.message, /--set/);
      return true;
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const r = ivr('train', '--config', file, '--set', 'ivr.roundz=3');
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^ivr: .*ivr-smoke\.json: --set ivr\.roundz=3: unknown key "ivr\.roundz"/);
});

test('interrupted: Ctrl-C ends a command by SIGINT (exit status 130 in a shell)', async () => {
  // `tasks verify` reading the response from stdin waits until it is interrupted.
  const child = spawn(process.execPath, [MAIN, 'tasks', 'verify', '--family', 'grid', '--seed', '1'], { stdio: ['pipe', 'ignore', 'ignore'] });
  await new Promise((r) => setTimeout(r, 1500));
  child.kill('SIGINT');
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (c, s) => r([c, s])));
  assert.ok(signal === 'SIGINT' || code === 130, `exit ${code}, signal ${signal}`);
});
