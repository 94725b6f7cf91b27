// A soak of /get_reward: waves of 200 concurrent OpenRLHF-shaped requests against an
// `ivr serve-env` process with a small queue. Every answer is a 200 or a 429 (never a 5xx
// or a dropped connection), the 200s carry the right rewards, and the server's memory stays
// flat from the second wave to the last.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { corruptStep, formatResponse, generateInstance, goldResponse, Rng } from '../../src/tasks/index.js';
import { listeningUrl } from '../helpers/serve-child.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
let child: ChildProcessWithoutNullStreams;
let url = '';

before(async () => {
  child = spawn(process.execPath, [MAIN, 'serve-env', '--port', '0', '--concurrency', '4', '--max-queue', '120', '--quiet'], { stdio: 'pipe' });
  url = await listeningUrl(child, 30_000);
});

after(async () => {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.on('exit', r));
  child.kill('SIGTERM');
  await exited;
});

test('200 concurrent /get_reward requests: only 2xx/429, right rewards, flat memory', async () => {
  const insts = [generateInstance('grid', 7, 4), generateInstance('chart', 9, 4), generateInstance('shapes', 5, 3)];
  const samples = insts.flatMap((inst) => {
    const steps = [...inst.steps];
    steps[0] = corruptStep(inst, 0, 'visual', new Rng(1))!;
    return [{ q: goldResponse(inst), id: inst.id, r: 1 }, { q: formatResponse(steps, inst.answer), id: inst.id, r: 0 }];
  });
  const body = JSON.stringify({ query: samples.map((s) => s.q), prompts: samples.map(() => ''), labels: samples.map((s) => s.id) });
  const rss: number[] = [];
  const seen: Record<number, number> = {};
  for (let wave = 0; wave < 4; wave++) {
    const replies = await Promise.all(Array.from({ length: 200 }, async () => {
      const res = await fetch(url + '/get_reward', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const json = await res.json() as { rewards?: number[] };
      return { status: res.status, json };
    }));
    for (const r of replies) {
      seen[r.status] = (seen[r.status] ?? 0) + 1;
      assert.ok(r.status === 200 || r.status === 429, `status ${r.status}`);
      if (r.status === 200) assert.deepEqual(r.json.rewards, samples.map((s) => s.r));
    }
    const m = await (await fetch(url + '/metrics')).json() as { memory: { rssBytes: number } };
    rss.push(m.memory.rssBytes);
  }
  assert.ok((seen[200] ?? 0) > 0, JSON.stringify(seen));
  const growth = (rss[rss.length - 1]! - rss[1]!) / 2 ** 20;
  assert.ok(growth < 40, `RSS grew ${growth.toFixed(1)} MiB from wave 2 to 4 (${rss.map((b) => (b / 2 ** 20).toFixed(0)).join(', ')} MiB)`);
});
