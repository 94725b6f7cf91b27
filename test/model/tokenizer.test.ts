// The character tokenizer: exact round trip of every task text, the format tags as single
// tokens, unknown characters as <unk> (never a throw) decoding to "?", JSON round trip and
// clear errors for a bad tokenizer.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_VLM } from '../../src/model/config.js';
import { SPECIALS, Tokenizer } from '../../src/model/tokenizer.js';
import { FAMILY_IDS, getSplit, goldResponse, promptText, instructionPrompt } from '../../src/tasks/index.js';

const tok = new Tokenizer();
const TAGS = ['<think>', '</think>', '<answer>', '</answer>'];

test('fixed ids: pad 0, bos 1, eos 2, unk 3; vocabulary fits the default model', () => {
  assert.deepEqual([tok.pad, tok.bos, tok.eos, tok.unk], [0, 1, 2, 3]);
  assert.deepEqual([tok.id('<pad>'), tok.id('<bos>'), tok.id('<eos>'), tok.id('<unk>')], [0, 1, 2, 3]);
  assert.equal(tok.vocabSize, SPECIALS.length + 96); // specials + '\n' + printable ASCII
  assert.ok(tok.vocabSize <= DEFAULT_VLM.vocab);
  assert.throws(() => tok.id('<nope>'), /no token "<nope>"/);
});

test('round trip of prompts and gold responses of 600 instances (train + ood, all families), no <unk>', () => {
  let n = 0;
  for (const f of FAMILY_IDS) {
    for (const inst of [...getSplit(f, 'train', 150), ...getSplit(f, 'ood', 50)]) {
      for (const text of [promptText(inst), goldResponse(inst), instructionPrompt(inst)]) {
        const ids = tok.encode(text);
        assert.ok(!ids.includes(tok.unk), `${inst.id}: <unk> in ${JSON.stringify(text)}`);
        assert.ok(ids.every((i) => Number.isInteger(i) && i >= 0 && i < tok.vocabSize));
        assert.equal(tok.decode(ids), text, inst.id);
      }
      // Each gold response holds exactly one of each tag, each as one token.
      const ids = tok.encode(goldResponse(inst));
      for (const tag of TAGS) assert.equal(ids.filter((i) => i === tok.id(tag)).length, 1, `${inst.id} ${tag}`);
      assert.equal(ids.length, goldResponse(inst).length - TAGS.reduce((a, t) => a + t.length - 1, 0));
      n++;
    }
  }
  assert.equal(n, 600);
});

test('tags are single tokens, also back to back and next to look-alike text', () => {
  for (const tag of TAGS) assert.deepEqual(tok.encode(tag), [tok.id(tag)]);
  assert.deepEqual(tok.encode('</think><answer>7</answer>'), [tok.id('</think>'), tok.id('<answer>'), tok.encode('7')[0], tok.id('</answer>')]);
  // Incomplete or unknown tags are plain characters and still round-trip.
  for (const s of ['<think', '</answer', '<', '< think>', '<b>', '<<think>>', 'a<answer>b']) assert.equal(tok.decode(tok.encode(s)), s, s);
  assert.equal(tok.encode('<think').length, 6);
  assert.deepEqual(tok.encode('<<think>>'), [tok.encode('<')[0], tok.id('<think>'), tok.encode('>')[0]]);
  // Control specials are never produced from text: "<eos>" written in a text is 5 characters
  // (it round-trips), so a response cannot inject an end-of-sequence or padding token.
  for (const s of ['<pad>', '<bos>', '<eos>', '<unk>']) {
    const ids = tok.encode(s);
    assert.equal(ids.length, 5, s);
    assert.ok(!ids.some((i) => i < 4), s);
    assert.equal(tok.decode(ids), s);
  }
  assert.equal(tok.decode([tok.bos, ...tok.encode('ab'), tok.eos, tok.pad]), 'ab');
});

test('unknown characters map to <unk> without throwing and decode to "?"', () => {
  assert.deepEqual(tok.encode('€'), [tok.unk]);
  // An astral-plane emoji (a surrogate pair in UTF-16) is one unknown character, not two.
  assert.deepEqual(tok.encode('😀'), [tok.unk]);
  assert.deepEqual(tok.encode('a€b😀\tc'), [...tok.encode('a'), tok.unk, ...tok.encode('b'), tok.unk, tok.unk, ...tok.encode('c')]);
  assert.equal(tok.decode(tok.encode('a€b😀\tc')), 'a?b??c');
  // Lone surrogates, NUL, combining marks, CR, non-breaking space: all <unk>.
  for (const s of ['\uD800', '\uDC00', '\u0000', 'e\u0301', '\r', '\u00a0', 'ü']) {
    const ids = tok.encode(s);
    assert.ok(ids.includes(tok.unk), JSON.stringify(s));
    assert.ok(ids.every((i) => i >= 0 && i < tok.vocabSize));
  }
  assert.deepEqual(tok.encode(''), []);
  // Out-of-range ids (e.g. sampled from a model with a larger vocab) decode as "?" too.
  assert.equal(tok.decode([tok.vocabSize, 1000, -1]), '???');
});

test('toJson / fromJson round trip through JSON text', () => {
  const back = Tokenizer.fromJson(JSON.parse(JSON.stringify(tok.toJson())));
  assert.deepEqual(back.toJson(), tok.toJson());
  assert.equal(back.vocabSize, tok.vocabSize);
  const sample = goldResponse(getSplit('grid', 'train', 1)[0]!) + '€';
  assert.deepEqual(back.encode(sample), tok.encode(sample));
  for (let i = 0; i < tok.vocabSize; i++) assert.equal(back.decode([i]), tok.decode([i]));
  // A custom tokenizer survives the round trip too.
  const custom = new Tokenizer([...SPECIALS, '<img>'], 'abc\n');
  const c2 = Tokenizer.fromJson(JSON.parse(JSON.stringify(custom.toJson())));
  assert.deepEqual(c2.encode('ab<img>cz'), [9, 10, 8, 11, 3]);
  assert.equal(c2.decode(c2.encode('ab<img>cz')), 'ab<img>c?');
});

test('a bad tokenizer.json is a clear error naming the source', () => {
  const src = 'ckpt/tokenizer.json';
  const bad: unknown[] = [
    null, 42, 'x', [], {},
    { kind: 'bpe', specials: [...SPECIALS], chars: 'abc' },
    { kind: 'ivr-char-v1', specials: 'nope', chars: 'abc' },
    { kind: 'ivr-char-v1', specials: [...SPECIALS] },
    { kind: 'ivr-char-v1', specials: [...SPECIALS], chars: 12 },
  ];
  for (const j of bad) {
    assert.throws(() => Tokenizer.fromJson(j, src), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /^ckpt\/tokenizer\.json: not an ivr-char-v1 tokenizer/, JSON.stringify(j));
      return true;
    });
  }
  // Specials in the wrong order would silently renumber pad/bos/eos/unk: refused.
  assert.throws(() => Tokenizer.fromJson({ kind: 'ivr-char-v1', specials: ['<bos>', '<pad>', '<eos>', '<unk>'], chars: 'ab' }, src), /specials must start with <pad>, <bos>, <eos>, <unk>/);
  assert.throws(() => Tokenizer.fromJson({ kind: 'ivr-char-v1', specials: [], chars: 'ab' }, src), /specials must start with/);
});
