// Image files for the environment service. The reasoner port and the judge read a task's
// image from a PNG file (client/remote-reasoner.ts, client/judge.ts), so the service writes
// the images it needs into a scratch directory: an embedded instance's two renderings, an
// external record's image. Files in use by a request are never removed; unused ones are kept
// (most recently used first) up to `keep` files, then deleted, so a long training run that
// names a million instances holds a bounded directory. close() removes the directory.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

interface Entry { file: string; refs: number }

export class ImageStore {
  readonly dir: string;
  /** Insertion order = least recently used first (entries are re-inserted on use). */
  private readonly entries = new Map<string, Entry>();
  readonly stats = { written: 0, reused: 0, evicted: 0 };

  constructor(private readonly keep = 512, dir?: string) {
    this.dir = dir ? (fs.mkdirSync(dir, { recursive: true }), fs.mkdtempSync(path.join(dir, 'images-'))) : fs.mkdtempSync(path.join(os.tmpdir(), 'ivr-serve-env-'));
  }

  /** The file for `key` (a safe file-name stem), written from `bytes()` when absent; hold it until release(key). */
  acquire(key: string, bytes: () => Uint8Array): string {
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      this.stats.reused++;
    } else {
      const file = path.join(this.dir, `${key}.png`);
      fs.writeFileSync(file, bytes());
      this.stats.written++;
      e = { file, refs: 0 };
    }
    e.refs++;
    this.entries.set(key, e);
    return e.file;
  }

  release(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    e.refs = Math.max(0, e.refs - 1);
    if (e.refs === 0) this.evict();
  }

  get size(): number { return this.entries.size; }

  private evict(): void {
    let unused = 0;
    for (const e of this.entries.values()) if (e.refs === 0) unused++;
    for (const [key, e] of this.entries) {
      if (unused <= this.keep) break;
      if (e.refs > 0) continue;
      this.entries.delete(key);
      fs.rmSync(e.file, { force: true });
      this.stats.evicted++;
      unused--;
    }
  }

  close(): void {
    this.entries.clear();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
