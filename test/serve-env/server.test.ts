// `ivr serve-env` in process, on loopback, with real HTTP: OpenRLHF's /get_reward shape and
// rewards that match the scene verifier (what `ivr tasks verify` prints), /v1/verify for
// embedded ids and external records (prior or judge), /v1/rectify through the Re-Reasoning
// Loop on a real `ivr serve` policy server, every refusal a 4xx naming the field, 429 under
// a full queue, and clean shutdown.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { OpenAIClient } from '../../src/client/client.js';
import { RemoteJudge } from '../../src/client/judge.js';
import { RemoteReasoner } from '../../src/client/remote-reasoner.js';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import { createChatServer, type ChatServer } from '../../src/serve/server.js';
import { createEnvServer, type EnvServer } from '../../src/serve-env/server.js';
import { responseOf } from '../../src/serve-env/openrlhf.js';
import { corruptStep, encodePng, formatResponse, generateInstance, goldResponse, renderLarge, Rng, verifyResponse, type Instance } from '../../src/tasks/index.js';
import { completion, listen, readJson, trainedCheckpoint, TRAIN_INSTANCES, type Running } from '../helpers/remote-fixture.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');
const INST = generateInstance('grid', 7, 4);
const GOLD = goldResponse(INST);

/** The gold response with step k replaced by a wrong read of the image. */
function wrongRead(inst: Instance, k: number): string {
  const steps = [...inst.steps];
  steps[k] = corruptStep(inst, k, 'visual', new Rng(1))!;
  return formatResponse(steps, inst.answer);
}
const WRONG = wrongRead(INST, 1);
const pngB64 = (inst: Instance) => encodePng(renderLarge(inst)).toString('base64');

let env: EnvServer;
let policy: ChatServer;
let judge: Running;
let judgeVerdict = { first_error_step: 2 as number | null, kind: 'visual' as string | null, reason: 'not in the image' };

async function post(route: string, body: unknown, opts: { headers?: Record<string, string>; raw?: string; server?: EnvServer } = {}) {
  const res = await fetch((opts.server ?? env).url + route, { method: 'POST', headers: { 'content-type': 'application/json', ...opts.headers }, body: opts.raw ?? JSON.stringify(body) });
  const text = await res.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, headers: res.headers };
}

before(async () => {
  const ckpt = await trainedCheckpoint();
  policy = createChatServer({ policy: loadPolicy(ckpt, 1).policy, modelName: 'tiny', batchWindowMs: 2 });
  await policy.listen(0);
  judge = await listen((req, res) => {
    readJson(req).then(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(completion(JSON.stringify(judgeVerdict))); });
  });
  const reasoner = new RemoteReasoner(new OpenAIClient({ endpoints: [policy.url], maxRetries: 0 }), { model: 'tiny', promptFormat: 'question', imageSize: 48, temperature: 0, topP: 1, maxTokens: 60 });
  env = createEnvServer({ reasoner, judge: new RemoteJudge(new OpenAIClient({ endpoints: [judge.url], maxRetries: 0 }), { model: 'judge', structured: false }), apiKey: 'k3y', rectifier: 'resample' });
  await env.listen(0);
});

after(async () => { await env.close(); await policy.close(); await judge.close(); });

const auth = { authorization: 'Bearer k3y' };

