// Shared pieces of the remote tests: small checkpoints, exported task files, a server on
// loopback, and tiny real HTTP servers standing in for other services (a flaky proxy, an
// external judge VLM).
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AdamState } from '../../src/engine/optim.js';
import { savePolicy } from '../../src/model/checkpoint-io.js';
import type { VlmConfig } from '../../src/model/config.js';
import { Policy } from '../../src/model/policy.js';
import { SftStepper, sftBatch } from '../../src/sft/trainer.js';
import { exportInstances, generateInstance, goldResponse, type Instance } from '../../src/tasks/index.js';

export const SMALL_CFG: VlmConfig = { vocab: 112, dim: 32, layers: 1, heads: 2, mlpRatio: 2, maxText: 96, imageSize: 48, patch: 8 };
const TRAINED_CFG: VlmConfig = { vocab: 112, dim: 48, layers: 2, heads: 2, mlpRatio: 4, maxText: 96, imageSize: 48, patch: 8 };

const temps: string[] = [];
process.on('exit', () => { for (const d of temps) fs.rmSync(d, { recursive: true, force: true }); });

/** A fresh temporary directory, removed when the test process exits. */
export function tempDir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `ivr-remote-${tag}-`));
  temps.push(d);
  return d;
}

/** An untrained small checkpoint (enough for protocol tests). */
export function untrainedCheckpoint(): string {
  const dir = path.join(tempDir('ckpt'), 'tiny');
  savePolicy(dir, Policy.init(SMALL_CFG, 11, undefined, 1));
  return dir;
}

/** The instances the trained test checkpoint memorises (grid, horizon 2). */
export const TRAIN_INSTANCES: Instance[] = [101, 102, 103, 104].map((s) => generateInstance('grid', s, 2));
/** Instances it has never seen (its rollouts on them are mostly wrong). */
export const UNSEEN_INSTANCES: Instance[] = [201, 202].map((s) => generateInstance('grid', s, 2));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A small checkpoint SFT'd to (near) memorise TRAIN_INSTANCES, cached in os.tmpdir() by a
 * hash of its recipe and the model code, so the remote tests train it once per machine.
 */
export async function trainedCheckpoint(): Promise<string> {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const h = createHash('sha256').update('remote-trained-v1').update(JSON.stringify(TRAINED_CFG)).update(TRAIN_INSTANCES.map((i) => i.id).join(','));
  for (const rel of ['../../src/model/vlm.js', '../../src/sft/trainer.js', '../../src/model/tokenizer.js', '../../src/model/policy.js']) {
    const f = path.join(here, rel);
    if (fs.existsSync(f)) h.update(fs.readFileSync(f));
  }
  const root = path.join(os.tmpdir(), 'ivr-r1-test-cache');
  fs.mkdirSync(root, { recursive: true });
  const dir = path.join(root, `remote-${h.digest('hex').slice(0, 16)}`);
  const ready = () => fs.existsSync(path.join(dir, 'model.safetensors')) && fs.existsSync(path.join(dir, 'config.json'));
  const lock = `${dir}.lock`;
  while (!ready()) {
    try {
      fs.mkdirSync(lock);
    } catch {
      const st = fs.statSync(lock, { throwIfNoEntry: false });
      if (st && Date.now() - st.mtimeMs > 5 * 60_000) fs.rmSync(lock, { recursive: true, force: true });
      await sleep(300);
      continue;
    }
    try {
      if (!ready()) {
        const policy = Policy.init(TRAINED_CFG, 5, undefined, 1);
        const state = AdamState.zeros(policy.params.specs);
        const stepper = new SftStepper(policy, { weightDecay: 0, maxGradNorm: 1 });
        const batch = sftBatch(policy, TRAIN_INSTANCES.map((inst) => ({ inst, response: goldResponse(inst) })));
        const step = await stepper.get(batch.T);
        let loss = Infinity;
        while (state.step < 300 && loss > 0.03) loss = (await step.run(policy.params, state, batch.feeds, 4e-3)).loss;
        const work = `${dir}.work-${process.pid}`;
        fs.rmSync(work, { recursive: true, force: true });
        savePolicy(work, policy, { note: 'remote test fixture', loss });
        fs.renameSync(work, dir);
      }
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
  return dir;
}

/** Exports instances to DIR/tasks.jsonl with their PNGs; returns the file. */
export function exportTasks(dir: string, instances: Instance[], name = 'tasks'): string {
  return exportInstances(instances, dir, name).file;
}

export function pngDataUrl(file: string): string {
  return 'data:image/png;base64,' + fs.readFileSync(file).toString('base64');
}

export interface Running { url: string; server: http.Server; close: () => Promise<void>; count: () => number }

/** Starts a plain node:http server on loopback. */
export async function listen(handler: http.RequestListener): Promise<Running> {
  let n = 0;
  const server = http.createServer((req, res) => { n++; handler(req, res); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/v1`, server, count: () => n,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

/**
 * A real HTTP proxy in front of `target` that answers every `failEvery`-th request with a
 * 500 (and, optionally, drops every `dropEvery`-th connection without an answer).
 */
export async function flakyProxy(target: string, failEvery: number, dropEvery = 0): Promise<Running & { failed: () => number; dropped: () => number }> {
  const t = new URL(target);
  let k = 0;
  let failed = 0;
  let dropped = 0;
  const run = await listen((req, res) => {
    k++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (dropEvery > 0 && k % dropEvery === 0) { dropped++; req.socket.destroy(); return; }
      if (failEvery > 0 && k % failEvery === 0) {
        failed++;
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'injected failure', type: 'server_error', param: null, code: null } }));
        return;
      }
      const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: (req.url ?? '/'), headers: { ...req.headers, host: t.host } }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', () => { res.writeHead(502); res.end(); });
      up.end(Buffer.concat(chunks));
    });
  });
  return { ...run, failed: () => failed, dropped: () => dropped };
}

/** Reads a JSON request body. */
export function readJson(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => { try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch (e) { reject(e); } });
    req.on('error', reject);
  });
}

export function completion(content: string, model = 'judge'): string {
  return JSON.stringify({ id: 'x', object: 'chat.completion', created: 0, model, choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
}
