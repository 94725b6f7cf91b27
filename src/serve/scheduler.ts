// Batches concurrent chat requests into shared decode steps. Requests wait in a bounded
// queue; when the model is idle the scheduler waits a short window for company, then runs
// every waiting row (up to maxBatchRows) as ONE Policy.generate call with per-row sampling
// options and seeds, so one decode step serves all of them. Requests that arrive while a
// batch runs form the next batch, which starts as soon as the running one ends.
import { ApiError } from '../wire/errors.js';
import type { Generation, GenerateRequest, Policy } from '../model/policy.js';

export interface RowSpec {
  patches: Float32Array;
  ids: number[];
  reground: boolean;
  maxNew: number;
  temperature: number;
  topP: number;
  seed: number;
  topLogprobs: number;
  /** Sees every sampled token; 'stop' ends the row (stop strings, disconnected clients). */
  onToken?: (token: number, logp: number, top: { token: number; logp: number }[]) => 'stop' | void;
}

export interface BatchInfo { id: number; rows: number; requests: number }

export interface SchedulerOptions {
  /** How long an idle scheduler waits for more requests before starting a batch. */
  windowMs: number;
  /** Most rows (choices) decoded together. */
  maxBatchRows: number;
  /** Most requests waiting (not yet decoding); more are refused with 429. */
  maxQueue: number;
}

export interface SchedulerMetrics {
  batches: number;
  rows: number;
  requests: number;
  maxBatchRows: number;
  /** Batch size (rows) -> number of batches. */
  batchRowsHist: Record<string, number>;
  queued: number;
  running: number;
  rejectedQueueFull: number;
  generatedTokens: number;
}

interface Job {
  rows: RowSpec[];
  cancelled: boolean;
  onStart?: (b: BatchInfo) => void;
  resolve: (r: { gens: Generation[]; batch: BatchInfo }) => void;
  reject: (e: unknown) => void;
}

export class BatchScheduler {
  private readonly queue: Job[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private closing = false;
  readonly metrics: SchedulerMetrics = { batches: 0, rows: 0, requests: 0, maxBatchRows: 0, batchRowsHist: {}, queued: 0, running: 0, rejectedQueueFull: 0, generatedTokens: 0 };

  constructor(private readonly policy: Policy, readonly opts: SchedulerOptions) {
    if (opts.maxBatchRows < 1 || opts.maxQueue < 1 || opts.windowMs < 0) throw new Error('scheduler: maxBatchRows and maxQueue must be >= 1, windowMs >= 0');
  }

  get queuedRequests(): number { return this.queue.length; }

  /**
   * Queues a request's rows. Throws ApiError 429 when the queue is full and 503 while
   * shutting down. `cancel` drops a waiting request (a running one is stopped by its
   * rows' onToken returning 'stop').
   */
  submit(rows: RowSpec[], onStart?: (b: BatchInfo) => void): { done: Promise<{ gens: Generation[]; batch: BatchInfo }>; cancel: () => void } {
    if (this.closing) throw new ApiError(503, 'the server is shutting down', 'server_error', null, 'shutting_down', 5);
    if (rows.length > this.opts.maxBatchRows) throw new ApiError(400, `n: at most ${this.opts.maxBatchRows} choices per request on this server`, 'invalid_request_error', 'n', 'invalid_value');
    if (this.queue.length >= this.opts.maxQueue) {
      this.metrics.rejectedQueueFull++;
      throw new ApiError(429, `the server is busy: ${this.queue.length} requests are already waiting (queue limit ${this.opts.maxQueue}); retry shortly`, 'rate_limit_error', null, 'queue_full', 1);
    }
    let job!: Job;
    const done = new Promise<{ gens: Generation[]; batch: BatchInfo }>((resolve, reject) => {
      job = { rows, cancelled: false, resolve, reject, ...(onStart ? { onStart } : {}) };
    });
    this.queue.push(job);
    this.metrics.queued = this.queue.length;
    this.kick();
    return {
      done,
      cancel: () => {
        job.cancelled = true;
        const i = this.queue.indexOf(job);
        if (i >= 0) { this.queue.splice(i, 1); this.metrics.queued = this.queue.length; job.reject(new ApiError(499, 'client closed the request', 'invalid_request_error', null, 'cancelled')); }
      },
    };
  }

  private kick(): void {
    if (this.running || this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(() => { this.timer = null; this.startBatch(); }, this.opts.windowMs);
  }

  private startBatch(): void {
    const jobs: Job[] = [];
    let rows = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (jobs.length > 0 && rows + next.rows.length > this.opts.maxBatchRows) break;
      this.queue.shift();
      if (next.cancelled) continue;
      jobs.push(next);
      rows += next.rows.length;
    }
    this.metrics.queued = this.queue.length;
    if (jobs.length === 0) return;
    this.running = this.runBatch(jobs, rows).finally(() => {
      this.running = null;
      this.metrics.running = 0;
      // Whatever arrived meanwhile goes next, without another window: it has waited already.
      if (this.queue.length > 0) setImmediate(() => { if (!this.running && !this.timer) this.startBatch(); });
    });
  }

  private async runBatch(jobs: Job[], rows: number): Promise<void> {
    const m = this.metrics;
    const info: BatchInfo = { id: ++m.batches, rows, requests: jobs.length };
    m.rows += rows;
    m.requests += jobs.length;
    m.maxBatchRows = Math.max(m.maxBatchRows, rows);
    m.batchRowsHist[rows] = (m.batchRowsHist[rows] ?? 0) + 1;
    m.running = rows;
    for (const j of jobs) { try { j.onStart?.(info); } catch { /* a broken client must not stop the batch */ } }
    const specs = jobs.flatMap((j) => j.rows);
    const maxTop = Math.max(0, ...specs.map((r) => r.topLogprobs));
    const reqs: GenerateRequest[] = specs.map((r) => ({
      patches: r.patches,
      segments: r.reground ? [{ kind: 'image' }, { kind: 'text', ids: r.ids }, { kind: 'image' }] : [{ kind: 'image' }, { kind: 'text', ids: r.ids }],
      sampling: { temperature: r.temperature, topP: r.topP, maxNew: r.maxNew, seed: r.seed },
      onToken: (token, logp, top) => {
        try { return r.onToken?.(token, logp, top); } catch { return 'stop'; }
      },
    }));
    try {
      const gens = await this.policy.generate(reqs, {
        maxNew: Math.max(...specs.map((r) => r.maxNew)),
        temperature: 1, topP: 1, seed: 0,
        // a response ends where the model's does (<eos>, </answer>); stop strings end rows through onToken
        stop: this.policy.responseStops,
        batchSize: this.opts.maxBatchRows,
        ...(maxTop > 0 ? { topLogprobs: maxTop } : {}),
      });
      m.generatedTokens += gens.reduce((a, g) => a + g.tokens.length, 0);
      let k = 0;
      for (const j of jobs) {
        const mine = gens.slice(k, k + j.rows.length);
        k += j.rows.length;
        j.resolve({ gens: mine, batch: info });
      }
    } catch (e) {
      const err = new ApiError(500, `generation failed: ${(e as Error).message}`, 'server_error', null, 'generation_failed');
      for (const j of jobs) j.reject(err);
    }
  }

  /** Refuses new requests and resolves when every queued and running request is finished. */
  async drain(): Promise<void> {
    this.closing = true;
    for (;;) {
      if (this.timer) { clearTimeout(this.timer); this.timer = null; if (!this.running) this.startBatch(); }
      if (this.running) { await this.running; continue; }
      if (this.queue.length > 0) { this.startBatch(); continue; }
      return;
    }
  }
}