describe('POST /get_reward (OpenRLHF remote reward)', () => {
  test('gold -> 1, a wrong read -> 0 with the eroded step and its kind in extra_logs; scores in 0..1', async () => {
    const prompt = '<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>moves RLLU<|im_end|>\n<|im_start|>assistant\n';
    const r = await post('/get_reward', { query: [prompt + GOLD + '<|im_end|>', prompt + WRONG + '<|im_end|><|endoftext|>'], prompts: [prompt, prompt], labels: [INST.id, INST.id] }, { headers: auth });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.rewards, [1, 0]);
    assert.deepEqual(r.json.scores, [1, 0]);
    assert.deepEqual(r.json.extra_logs.first_error_step, [0, 2]);
    assert.deepEqual(r.json.extra_logs.error_visual, [0, 1]);
    assert.deepEqual(r.json.extra_logs.error_logical, [0, 0]);
    assert.deepEqual(r.json.extra_logs.verified_steps, [4, 1]);
    for (const v of Object.values(r.json.extra_logs) as number[][]) assert.ok(v.every((x) => typeof x === 'number'), 'extra_logs are numbers (OpenRLHF makes tensors of them)');
  });

  test('rewards match `ivr tasks verify` on the same responses', async () => {
    const responses = [GOLD, WRONG, wrongRead(INST, 3), GOLD.replace('<answer>23', '<answer>24'), GOLD.replace('</think>', '')];
    const r = await post('/get_reward?api_key=k3y', { query: responses, prompts: responses.map(() => ''), labels: responses.map(() => INST.id) });
    assert.equal(r.status, 200, 'the key may come in the URL (OpenRLHF sends no headers)');
    const cli = responses.map((text) => spawnSync(process.execPath, [MAIN, 'tasks', 'verify', '--family', 'grid', '--seed', '7', '--horizon', '4'], { input: text, encoding: 'utf8' }).status);
    assert.deepEqual(r.json.rewards, cli.map((code) => (code === 0 ? 1 : 0)));
    assert.deepEqual(r.json.rewards, [1, 0, 0, 0, 0]);
  });

  test('labels may be external records (object or JSON string) with a prior', async () => {
    const rec = { image: `data:image/png;base64,${pngB64(INST)}`, question: INST.question, answer: INST.answer, prior: { family: 'grid', scene: INST.scene } };
    const r = await post('/get_reward', { query: [GOLD, WRONG], prompts: ['', ''], labels: [rec, JSON.stringify(rec)] }, { headers: auth });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(r.json.rewards, [1, 0]);
  });

  test('bad requests get 400s naming the field', async () => {
    const cases: [unknown, string][] = [
      [{ query: [GOLD] }, 'labels'],
      [{ query: [GOLD, GOLD], labels: [INST.id] }, 'labels'],
      [{ query: [GOLD, 3], labels: [INST.id, INST.id] }, 'query[1]'],
      [{ query: [GOLD, GOLD], labels: [INST.id, 'grid-7'] }, 'labels[1]'],
      [{ query: [GOLD], labels: ['maze-1-4'] }, 'labels[0]'],
      [{ query: [GOLD], labels: [INST.id], prompts: [1] }, 'prompts[0]'],
      [{ query: [GOLD], labels: [INST.id], temperature: 1 }, 'temperature'],
      [{ query: [GOLD], labels: [{ question: 'q', answer: '1' }] }, 'labels[0].image'],
    ];
    for (const [body, param] of cases) {
      const r = await post('/get_reward', body, { headers: auth });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.json.error.param, param, r.json.error.message);
      assert.ok(r.json.error.message.startsWith(param), r.json.error.message);
    }
  });

  test('the response is found after the prompt, or after the last assistant marker, end tokens stripped', () => {
    assert.equal(responseOf('PROMPT' + GOLD + '<|im_end|>', 'PROMPT'), GOLD);
    assert.equal(responseOf('<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n' + GOLD + '<|im_end|>\n', 'other'), GOLD);
    assert.equal(responseOf('P<think>\n' + GOLD.slice('<think>\n'.length) + '</s>', 'P<think>\n'), GOLD);
  });
});

