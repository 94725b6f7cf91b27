// A run directory: config.json (what was asked), metrics.jsonl (one object per logged
// step), checkpoints/latest (written atomically, for --resume) and checkpoints/final.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { appendJsonl, atomicWriteFile, atomicWriteJson, readJsonFile } from '../util/fs.js';

export class RunDir {
  constructor(readonly dir: string) {}

  get configFile(): string { return path.join(this.dir, 'config.json'); }
  get metricsFile(): string { return path.join(this.dir, 'metrics.jsonl'); }
  get latest(): string { return path.join(this.dir, 'checkpoints', 'latest'); }
  get final(): string { return path.join(this.dir, 'checkpoints', 'final'); }

  hasCheckpoint(): boolean { return fs.existsSync(path.join(this.latest, 'config.json')); }

  /**
   * Starts a fresh run (refusing to overwrite one that has checkpoints) or, with resume,
   * checks that the stored config equals the one given, so a resumed run is the same run.
   */
  open(config: unknown, resume: boolean): void {
    fs.mkdirSync(path.join(this.dir, 'checkpoints'), { recursive: true });
    const want = JSON.stringify(config);
    if (resume) {
      if (!fs.existsSync(this.configFile)) throw new Error(`--resume: ${this.dir} has no config.json; start the run without --resume`);
      const have = JSON.stringify(readJsonFile(this.configFile, 'run config'));
      if (have !== want) throw new Error(`--resume: the config differs from the one ${this.dir} was started with (${this.configFile}); resume with the same config or use a new --out`);
      return;
    }
    if (this.hasCheckpoint()) throw new Error(`${this.dir} already holds a run with checkpoints; pass --resume to continue it or choose another --out`);
    atomicWriteJson(this.configFile, config);
    if (fs.existsSync(this.metricsFile)) fs.rmSync(this.metricsFile);
  }

  logMetrics(row: Record<string, unknown>): void { appendJsonl(this.metricsFile, row); }

  readMetrics(): Record<string, unknown>[] {
    if (!fs.existsSync(this.metricsFile)) return [];
    return fs.readFileSync(this.metricsFile, 'utf8').split('\n').filter((l) => l.trim()).flatMap((l) => {
      try { return [JSON.parse(l) as Record<string, unknown>]; } catch { return []; } // a torn last line after a crash
    });
  }

  /** After a crash, drop metric rows logged after the checkpoint we resume from. */
  truncateMetrics(keep: (row: Record<string, unknown>) => boolean): void {
    const rows = this.readMetrics().filter(keep);
    atomicWriteFile(this.metricsFile, rows.map((r) => JSON.stringify(r) + '\n').join(''));
  }
}
