// Issue 25 item 2: every export format is servable by `ivr serve` as exported. The default
// user text of the trl, verl and LLaMA-Factory exports is the self-contained instruction
// (grammar, format, question: ~800 tokens), which the compact model's 320-token context
// refused with a 400; the server now reads it, and the `<image>` placeholders, as the bare
// question the model was trained on.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parquetReadObjects } from 'hyparquet';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import { createChatServer, type ChatServer } from '../../src/serve/server.js';
import { modelPrompt } from '../../src/serve/chat-template.js';
import { exportDataset } from '../../src/tasks/export/index.js';
import { getSplit, instructionPrompt, promptText } from '../../src/tasks/index.js';
import { tempDir } from '../helpers/remote-fixture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BASE = path.join(ROOT, 'checkpoints', 'base');
const instances = [...getSplit('grid', 'test', 1), ...getSplit('chart', 'test', 1)];
let server: ChatServer;
let dir: string;

const dataUrl = (bytes: Uint8Array) => 'data:image/png;base64,' + Buffer.from(bytes).toString('base64');

async function chat(image: string, text: string): Promise<{ status: number; json: any }> {
  const res = await fetch(`${server.url}/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'base', max_tokens: 2, temperature: 0, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: image } }, { type: 'text', text }] }] }),
  });
  return { status: res.status, json: await res.json() };
}

before(async () => {
  dir = tempDir('export-serve');
  for (const format of ['trl', 'verl', 'llamafactory'] as const) exportDataset(format, instances, dir, `x-${format}`);
  server = createChatServer({ policy: loadPolicy(BASE, 1).policy, modelName: 'base', batchWindowMs: 5 });
  await server.listen(0);
});
after(async () => { await server.close(); });

test('modelPrompt reads the instruction prompt as its question and drops <image>', () => {
  for (const inst of instances) {
    assert.equal(modelPrompt(instructionPrompt(inst)), inst.question);
    assert.equal(modelPrompt('<image>' + instructionPrompt(inst)), inst.question);
    assert.equal(modelPrompt(promptText(inst)), promptText(inst), 'the bare question is unchanged');
  }
  assert.equal(modelPrompt('Question: what is 2+2?'), 'Question: what is 2+2?', 'no instruction, no rewrite');
});

test('each export format, sent as exported, is answered (200) and the model reads the bare question', async () => {
  const requests: { what: string; id: string; image: string; text: string }[] = [];
  for (const line of fs.readFileSync(path.join(dir, 'x-trl.trl.jsonl'), 'utf8').trim().split('\n')) {
    const r = JSON.parse(line);
    const text = r.prompt[0].content.find((p: { type: string }) => p.type === 'text').text;
    requests.push({ what: `trl ${r.id}`, id: r.id, image: dataUrl(fs.readFileSync(path.join(dir, r.images[0]))), text });
  }
  const verl = await parquetReadObjects({ file: (() => { const b = fs.readFileSync(path.join(dir, 'x-verl.parquet')); return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength); })(), utf8: false });
  for (const r of verl as any[]) requests.push({ what: `verl ${r.extra_info.id}`, id: r.extra_info.id, image: dataUrl(r.images[0].bytes), text: r.prompt[0].content });
  for (const r of JSON.parse(fs.readFileSync(path.join(dir, 'x-llamafactory.json'), 'utf8'))) {
    requests.push({ what: `llamafactory ${r.images[0]}`, id: path.basename(r.images[0]).replace(/\.large\.png$/, ''), image: dataUrl(fs.readFileSync(path.join(dir, r.images[0]))), text: r.messages[0].content });
  }
  assert.equal(requests.length, 3 * instances.length);
  for (const q of requests) {
    const inst = instances.find((i) => i.id === q.id)!;
    assert.ok(inst, `${q.what}: an exported instance`);
    assert.ok(q.text.includes('Respond exactly in this format'), `${q.what}: exported with the instruction prompt`);
    const got = await chat(q.image, q.text);
    assert.equal(got.status, 200, `${q.what}: ${JSON.stringify(got.json)}`);
    const bare = await chat(q.image, promptText(inst));
    assert.equal(got.json.usage.prompt_tokens, bare.json.usage.prompt_tokens, `${q.what}: the model reads what it reads for the bare question`);
    assert.equal(got.json.choices[0].message.content, bare.json.choices[0].message.content, `${q.what}: same greedy reply as for the bare question`);
  }
});
