#!/usr/bin/env node
// `npm test`'s pretest: makes sure what the test suite needs outside node_modules is there,
// so that the README's test command passes on a fresh machine by itself.
//
// Today that is one thing: headless Chromium for test/report/browser.test.ts, which renders
// the bench report through playwright-core. playwright-core downloads no browser (and a
// browser download from outside the npm registry would not work offline anyway), so the test
// drives Debian's `chromium` package at /usr/bin/chromium (or IVR_CHROMIUM, as
// src/report/render-png.ts reads it).
//
// When it is missing and we can install it (root, apt-get present), we install it
// non-interactively; otherwise, or when that fails, we print ONE line saying what to do and
// exit 1 before any test runs, instead of a failure deep in the test output.
// IVR_NO_INSTALL=1 turns the installing off (the line is printed instead).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const chromium = process.env.IVR_CHROMIUM ?? '/usr/bin/chromium';
const HOW = 'apt-get update && apt-get install -y chromium (Debian/Ubuntu), or set IVR_CHROMIUM=/path/to/chromium';

function fail(line) {
  console.error(`npm test: ${line}`);
  process.exit(1);
}

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Runs an apt-get step quietly; on failure returns its last error line. */
function apt(args) {
  const r = spawnSync('apt-get', args, {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    timeout: 15 * 60_000,
  });
  if (r.status === 0) return null;
  const last = (r.stderr ?? '').trim().split('\n').filter(Boolean).at(-1);
  return `apt-get ${args.at(-1)} ${r.error ? `failed (${r.error.message})` : `exited ${r.status}`}${last ? `: ${last}` : ''}`;
}

function main() {
  if (existsSync(chromium)) return;
  const custom = process.env.IVR_CHROMIUM !== undefined;
  const canInstall = !custom && process.env.IVR_NO_INSTALL !== '1'
    && process.getuid?.() === 0 && onPath('apt-get');
  if (!canInstall) {
    fail(`needs headless Chromium at ${chromium} for the report's browser test: ${HOW}`);
  }
  console.log(`npm test: installing Debian's chromium for the report's browser test (apt-get, non-interactive)...`);
  const problem = apt(['update', '-qq']) ?? apt(['install', '-y', '-qq', 'chromium']);
  if (problem) fail(`could not install chromium (${problem}); install it yourself: ${HOW}`);
  if (!existsSync(chromium)) fail(`chromium was installed but ${chromium} does not exist; set IVR_CHROMIUM=/path/to/chromium`);
}

main();