describe('POST /v1/verify', () => {
  test('an embedded id: per-step verdicts, first eroded step, kind, verified prefix, feedback', async () => {
    const r = await post('/v1/verify', { task: INST.id, response: WRONG }, { headers: auth });
    assert.equal(r.status, 200);
    const v = verifyResponse(INST, WRONG);
    assert.equal(r.json.localizer, 'verifier');
    assert.equal(r.json.reward, 0);
    assert.deepEqual(r.json.steps.map((s: { verdict: string }) => s.verdict), v.steps.map((s) => s.kind));
    assert.deepEqual(r.json.first_error, { step: 2, kind: 'visual', reason: v.firstErrorReason });
    assert.deepEqual(r.json.verified_prefix, [INST.steps[0]]);
    assert.match(r.json.feedback, /Re-examine the image at step 2/);
    assert.match(r.json.feedback, /Continue with step 2/);
    const ok = await post('/v1/verify', { task: { id: INST.id }, response: GOLD }, { headers: auth });
    assert.equal(ok.json.reward, 1);
    assert.equal(ok.json.feedback, null);
  });

  test('a continuation of a verified prefix is joined to it (the multi-turn loop)', async () => {
    const rest = INST.steps.slice(1).join('\n') + `\n</think><answer>${INST.answer}</answer>`;
    const r = await post('/v1/verify', { task: INST.id, response: rest, prefix: [INST.steps[0]] }, { headers: auth });
    assert.equal(r.json.reward, 1, JSON.stringify(r.json));
    assert.equal(r.json.response, GOLD);
  });

  test('a verified prefix in another valid order than the gold one (chart) is verified and continued', async () => {
    // Swap the first two reads of a chart chain: a valid order, not the gold prefix.
    const chart = Array.from({ length: 50 }, (_, s) => generateInstance('chart', s, 5)).find((i) => /^[a-z]=/.test(i.steps[1]!))!;
    const own = [chart.steps[1]!, chart.steps[0]!];
    const rest = chart.steps.slice(2).join('\n') + `\n</think><answer>${chart.answer}</answer>`;
    const r = await post('/v1/verify', { task: chart.id, response: rest, prefix: own }, { headers: auth });
    assert.equal(r.json.reward, 1, JSON.stringify(r.json));
    const cut = await post('/v1/verify', { task: chart.id, response: formatResponse([...own, '+0=0'], chart.answer) }, { headers: auth });
    assert.deepEqual(cut.json.verified_prefix, own);
    assert.equal(cut.json.first_error.step, 3);
  });

  test('an external record without a prior is judged against its image', async () => {
    judgeVerdict = { first_error_step: 2, kind: 'visual', reason: 'no wall there' };
    const task = { image: `data:image/png;base64,${pngB64(INST)}`, question: 'Where does the walk end?', answer: '23' };
    const r = await post('/v1/verify', { task, response: WRONG }, { headers: auth });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.localizer, 'judge');
    assert.deepEqual(r.json.first_error, { step: 2, kind: 'visual', reason: null });
    assert.deepEqual(r.json.steps.map((s: { verdict: string }) => s.verdict), ['ok', 'visual', 'unchecked', 'unchecked']);
    judgeVerdict = { first_error_step: null, kind: null, reason: 'fine' };
    const ok = await post('/v1/verify', { task, response: GOLD }, { headers: auth });
    assert.equal(ok.json.reward, 1);
  });

  test('refusals: 400 naming the field, 401, 404, 405, 415, 413, 421', async () => {
    const cases: [unknown, string][] = [
      [{ response: GOLD }, 'task'],
      [{ task: INST.id }, 'response'],
      [{ task: INST.id, response: 5 }, 'response'],
      [{ task: { image: 'data:image/png;base64,AAAA', question: 'q', answer: '1' }, response: GOLD }, 'task.image'],
      [{ task: { image: `data:image/png;base64,${pngB64(INST)}`, question: INST.question, answer: '99', prior: { family: 'grid', scene: INST.scene } }, response: GOLD }, 'task.answer'],
      [{ task: { image: `data:image/png;base64,${pngB64(INST)}`, question: INST.question, answer: '23', prior: { family: 'grid', scene: {} } }, response: GOLD }, 'task.prior.scene'],
      [{ task: INST.id, response: GOLD, prefix: ['a\nb'] }, 'prefix'],
      [{ task: INST.id, response: GOLD, extra: 1 }, 'extra'],
    ];
    for (const [body, param] of cases) {
      const r = await post('/v1/verify', body, { headers: auth });
      assert.equal(r.status, 400, JSON.stringify(body).slice(0, 200));
      assert.ok(r.json.error.param === param || r.json.error.param.startsWith(param), `${param}: ${r.json.error.param} ${r.json.error.message}`);
    }
    assert.equal((await post('/v1/verify', { task: INST.id, response: GOLD })).status, 401);
    assert.equal((await post('/v1/nothing', {}, { headers: auth })).status, 404);
    assert.equal((await fetch(env.url + '/v1/verify', { headers: auth })).status, 405);
    assert.equal((await fetch(env.url + '/v1/verify', { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '{}' })).status, 415);
    assert.equal((await post('/v1/verify', null, { headers: auth, raw: '{' })).status, 400);
    assert.equal((await fetch(env.url + '/health')).status, 200);
    const u = new URL(env.url);
    const evil = await new Promise<number>((resolve, reject) => {
      http.get({ host: u.hostname, port: u.port, path: '/health', headers: { host: 'evil.example' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
    });
    assert.equal(evil, 421, 'a Host naming another site (DNS rebinding) is refused');
  });

  test('without a judge, a task without a prior is refused naming task.prior', async () => {
    const bare = createEnvServer({});
    await bare.listen(0);
    try {
      const r = await post('/v1/verify', { task: { image: `data:image/png;base64,${pngB64(INST)}`, question: 'q', answer: '23' }, response: GOLD }, { server: bare });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.param, 'task.prior');
      const rect = await post('/v1/rectify', { task: INST.id, response: WRONG }, { server: bare });
      assert.equal(rect.status, 501);
      const big = await fetch(bare.url + '/v1/verify', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(33 << 20) });
      assert.equal(big.status, 413);
    } finally {
      await bare.close();
    }
  });
});

