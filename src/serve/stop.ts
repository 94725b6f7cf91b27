// Stop strings: a reply's content ends before the first match of any of them. The text is
// searched as it grows, from where a newly decoded piece could complete a match (so a match
// split across tokens is found). While streaming, the last (longest stop − 1) characters
// are held back, because a later token could still turn them into a match.

export class StopStrings {
  /** Length of the longest stop string (0 = no stop strings). */
  readonly longest: number;

  constructor(readonly stops: readonly string[]) {
    this.longest = Math.max(0, ...stops.map((s) => s.length));
  }

  /** Where the earliest stop string starts in `text`, whose last `added` characters are new; -1 when none. */
  find(text: string, added: number): number {
    if (this.longest === 0) return -1;
    const from = Math.max(0, text.length - added - this.longest + 1);
    let cut = -1;
    for (const s of this.stops) {
      const at = text.indexOf(s, from);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    return cut;
  }

  /** How much of a text of this length no later token can turn into a match (what may be sent now). */
  settled(length: number): number {
    return length - Math.max(0, this.longest - 1);
  }
}
