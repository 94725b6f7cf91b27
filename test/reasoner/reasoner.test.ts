// The reasoner port (DESIGN §2): the local compact model and the same checkpoint served by
// `ivr serve` on loopback, driven through the one interface, give the same text for the same
// seeds (sampling, plain and re-grounded continuation), and `evaluateReasoner` on the remote
// one reports what `evaluatePolicy` reports on the local one.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicy, evaluateReasoner } from '../../src/eval/evaluate.js';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import type { Policy } from '../../src/model/policy.js';
import { LocalReasoner } from '../../src/reasoner/local-reasoner.js';
import type { Reasoner } from '../../src/reasoner/reasoner.js';
import { OpenAIClient } from '../../src/client/client.js';
import { joinContinuation, RemoteReasoner } from '../../src/client/remote-reasoner.js';
import { createChatServer, type ChatServer } from '../../src/serve/server.js';
import { fromInstance, type RemoteTask } from '../../src/client/task.js';
import { goldResponse, responsePrefix } from '../../src/tasks/index.js';
import { tempDir, trainedCheckpoint, TRAIN_INSTANCES, UNSEEN_INSTANCES } from '../helpers/remote-fixture.js';

const INSTANCES = [...TRAIN_INSTANCES, ...UNSEEN_INSTANCES];
const SAMPLING = { temperature: 1, topP: 1, maxTokens: 60 };
let server: ChatServer;
let policy: Policy;
let local: Reasoner;
let remote: Reasoner;
let tasks: RemoteTask[];
let renderDir: string;

before(async () => {
  const ckpt = await trainedCheckpoint();
  policy = loadPolicy(ckpt, 1).policy;
  server = createChatServer({ policy: loadPolicy(ckpt, 1).policy, modelName: 'tiny', batchWindowMs: 10 });
  await server.listen(0);
  local = new LocalReasoner(policy, SAMPLING, 'tiny');
  remote = new RemoteReasoner(new OpenAIClient({ endpoints: [server.url], retryBaseMs: 10 }), { model: 'tiny', promptFormat: 'question', imageSize: 48, ...SAMPLING });
  renderDir = tempDir('port');
  tasks = INSTANCES.map((i) => fromInstance(i, renderDir));
});
after(async () => { await server.close(); });

test('sample: the same responses from both reasoners for the same request seeds', async () => {
  const reqs = tasks.slice(0, 3).map((task, i) => ({ task, n: 2, seed: 100 + 10 * i }));
  const [a, b] = [await local.sample(reqs, { seed: 0 }), await remote.sample(reqs, { seed: 0 })];
  assert.deepEqual(a.map((r) => r.map((x) => x.text)), b.map((r) => r.map((x) => x.text)));
  assert.deepEqual(a.map((r) => r.length), [2, 2, 2]);
});

test('continueFrom: the verified prefix is kept and both reasoners continue alike, plain and re-grounded', async () => {
  for (const reground of [false, true]) {
    const reqs = tasks.slice(2, 5).map((task, i) => ({ task, steps: task.inst!.steps.slice(0, i % 2), reground, seed: 7 + i }));
    const [a, b] = [await local.continueFrom(reqs, { seed: 0 }), await remote.continueFrom(reqs, { seed: 0 })];
    // The same model writes the same reply; a remote reasoner reads a reply to the re-grounding
    // turn that starts with <think> as a new whole response (a chat VLM may answer that turn
    // so), the local one as the continuation it is in the same text.
    const written = a.map((r, i) => r!.text.slice(responsePrefix(reqs[i]!.steps).length));
    assert.deepEqual(b.map((r) => r!.text), written.map((w, i) => joinContinuation(reqs[i]!.steps, w)), `reground ${reground}`);
    reqs.forEach((r, i) => assert.ok(a[i]!.text.startsWith('<think>\n' + r.steps.map((s) => s + '\n').join('')), `reground ${reground}: prefix kept`));
  }
});

test('ivr eval through the port: a served model evaluates like the local one (greedy)', async () => {
  const maxNew = Math.max(...INSTANCES.map((i) => policy.tokenizer.encode(goldResponse(i)).length)) + 8;
  const opts = { temperature: 0, topP: 1, samples: 1, seed: 0, maxNew };
  const a = await evaluatePolicy(policy, INSTANCES, opts);
  const greedy = new RemoteReasoner(new OpenAIClient({ endpoints: [server.url], retryBaseMs: 10 }), { model: 'tiny', promptFormat: 'question', imageSize: 48, temperature: 0, topP: 1, maxTokens: maxNew });
  const b = await evaluateReasoner(greedy, INSTANCES, opts, undefined, (i) => fromInstance(i, renderDir));
  assert.deepEqual(b.results.map((r) => r.responses), a.results.map((r) => r.responses));
  assert.equal(b.accuracy, a.accuracy);
  assert.deepEqual(b.first_error_hist, a.first_error_hist);
  assert.ok(a.accuracy > 0, 'the fixture answers its training instances');
});
