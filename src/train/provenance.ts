// What produced a run: the code's commit, the library versions and the machine. Recorded in
// run.json, because a metrics curve without the code and versions behind it cannot be
// reproduced or compared.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface GitState { commit: string; short: string; dirty: boolean | null }
export interface Provenance {
  git: GitState;
  versions: { ivr_r1: string; node: string; onnxruntime_node: string };
  platform: { os: string; release: string; arch: string; cpus: number; cpu_model: string; memory_gib: number };
}

const UNKNOWN = 'unknown';

/** This package's root: the nearest package.json above this file (src/ or dist/src/ alike). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

function versionIn(packageJson: string): string {
  try {
    const v = (JSON.parse(fs.readFileSync(packageJson, 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : UNKNOWN;
  } catch {
    return UNKNOWN;
  }
}

/** This package's version (its package.json), for `ivr --version` and run.json. */
export function packageVersion(): string {
  return versionIn(path.join(packageRoot(), 'package.json'));
}

function git(root: string, args: string[]): string {
  return execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
}

/** The commit of this package's checkout. Installed under node_modules, git would answer for
 *  the enclosing project instead, so the repository must be rooted at the package itself. */
export function gitState(root = packageRoot()): GitState {
  try {
    if (fs.realpathSync(git(root, ['rev-parse', '--show-toplevel'])) !== fs.realpathSync(root)) throw new Error('not our repository');
    const commit = git(root, ['rev-parse', 'HEAD']);
    // Untracked sources count: a new file changes what runs as much as an edited one.
    return { commit, short: commit.slice(0, 7), dirty: git(root, ['status', '--porcelain']) !== '' };
  } catch {
    return { commit: UNKNOWN, short: UNKNOWN, dirty: null };
  }
}

let cached: Provenance | undefined;

/** Computed once per process: the code and machine do not change while it runs. */
export function provenance(): Provenance {
  if (cached) return cached;
  const root = packageRoot();
  let ort = UNKNOWN;
  try { ort = versionIn(createRequire(import.meta.url).resolve('onnxruntime-node/package.json')); } catch { /* not installed */ }
  const cpus = os.cpus();
  cached = {
    git: gitState(root),
    versions: { ivr_r1: packageVersion(), node: process.version, onnxruntime_node: ort },
    platform: {
      os: process.platform, release: os.release(), arch: process.arch,
      cpus: cpus.length, cpu_model: cpus[0]?.model ?? UNKNOWN, memory_gib: Math.round(os.totalmem() / 2 ** 30),
    },
  };
  return cached;
}
