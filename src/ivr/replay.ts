// Replay (issue 21, injection strategies): rectified trajectories of HARD prompts (groups in
// which no rollout of the policy was right) are kept and trained again in later iterations,
// as demonstrations under the auxiliary NLL (their group's advantages are gone by then).
// Where right answers are the scarce resource, a rectified one is worth more than one update.
//
// Draw order is deterministic: the entries used least so far, oldest first; an entry leaves
// after `max_uses` replays, and the oldest leave first when the buffer is over `capacity`.
// The buffer is part of a resumable run's state (toJSON / fromJSON): instances are stored by
// (family, seed, horizon), which regenerate them exactly.
import { generateInstance, isFamilyId, type Instance } from '../tasks/index.js';

export interface ReplayEntry {
  inst: Instance;
  responseIds: number[];
  /** Per response token, 1 = written by the prior (as Sample.rewritten). */
  rewritten: Uint8Array;
  uses: number;
  /** The iteration that added it (age order). */
  added: number;
}

/** An entry as added (its use count starts at 0). */
export type NewReplayEntry = Omit<ReplayEntry, 'uses'>;

export interface ReplayLimits { capacity: number; maxUses: number }

interface StoredEntry { family: string; seed: number; horizon: number; split?: string; ids: number[]; rewritten: number[]; uses: number; added: number }

export class ReplayBuffer {
  private entries: ReplayEntry[] = [];
  constructor(private readonly limits: ReplayLimits) {}

  get size(): number { return this.entries.length; }

  /**
   * Adds trajectories (after this iteration's draw, so an entry is first replayed later). A
   * trajectory already held for the same instance is not added twice (two flagged rollouts of
   * one prompt often rectify to the same text).
   */
  add(items: readonly NewReplayEntry[]): void {
    const key = (e: NewReplayEntry) => `${e.inst.id}|${e.responseIds.join(',')}`;
    const held = new Set(this.entries.map(key));
    for (const it of items) {
      if (held.has(key(it))) continue;
      held.add(key(it));
      this.entries.push({ ...it, uses: 0 });
    }
    const over = this.entries.length - this.limits.capacity;
    if (over > 0) this.entries.sort(byAge).splice(0, over);
  }

  /** Up to n entries to replay now (least used, then oldest); each use is counted. */
  draw(n: number): ReplayEntry[] {
    const picked = [...this.entries].sort((a, b) => a.uses - b.uses || byAge(a, b)).slice(0, n);
    for (const e of picked) e.uses++;
    this.entries = this.entries.filter((e) => e.uses < this.limits.maxUses);
    return picked;
  }

  toJSON(): StoredEntry[] {
    return this.entries.map((e) => ({
      family: e.inst.family, seed: e.inst.seed, horizon: e.inst.horizon, ...(e.inst.split ? { split: e.inst.split } : {}),
      ids: e.responseIds, rewritten: Array.from(e.rewritten), uses: e.uses, added: e.added,
    }));
  }

  /** Restores a saved buffer; throws naming the entry when the saved state is malformed. */
  static fromJSON(json: unknown, limits: ReplayLimits): ReplayBuffer {
    const buf = new ReplayBuffer(limits);
    if (!Array.isArray(json)) throw new Error('replay buffer state: expected an array of entries');
    json.forEach((raw: StoredEntry, i) => {
      if (!raw || !isFamilyId(raw.family) || !Array.isArray(raw.ids) || !Array.isArray(raw.rewritten) || raw.ids.length !== raw.rewritten.length) {
        throw new Error(`replay buffer state: entry ${i} is malformed`);
      }
      const inst = { ...generateInstance(raw.family, raw.seed, raw.horizon), ...(raw.split ? { split: raw.split as Instance['split'] } : {}) };
      buf.entries.push({ inst, responseIds: raw.ids, rewritten: Uint8Array.from(raw.rewritten), uses: raw.uses, added: raw.added });
    });
    return buf;
  }
}

const byAge = (a: ReplayEntry, b: ReplayEntry) => a.added - b.added;