describe('POST /v1/rectify (the Re-Reasoning Loop through `ivr serve`)', () => {
  test('a wrong read is rectified from its verified prefix by the policy; spans are marked', async () => {
    const inst = TRAIN_INSTANCES[0]!;
    const wrong = wrongRead(inst, 1);
    const r = await post('/v1/rectify', { task: inst.id, response: wrong, rounds: 3, seed: 1 }, { headers: auth });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(r.json.status, 'rectified', JSON.stringify(r.json));
    assert.equal(r.json.policy, 'tiny');
    assert.deepEqual(r.json.first_error.step, 2);
    assert.deepEqual(r.json.verified_prefix, [inst.steps[0]]);
    assert.ok(verifyResponse(inst, r.json.text).complete, r.json.text);
    assert.equal(r.json.pieces.map((p: { text: string }) => p.text).join(''), r.json.text);
    assert.ok(r.json.pieces.some((p: { text: string; rewritten: boolean }) => p.text === inst.steps[0] + '\n' && !p.rewritten), 'the verified prefix is kept as the policy\'s own');
    assert.ok(r.json.rounds >= 1 && r.json.loop_tokens > 0);
  });

  test('the oracle rectifier marks the step the prior rewrote', async () => {
    const inst = TRAIN_INSTANCES[1]!;
    const r = await post('/v1/rectify', { task: inst.id, response: wrongRead(inst, 1), rectifier: 'oracle', rounds: 2 }, { headers: auth });
    assert.equal(r.status, 200);
    if (r.json.status === 'rectified') assert.ok(r.json.pieces.some((p: { rewritten: boolean; text: string }) => p.rewritten && p.text === inst.steps[1] + '\n'), JSON.stringify(r.json.pieces));
    assert.equal(r.json.rewritten_steps > 0 || r.json.status === 'failed', true);
  });

  test('a verified response needs nothing; bad loop parameters are 400s naming the field', async () => {
    const ok = await post('/v1/rectify', { task: INST.id, response: GOLD }, { headers: auth });
    assert.equal(ok.json.status, 'verified');
    for (const [k, v] of [['rounds', 0], ['rounds', 99], ['rectifier', 'magic'], ['oracle_fallback', 'yes'], ['seed', -1]] as const) {
      const r = await post('/v1/rectify', { task: INST.id, response: WRONG, [k]: v }, { headers: auth });
      assert.equal(r.status, 400);
      assert.equal(r.json.error.param, k);
    }
  });
});

describe('limits and shutdown', () => {
  test('a full queue answers 429 with Retry-After; close() lets running requests finish', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const slowJudge = await listen((req, res) => {
      readJson(req).then(() => gate).then(() => { res.writeHead(200, { 'content-type': 'application/json' }); res.end(completion(JSON.stringify({ first_error_step: null, kind: null, reason: 'ok' }))); });
    });
    const small = createEnvServer({ judge: new RemoteJudge(new OpenAIClient({ endpoints: [slowJudge.url], maxRetries: 0 }), { model: 'j', structured: false }), concurrency: 1, maxQueue: 1 });
    await small.listen(0);
    const task = { image: `data:image/png;base64,${pngB64(INST)}`, question: 'q', answer: '23' };
    const inflight = [post('/v1/verify', { task, response: GOLD }, { server: small }), post('/v1/verify', { task, response: GOLD }, { server: small })];
    while (small.gate.metrics.queued < 1) await new Promise((r) => setTimeout(r, 5));
    const refused = await post('/v1/verify', { task, response: GOLD }, { server: small });
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    const closing = small.close();
    release();
    const done = await Promise.all(inflight);
    assert.deepEqual(done.map((d) => d.status), [200, 200]);
    await closing;
    await slowJudge.close();
  });
});
