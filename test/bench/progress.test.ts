// Issue 25 item 7: `ivr bench`'s progress moved only when a whole child run ended ("eta 2s"
// before a 46 s run). A running child now counts by the share of its token budget spent,
// read from the metrics.jsonl it has written so far.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { childProgress } from '../../src/bench/runner.js';

test('childProgress: RL by rollout tokens, SFT by trained tokens, 0 before the first row', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-bench-progress-'));
  try {
    assert.deepEqual(childProgress(dir, 'rl', 30000), { fraction: 0, label: 'starting' });
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), [{ iter: 1, gen_tokens_total: 5000 }, { iter: 2, gen_tokens_total: 12000 }].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const rl = childProgress(dir, 'rl', 30000);
    assert.equal(rl.fraction, 0.4);
    assert.match(rl.label, /it 2, 40% of tokens/);
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), [{ step: 1, tokens: 6000 }, { step: 2, tokens: 6000 }, { step: 3, tokens: 6000 }].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const sft = childProgress(dir, 'sft', 30000);
    assert.equal(sft.fraction, 0.6);
    assert.match(sft.label, /step 3, 60% of tokens/);
    assert.equal(childProgress(dir, 'sft', 10000).fraction, 1, 'capped at the budget');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
