// Bounded concurrency for the environment service: at most `concurrency` requests do their
// work at once (a rectification holds its place while the policy endpoint continues), at most
// `maxQueue` wait; one more gets a 429 with Retry-After, which OpenRLHF, verl and the adapters
// retry. drain() resolves when nothing is running or waiting (clean shutdown).
import { ApiError } from '../wire/errors.js';

export interface GateMetrics { running: number; queued: number; admitted: number; rejected: number; maxRunning: number }

export class Gate {
  private readonly waiting: (() => void)[] = [];
  private idle: (() => void)[] = [];
  readonly metrics: GateMetrics = { running: 0, queued: 0, admitted: 0, rejected: 0, maxRunning: 0 };

  constructor(private readonly concurrency: number, private readonly maxQueue: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    const m = this.metrics;
    if (m.running >= this.concurrency) {
      if (this.waiting.length >= this.maxQueue) {
        m.rejected++;
        throw new ApiError(429, `the service is busy: ${m.running} requests running and ${this.waiting.length} waiting (--max-queue ${this.maxQueue}); retry shortly`, 'rate_limit_error', null, 'queue_full', 1);
      }
      // The slot is handed over by the request that ends (running is not decremented for it).
      await new Promise<void>((r) => { this.waiting.push(r); m.queued = this.waiting.length; });
    } else {
      m.running++;
    }
    m.admitted++;
    m.maxRunning = Math.max(m.maxRunning, m.running);
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      m.queued = this.waiting.length;
      if (next) next();
      else if (--m.running === 0) { const w = this.idle; this.idle = []; for (const r of w) r(); }
    }
  }

  drain(): Promise<void> {
    if (this.metrics.running === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }
}
