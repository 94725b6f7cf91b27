// A progress line for long work: redrawn in place on a terminal, printed every few seconds
// otherwise (CI logs), always to stderr so that --json output on stdout stays clean.

export class Progress {
  private readonly start = performance.now();
  private lastPrint = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(readonly label: string, readonly total: number, private readonly quiet = false) {}

  update(done: number, info = ''): void {
    if (this.quiet) return;
    const now = performance.now();
    if (!this.tty && now - this.lastPrint < 5000 && done < this.total) return;
    this.lastPrint = now;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 0;
    const width = 24;
    const filled = Math.round(frac * width);
    const elapsed = (now - this.start) / 1000;
    const eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
    const line = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Number.isInteger(done) ? done : done.toFixed(1)}/${this.total} ${fmt(elapsed)} eta ${fmt(eta)} ${info}`;
    if (this.tty) process.stderr.write(`\r\x1b[K${line}`);
    else process.stderr.write(line + '\n');
  }

  done(info = ''): void {
    if (this.quiet) return;
    this.update(this.total, info);
    if (this.tty) process.stderr.write('\n');
  }
}

function fmt(s: number): string {
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.floor(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
