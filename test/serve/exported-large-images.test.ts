// Issue 25 item 1: the image a user sends, and the image in every export, is one the model
// reads as it reads its training images. `ivr tasks export` writes each instance's 384×384
// PNG; sent to a real `ivr serve` (checkpoints/base, a child process on loopback) with the
// bare question, every greedy reply must equal the library's greedy response on the same
// instance from its 48×48 image (what `ivr eval` runs). The large image used to be a
// separate drawing with labels and gridlines, which the server's area resize turned into a
// picture the model had never seen (malformed grid replies); now it is the small image
// scaled ×8, and the resize gives the small image back exactly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluatePolicy } from '../../src/eval/evaluate.js';
import { loadPolicy } from '../../src/model/checkpoint-io.js';
import { exportDataset } from '../../src/tasks/export/index.js';
import { decodePng, getSplit, loadInstances, promptText, type Instance } from '../../src/tasks/index.js';
import { listeningUrl } from '../helpers/serve-child.js';
import { tempDir } from '../helpers/remote-fixture.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BASE = path.join(ROOT, 'checkpoints', 'base');
const MAIN = path.join(ROOT, 'dist', 'src', 'cli', 'main.js');
// Grid is what the issue measured (every reply malformed); one instance of each other family
// checks their renderings too.
const INSTANCES: Instance[] = [...getSplit('grid', 'test', 8), ...getSplit('shapes', 'test', 2), ...getSplit('chart', 'test', 2)];
const MAX_TOKENS = 96;

let child: ChildProcessWithoutNullStreams;
let url = '';

before(async () => {
  child = spawn(process.execPath, [MAIN, 'serve', '--checkpoint', BASE, '--port', '0', '--model-name', 'base', '--threads', '1'], { stdio: 'pipe' });
  url = await listeningUrl(child, 60_000);
});
after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });

async function reply(pngFile: string, question: string): Promise<string> {
  const image = 'data:image/png;base64,' + fs.readFileSync(pngFile).toString('base64');
  const res = await fetch(`${url}/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      model: 'base', temperature: 0, max_tokens: MAX_TOKENS,
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: image } }, { type: 'text', text: question }] }],
    }),
  });
  const json = await res.json() as any;
  assert.equal(res.status, 200, JSON.stringify(json));
  return json.choices[0].message.content;
}

test('exported 384x384 PNGs served to ivr serve get the greedy replies the model gives on the 48x48 images', async () => {
  const dir = tempDir('export-large');
  const { file } = exportDataset('jsonl', INSTANCES, dir, 'mixed-test'); // what `ivr tasks export` writes
  const loaded = loadInstances(file);
  for (const inst of loaded) {
    const large = decodePng(fs.readFileSync(inst.images!.large));
    assert.deepEqual([large.width, large.height], [384, 384], `${inst.id}: the exported large image`);
  }
  const { policy } = loadPolicy(BASE, 1);
  const library = await evaluatePolicy(policy, INSTANCES, { temperature: 0, topP: 1, samples: 1, seed: 0, maxNew: MAX_TOKENS });
  for (const [i, inst] of loaded.entries()) {
    const expected = library.results[i]!;
    assert.equal(expected.id, inst.id);
    const got = await reply(inst.images!.large, promptText(inst).trimEnd());
    assert.equal(got, expected.responses[0], `${inst.id} "${inst.question}": the large image is read as the small one`);
    // The comparison means something where the base reads the picture: its grid replies are
    // well-formed (the old large images gave malformed ones). (The base predates the shapes
    // queries of one row or column, so its shapes replies need not be.)
    if (inst.family === 'grid') assert.ok(expected.verification.formatValid, `${inst.id}: ${expected.responses[0]}`);
  }
});
