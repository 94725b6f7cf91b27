// IVR-R1 visual-erosion localisation (DESIGN §7.2): on gold solutions corrupted at step k
// (visual claim, logical update, unreadable step), the verifier localizer reports step k, the
// right kind and the verified prefix = gold steps 0..k-1; the 'none' ablation rectifies from
// the start; fully correct rollouts are not localised at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOCALIZERS, noLocalizer, verifierLocalizer } from '../../src/ivr/localize.js';
import { instanceTask } from '../../src/reasoner/task.js';
import {
  FAMILY_IDS, Rng, corruptStep, formatResponse, getSplit, goldResponse, responsePrefix, type Instance,
} from '../../src/tasks/index.js';

const KINDS = ['visual', 'logical', 'format'] as const;
/** 40 training-split and 20 ood instances per family: every training horizon and some longer ones. */
const INSTANCES: Instance[] = FAMILY_IDS.flatMap((f) => [...getSplit(f, 'train', 40, 7000), ...getSplit(f, 'ood', 20, 300)]);

test('corrupted gold at step k: step k, its kind, verified prefix = gold[0..k-1] (every family, kind, k)', async () => {
  const applied: Record<string, number> = {};
  const rng = new Rng(99);
  for (const inst of INSTANCES) {
    for (let k = 0; k < inst.horizon; k++) {
      for (const kind of KINDS) {
        const badStep = corruptStep(inst, k, kind, rng);
        if (badStep === null) continue;
        applied[`${inst.family}/${kind}`] = (applied[`${inst.family}/${kind}`] ?? 0) + 1;
        const steps = [...inst.steps];
        steps[k] = badStep;
        const variants = {
          // the rest of the gold solution and the gold answer after the eroded step
          full: formatResponse(steps, inst.answer),
          // a rollout cut right after the eroded step (ran out of tokens)
          truncated: responsePrefix(steps.slice(0, k + 1)),
          // eroded step, then the rollout stops thinking and answers wrongly
          early: formatResponse(steps.slice(0, k + 1), 'x'),
        };
        for (const [name, text] of Object.entries(variants)) {
          const where: string = `${inst.id} "${inst.question}" k=${k} ${kind} ${name}: ${JSON.stringify(inst.steps[k])} -> ${JSON.stringify(badStep)}`;
          const loc = await verifierLocalizer.localize(instanceTask(inst), text);
          assert.ok(loc, where);
          assert.equal(loc.step, k, where);
          assert.equal(loc.kind, kind, where);
          assert.deepEqual(loc.verifiedPrefix, inst.steps.slice(0, k), where);
          const none = await noLocalizer.localize(instanceTask(inst), text);
          assert.deepEqual(none, { step: 0, kind, verifiedPrefix: [] }, where);
        }
      }
    }
  }
  // Coverage: every family and kind exercised many times (visual/logical are impossible on some steps).
  for (const f of FAMILY_IDS) for (const kind of KINDS) {
    assert.ok((applied[`${f}/${kind}`] ?? 0) >= 40, `only ${applied[`${f}/${kind}`] ?? 0} ${f}/${kind} corruptions: ${JSON.stringify(applied)}`);
  }
});

test('fully correct gold solutions are not localised (null) by either localizer', async () => {
  for (const inst of INSTANCES) {
    const text = goldResponse(inst);
    assert.equal(await verifierLocalizer.localize(instanceTask(inst), text), null, inst.id);
    assert.equal(await noLocalizer.localize(instanceTask(inst), text), null, inst.id);
    // Surrounding whitespace and blank lines inside the think block do not matter.
    const loose = '  ' + text.replace('<think>\n', '<think>\n\n').replace('</think>', '\n</think>\n') + '\n';
    assert.equal(await verifierLocalizer.localize(instanceTask(inst), loose), null, `${inst.id}: ${JSON.stringify(loose)}`);
  }
});

test('structural errors: the slot where the response goes wrong, with its kind', async () => {
  let n = 0;
  for (const inst of INSTANCES.filter((_, i) => i % 3 === 0)) {
    const h = inst.horizon;
    const g = inst.steps;
    const cases: [string, string, number, string][] = [
      ['no <think>', g.join('\n') + `\n</think><answer>${inst.answer}</answer>`, 0, 'format'],
      ['empty response', '', 0, 'format'],
      ['missing </think> after every step', responsePrefix(g), h, 'format'],
      ['missing answer', responsePrefix(g) + '</think>', h, 'format'],
      ['trailing text', goldResponse(inst) + ' and more', h, 'format'],
      ['wrong answer after correct steps', formatResponse(g, wrongAnswer(inst)), h, 'logical'],
      ['a step missing, then the gold answer', formatResponse(g.slice(0, h - 1), inst.answer), h - 1, 'logical'],
      ['one step too many', formatResponse([...g, g[h - 1]!], inst.answer), h, 'logical'],
    ];
    for (const [name, text, step, kind] of cases) {
      const where = `${inst.id} ${name}: ${JSON.stringify(text)}`;
      const loc = await verifierLocalizer.localize(instanceTask(inst), text);
      assert.ok(loc, where);
      assert.equal(loc.step, step, where);
      assert.equal(loc.kind, kind, where);
      assert.deepEqual(loc.verifiedPrefix, g.slice(0, Math.min(step, h)), where);
      assert.deepEqual(await noLocalizer.localize(instanceTask(inst), text), { step: 0, kind, verifiedPrefix: [] }, where);
      n++;
    }
  }
  assert.ok(n >= 400, `${n} cases`);
});

/** A well-formed answer different from the gold one. */
function wrongAnswer(inst: Instance): string {
  if (inst.family === 'grid') return inst.answer === '00' ? '11' : '00';
  return String(Number(inst.answer) + 1);
}

test('localizers have the names the config refers to', () => {
  assert.equal(verifierLocalizer.name, 'verifier');
  assert.equal(noLocalizer.name, 'none');
  assert.deepEqual(Object.keys(LOCALIZERS), ['verifier', 'none']);
  for (const [name, l] of Object.entries(LOCALIZERS)) assert.equal(l.name, name);
});
