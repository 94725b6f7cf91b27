// The package as a user gets it: `npm pack` the built tree, install the tarball into a fresh
// project without the registry, import 'ivr-r1' by name in a separate Node process and use
// it (tasks, configs, a policy round trip through onnxruntime-node), run its `ivr` bin, and
// run the README's library example as written (`node app.mjs` in a project like `npm init
// -y` makes, with the base checkpoint shipped in the package), then type-check it against
// the shipped declarations.
//
// Offline install: npm's cache holds the dependency tarballs (`npm ci` put them there) but
// not the registry's package metadata, which `npm install <tgz>` would ask for to resolve
// ivr-r1's dependencies. So the temporary project gets a package-lock.json that pins them
// exactly as this repository's lockfile does; npm then needs nothing but the cache.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

// dist/test/package/pack.test.js -> the repository root.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The environment without the npm_* variables of the `npm test` that runs us: they carry
 *  this repository's prefix and config into the child npm, which must act on its own project. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function run(cmd: string, args: string[], cwd: string, env = cleanEnv()): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
  if (r.error) throw r.error;
  return r;
}

function ok(r: SpawnSyncReturns<string>, what: string): string {
  assert.equal(r.status, 0, `${what} failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

interface LockEntry { version: string; resolved?: string; dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; [k: string]: unknown }

/** The lockfile entries of `names` and everything they depend on, from this repository's lockfile. */
function runtimeClosure(names: string[]): Record<string, LockEntry> {
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const out: Record<string, LockEntry> = {};
  const queue = [...names];
  while (queue.length) {
    const name = queue.pop()!;
    const key = `node_modules/${name}`;
    if (out[key]) continue;
    const entry = lock.packages[key];
    assert.ok(entry, `package-lock.json has no ${key} (run npm install to bring it in sync with package.json)`);
    // An entry without `resolved` makes npm look the package up in the registry; point it at
    // the registry's tarball, whose integrity the cache holds.
    const resolved = entry.resolved ?? `https://registry.npmjs.org/${name}/-/${name.split('/').at(-1)}-${entry.version}.tgz`;
    out[key] = { ...entry, resolved };
    queue.push(...Object.keys({ ...entry.dependencies, ...entry.optionalDependencies }));
  }
  return out;
}

/** The ```js block of the README's "Use it as a library" section. */
function readmeExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((s) => s.startsWith('Use it as a library'));
  assert.ok(section, 'README.md has a "## Use it as a library" section');
  const m = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(m, 'the library section has a ```js example');
  assert.match(section, /Save this as `app\.mjs`.*run `node app\.mjs`/s, 'the README says how to run it');
  return m[1]!;
}

// What the consumer process checks; it prints one JSON line.
const CHECK = `
import * as ivr from 'ivr-r1';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const inst = ivr.generateInstance('grid', 7, 3);
const gold = ivr.verifyResponse(inst, ivr.goldResponse(inst));
const wrong = ivr.verifyResponse(inst, 'no idea');
const cfg = ivr.parseRlConfig({ method: 'ivr', ivr: { rounds: 2 } }, 'inline');
let configError = null;
try { ivr.parseRlConfig({ method: 'ivr', ivr: { rounds: 0 } }, 'bad.json'); } catch (e) { configError = e instanceof ivr.ConfigError ? e.message : 'not a ConfigError: ' + e; }

// A tiny untrained policy through save -> load -> evaluate: onnxruntime-node's native
// binding has to load from this project's node_modules.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-pack-policy-'));
const model = { ...ivr.DEFAULT_VLM, dim: 16, layers: 1, heads: 2, maxText: 64 };
ivr.savePolicy(dir, ivr.Policy.init(model, 1, undefined, 1));
const { policy } = ivr.loadPolicy(dir, 1);
const report = await ivr.evaluatePolicy(policy, [inst], { temperature: 0, topP: 1, samples: 1, seed: 0, maxNew: 4 });
fs.rmSync(dir, { recursive: true, force: true });

let deepImport = 'allowed';
try { await import('ivr-r1/dist/src/tasks/index.js'); } catch (e) { deepImport = e.code; }
const pkg = createRequire(import.meta.url)('ivr-r1/package.json');

console.log(JSON.stringify({
  id: inst.id, horizon: inst.horizon, goldComplete: gold.complete, wrongComplete: wrong.complete,
  rounds: cfg.ivr.rounds, method: cfg.method, defaultsTau: ivr.rlDefaults('ivr').ivr.tau, configError,
  evaluated: report.results.length, responses: report.results[0].responses.length,
  deepImport, version: pkg.version, resolvedFrom: import.meta.resolve('ivr-r1'),
}));
`;

