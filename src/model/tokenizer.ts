// Character-level tokenizer for the task grammar, with the format tags as single tokens.
// Saved beside the checkpoint (tokenizer.json) so a checkpoint always decodes the same way.
// Unknown characters map to <unk> and decode as "?": encoding never fails.

export const SPECIALS = ['<pad>', '<bos>', '<eos>', '<unk>', '<think>', '</think>', '<answer>', '</answer>'] as const;
const CHARS = '\n' + Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join('');

export interface TokenizerJson { kind: 'ivr-char-v1'; specials: string[]; chars: string }

export class Tokenizer {
  readonly pad = 0;
  readonly bos = 1;
  readonly eos = 2;
  readonly unk = 3;
  private readonly charToId = new Map<string, number>();
  private readonly idToText: string[];
  private readonly tagIds: [string, number][];

  constructor(readonly specials: readonly string[] = SPECIALS, readonly chars: string = CHARS) {
    if (specials[0] !== '<pad>' || specials[1] !== '<bos>' || specials[2] !== '<eos>' || specials[3] !== '<unk>') {
      throw new Error('tokenizer: specials must start with <pad>, <bos>, <eos>, <unk>');
    }
    // An empty special would match everywhere without consuming text: encode would never end.
    const bad = specials.find((s) => typeof s !== 'string' || s.length === 0);
    if (bad !== undefined) throw new Error(`tokenizer: specials must be non-empty strings, got ${JSON.stringify(bad)}`);
    this.idToText = [...specials];
    for (const c of chars) { this.charToId.set(c, this.idToText.length); this.idToText.push(c); }
    // Longest tags first so "</think>" is not read as "<" + "/think>".
    this.tagIds = specials.slice(4).map((s, i) => [s, i + 4] as [string, number]).sort((a, b) => b[0].length - a[0].length);
  }

  get vocabSize(): number { return this.idToText.length; }

  encode(text: string): number[] {
    const out: number[] = [];
    let i = 0;
    outer: while (i < text.length) {
      if (text[i] === '<') {
        for (const [tag, id] of this.tagIds) if (text.startsWith(tag, i)) { out.push(id); i += tag.length; continue outer; }
      }
      const cp = text.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      out.push(this.charToId.get(ch) ?? this.unk);
      i += ch.length;
    }
    return out;
  }

  decode(ids: Iterable<number>): string {
    let s = '';
    for (const id of ids) {
      if (id === this.pad || id === this.bos || id === this.eos) continue;
      s += id === this.unk ? '?' : this.idToText[id] ?? '?';
    }
    return s;
  }

  id(token: string): number {
    const i = this.idToText.indexOf(token);
    if (i < 0) throw new Error(`tokenizer: no token "${token}"`);
    return i;
  }

  toJson(): TokenizerJson { return { kind: 'ivr-char-v1', specials: [...this.specials], chars: this.chars }; }

  static fromJson(j: unknown, source = 'tokenizer.json'): Tokenizer {
    const t = j as Partial<TokenizerJson>;
    if (!t || t.kind !== 'ivr-char-v1' || !Array.isArray(t.specials) || typeof t.chars !== 'string') {
      throw new Error(`${source}: not an ivr-char-v1 tokenizer (need kind, specials[], chars)`);
    }
    return new Tokenizer(t.specials, t.chars);
  }
}