test('npm pack ships the library (dist/src, install script, README, the base checkpoint, the benchmark\'s PyTorch peer) and not tests or runs', () => {
  assert.ok(fs.existsSync(path.join(ROOT, 'dist', 'src', 'index.js')), 'dist/src/index.js is built (npm test runs tsc first)');
  // --ignore-scripts: `prepare` would re-run tsc over dist/ while other test files run from it;
  // the suite already compiled everything.
  const out = ok(run(NPM, ['pack', '--dry-run', '--json', '--ignore-scripts'], ROOT), 'npm pack --dry-run');
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0]!.files.map((f) => f.path);
  for (const needed of ['package.json', 'README.md', 'scripts/install-onnxruntime-gpu.mjs', 'bench/torch_reference.py', 'bin/ivr', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'checkpoints/base/model.safetensors', 'checkpoints/base/config.json', 'checkpoints/base/tokenizer.json']) {
    assert.ok(files.includes(needed), `the tarball has ${needed}`);
  }
  const stray = files.filter((f) => !f.startsWith('dist/src/') && !f.startsWith('checkpoints/base/') && !['package.json', 'README.md', 'scripts/install-onnxruntime-gpu.mjs', 'bench/torch_reference.py', 'bin/ivr'].includes(f) && !/^LICEN[CS]E/i.test(f));
  assert.deepEqual(stray, [], 'nothing but the library, its install script, docs and the engine-bench peer');
});

test('the packed tarball installs offline into a new project, imports as "ivr-r1", runs its bin, and runs and type-checks the README example', { timeout: 600_000 }, () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-pack-'));
  try {
    const packed = ok(run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], ROOT), 'npm pack');
    const tgz = path.join(tmp, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
    assert.ok(fs.existsSync(tgz), `npm pack wrote ${tgz}`);

    const ownPkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const app = path.join(tmp, 'app');
    fs.mkdirSync(app);
    // As `npm init -y` writes it: no "type": "module" (the README's example is an .mjs file).
    fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'ivr-r1-consumer', version: '1.0.0', private: true }, null, 2));
    fs.writeFileSync(path.join(app, 'package-lock.json'), JSON.stringify({
      name: 'ivr-r1-consumer', version: '1.0.0', lockfileVersion: 3, requires: true,
      packages: { '': { name: 'ivr-r1-consumer', version: '1.0.0' }, ...runtimeClosure(Object.keys(ownPkg.dependencies)) },
    }, null, 2));

    // ONNXRUNTIME_NODE_INSTALL=skip: onnxruntime-node's own install step downloads its CUDA
    // provider from NuGet, which an offline machine cannot reach (a consumer's choice; this
    // repository makes it with package.json's allowScripts). IVR_SKIP_CUDA=1: our postinstall
    // would try the same download on a machine with an NVIDIA driver.
    const installEnv = cleanEnv({ ONNXRUNTIME_NODE_INSTALL: 'skip', IVR_SKIP_CUDA: '1' });
    const inst = run(NPM, ['install', '--offline', '--no-audit', '--no-fund', tgz], app, installEnv);
    assert.equal(inst.status, 0, `npm install --offline of the tarball failed (npm's cache must hold the dependencies, as after npm ci):\n${inst.stdout}\n${inst.stderr}`);
    const installed = path.join(app, 'node_modules', 'ivr-r1');
    assert.ok(fs.existsSync(path.join(installed, 'dist', 'src', 'index.d.ts')));
    assert.ok(!fs.existsSync(path.join(installed, 'dist', 'test')), 'tests are not installed');

    fs.writeFileSync(path.join(app, 'check.mjs'), CHECK);
    const out = ok(run(process.execPath, ['check.mjs'], app), 'importing ivr-r1 in the consumer');
    const r = JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
    assert.equal(r.id, 'grid-7-3');
    assert.equal(r.horizon, 3);
    assert.equal(r.goldComplete, true);
    assert.equal(r.wrongComplete, false);
    assert.equal(r.method, 'ivr');
    assert.equal(r.rounds, 2);
    assert.equal(typeof r.defaultsTau, 'number');
    assert.match(String(r.configError), /bad\.json/);
    assert.equal(r.evaluated, 1);
    assert.equal(r.responses, 1);
    assert.equal(r.deepImport, 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'internals stay behind the exports map');
    assert.equal(r.version, JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
    assert.equal(fileURLToPath(String(r.resolvedFrom)), fs.realpathSync(path.join(installed, 'dist', 'src', 'index.js')));

    const help = ok(run(path.join(app, 'node_modules', '.bin', 'ivr'), ['--help'], app), 'the installed ivr bin');
    assert.match(help, /train/);

    // The README example, run as written (`node app.mjs`, the malloc settings the README
    // gives), then run again (its run directory now exists), and type-checked against the
    // installed declarations. Node's types come from this repository (the consumer has no
    // @types/node).
    fs.writeFileSync(path.join(app, 'app.mjs'), readmeExample());
    const mallocEnv = cleanEnv({ MALLOC_MMAP_THRESHOLD_: '33554432', MALLOC_TRIM_THRESHOLD_: '1073741824' });
    for (const attempt of ['first', 'second']) {
      const ran = ok(run(process.execPath, ['app.mjs'], app, mallocEnv), `the README example (${attempt} run)`);
      assert.match(ran, /accuracy [\d.]+, grounding fidelity [\d.]+/, `${attempt} run: the evaluation line`);
      assert.match(ran, /iter: 2,/, `${attempt} run: the last metrics row of the 2-iteration run`);
    }
    assert.ok(fs.existsSync(path.join(app, 'runs', 'lib-ivr', 'checkpoints', 'final', 'model.safetensors')));
    fs.writeFileSync(path.join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, allowJs: true, checkJs: true,
        types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')],
      },
      files: ['app.mjs'],
    }, null, 2));
    ok(run(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', app], app), 'tsc on the README example');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
