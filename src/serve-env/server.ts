// `ivr serve-env`: IVR-R1 as an HTTP environment for distributed RL engines (OpenRLHF, verl,
// TRL; thin adapters in integrations/python/). The engine trains on its GPUs and samples
// with vLLM; this service, on CPU, verifies steps against the prior, localizes the first
// eroded step and runs the Re-Reasoning Loop through the policy's own OpenAI-compatible server.
//
//   POST /get_reward     OpenRLHF's remote-reward protocol (openrlhf.ts)
//   POST /v1/verify      {task, response, prefix?} -> per-step verdicts, first eroded step,
//                        kind, verified prefix, feedback turn, verified reward
//   POST /v1/rectify     {task, response, rounds?, rectifier?, oracle_fallback?, seed?} ->
//                        the Re-Reasoning Loop's rectified trajectory, rewritten spans marked
//   GET  /v1/env         what this service can do (policy, judge, limits)
//   GET  /metrics        counters, queue, memory (JSON)
//   GET  /health         liveness (no API key needed)
//
// Server conventions as `ivr serve` (src/serve/): Host check against DNS rebinding (421),
// POSTs need Content-Type: application/json (415), body limit (413), bearer key (401; for
// OpenRLHF, which sends no headers, /get_reward also takes ?api_key=), bounded concurrency
// with a bounded queue (429 + Retry-After), every refused request a 4xx naming the field,
// handler errors 500 (never a crash), close() finishes running and queued requests.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { ApiError } from '../wire/errors.js';
import type { StepJudge } from '../ivr/localize.js';
import type { RectifierName } from '../ivr/rectifiers.js';
import type { Reasoner } from '../reasoner/reasoner.js';
import { badParam } from '../serve/errors.js';
import { checkHost, hostPolicy, type HostPolicy } from '../serve/host-check.js';
import { checkApiKey, checkBearer, closeGracefully, createHttpServer, listenOn, readJsonBody, sendError, serverOrigin } from '../serve/http-kit.js';
import { FAMILY_IDS } from '../tasks/index.js';
import { Environment, RECTIFIER_NAMES, type RectifyParams, type VerifyReport } from './environment.js';
import { Gate } from './gate.js';
import { ImageStore } from './images.js';
import { parseRewardRequest, rewardReply } from './openrlhf.js';
import { parseTaskSpec, reasonTask, type TaskRef } from './task-spec.js';

export interface EnvServerOptions {
  /** The policy for /v1/rectify (e.g. a RemoteReasoner on vLLM serving the model being trained). */
  reasoner?: Reasoner;
  /** The judge localizer's model, for external tasks without a prior. */
  judge?: StepJudge;
  apiKey?: string;
  allowedHosts?: string[];
  /** Largest request body in bytes (default 32 MiB). */
  maxBodyBytes?: number;
  /** Requests doing work at once (default 32). */
  concurrency?: number;
  /** Requests waiting before 429 (default 512). */
  maxQueue?: number;
  /** Samples per /get_reward request (default 8192). */
  maxSamples?: number;
  /** Re-Reasoning Loop defaults and limit. */
  rounds?: number;
  maxRounds?: number;
  rectifier?: RectifierName;
  /** Where image files are written (default: a fresh directory in the OS temp dir). */
  workDir?: string;
  log?: (line: string) => void;
}

type Resolved = Required<Omit<EnvServerOptions, 'reasoner' | 'judge' | 'apiKey' | 'workDir' | 'log'>> & Pick<EnvServerOptions, 'apiKey' | 'log'>;

export class EnvServer {
  readonly http: http.Server;
  readonly env: Environment;
  readonly gate: Gate;
  private readonly images: ImageStore;
  private readonly opts: Resolved;
  private hosts: HostPolicy | null = null;
  private closing: Promise<void> | null = null;
  readonly stats = { requests: 0, errors4xx: 0, errors5xx: 0, droppedRequests: 0, samples: 0, byStatus: {} as Record<string, number> };

  constructor(options: EnvServerOptions = {}) {
    checkApiKey(options.apiKey);
    this.opts = {
      allowedHosts: [], maxBodyBytes: 32 << 20, concurrency: 32, maxQueue: 512, maxSamples: 8192, rounds: 3, maxRounds: 8, rectifier: 're-ground',
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as Resolved;
    this.images = new ImageStore(512, options.workDir);
    this.env = new Environment({ images: this.images, ...(options.reasoner ? { reasoner: options.reasoner } : {}), ...(options.judge ? { judge: options.judge } : {}) });
    this.gate = new Gate(this.opts.concurrency, this.opts.maxQueue);
    this.http = createHttpServer((req, res) => { this.handle(req, res); });
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    const addr = await listenOn(this.http, port, host);
    this.hosts = hostPolicy(addr, host, this.opts.allowedHosts);
    return addr;
  }

  /** Base URL (no /v1: OpenRLHF posts to <url>/get_reward, the adapters to <url>/v1/...). */
  get url(): string {
    return serverOrigin(this.http);
  }

  /** Stops accepting; running and queued requests finish; then connections close and image files go. */
  close(timeoutMs = 30_000): Promise<void> {
    if (!this.closing) {
      this.closing = closeGracefully(this.http, () => this.gate.drain(), timeoutMs).finally(() => this.images.close());
    }
    return this.closing;
  }

  get metrics(): Record<string, unknown> {
    const mem = process.memoryUsage();
    return { http: this.stats, gate: this.gate.metrics, env: this.env.counters, images: { files: this.images.size, ...this.images.stats }, memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed } };
  }

  get info(): Record<string, unknown> {
    return {
      service: 'ivr-serve-env', reward: 'verified (1 when the answer is right and every step holds, else 0)',
      families: FAMILY_IDS, verify: true, rectify: this.env.hasPolicy, policy: this.env.policyName, judge: this.env.hasJudge,
      rectifiers: RECTIFIER_NAMES, defaults: { rounds: this.opts.rounds, rectifier: this.opts.rectifier }, max_rounds: this.opts.maxRounds,
      max_samples: this.opts.maxSamples, max_body_bytes: this.opts.maxBodyBytes,
    };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const t0 = performance.now();
    this.stats.requests++;
    res.setHeader('x-request-id', 'req_' + randomBytes(8).toString('hex'));
    res.on('error', () => { /* the client went away */ });
    req.on('error', () => { /* same */ });
    const path = (req.url ?? '/').split('?')[0]!; // never log the query: it may hold the key
    res.on('finish', () => {
      const s = res.statusCode;
      this.stats.byStatus[s] = (this.stats.byStatus[s] ?? 0) + 1;
      if (s >= 400 && s < 500) this.stats.errors4xx++;
      if (s >= 500) this.stats.errors5xx++;
      this.opts.log?.(`${req.method} ${path} ${s} ${(performance.now() - t0).toFixed(0)}ms`);
    });
    res.on('close', () => {
      if (res.writableFinished) return;
      this.stats.droppedRequests++;
      this.opts.log?.(`${req.method} ${path} dropped: the client closed the connection after ${(performance.now() - t0).toFixed(0)}ms`);
    });
    this.route(req, res).catch((e: unknown) => {
      if (res.headersSent) { res.destroy(); return; }
      sendError(req, res, e, { closing: this.closing !== null, maxBodyBytes: this.opts.maxBodyBytes });
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.hosts) {
      const a = this.http.address();
      this.hosts = typeof a === 'object' && a ? hostPolicy(a, a.address, this.opts.allowedHosts) : hostPolicy({ address: '', family: '', port: 0 }, '', ['*']);
    }
    checkHost(req.headers.host, this.hosts);
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(this.closing ? { connection: 'close' } : {}) });
      res.end(JSON.stringify(body));
    };
    const only = (m: string) => {
      if (method !== m) { res.setHeader('allow', m); throw new ApiError(405, `method ${method} is not allowed on ${path} (use ${m})`, 'invalid_request_error', null, 'method_not_allowed'); }
    };
    const auth = (allowQueryKey = false) => {
      const q = url.searchParams.get('api_key');
      if (allowQueryKey && q !== null && !req.headers.authorization) req.headers.authorization = `Bearer ${q}`;
      checkBearer(req, this.opts.apiKey);
    };
    if (path === '/health') { only('GET'); json(200, { status: this.closing ? 'shutting_down' : 'ok' }); return; }
    if (path === '/metrics') { only('GET'); auth(); json(200, this.metrics); return; }
    if (path === '/v1/env') { only('GET'); auth(); json(200, this.info); return; }
    if (path === '/get_reward' || path === '/v1/get_reward') {
      only('POST');
      auth(true);
      const body = await readJsonBody(req, this.opts.maxBodyBytes);
      const samples = parseRewardRequest(body, this.opts.maxSamples);
      for (const [i, s] of samples.entries()) this.needJudge(s.ref, `labels[${i}]`);
      json(200, await this.gate.run(async () => {
        const reports = await Promise.all(samples.map((s) => this.env.verify(s.ref, s.response)));
        this.stats.samples += reports.length;
        return rewardReply(reports);
      }));
      return;
    }
    if (path === '/v1/verify') {
      only('POST');
      auth();
      const r = this.object(await readJsonBody(req, this.opts.maxBodyBytes), ['task', 'response', 'prefix']);
      const ref = this.task(r);
      const response = this.response(r);
      let prefix: string[] | undefined;
      if (r.prefix !== undefined && r.prefix !== null) {
        if (!Array.isArray(r.prefix) || r.prefix.some((s) => typeof s !== 'string' || /[\r\n]/.test(s))) throw badParam('prefix', 'expected an array of verified steps, one string each without newlines');
        prefix = r.prefix as string[];
      }
      const report: VerifyReport = await this.gate.run(() => this.env.verify(ref, response, prefix));
      this.stats.samples++;
      json(200, report);
      return;
    }
    if (path === '/v1/rectify') {
      only('POST');
      auth();
      const r = this.object(await readJsonBody(req, this.opts.maxBodyBytes), ['task', 'response', 'rounds', 'rectifier', 'oracle_fallback', 'seed']);
      if (!this.env.hasPolicy) throw new ApiError(501, 'this service was started without a policy endpoint, so it cannot continue responses; start ivr serve-env with --policy-endpoint URL --policy-model NAME', 'invalid_request_error', null, 'rectify_unavailable');
      const ref = this.task(r);
      const response = this.response(r);
      const params: RectifyParams = { rounds: this.opts.rounds, rectifier: this.opts.rectifier, oracleFallback: false, seed: 0 };
      if (r.rounds !== undefined) {
        if (typeof r.rounds !== 'number' || !Number.isInteger(r.rounds) || r.rounds < 1 || r.rounds > this.opts.maxRounds) throw badParam('rounds', `expected an integer in 1..${this.opts.maxRounds}, got ${JSON.stringify(r.rounds)}`);
        params.rounds = r.rounds;
      }
      if (r.rectifier !== undefined) {
        if (typeof r.rectifier !== 'string' || !(RECTIFIER_NAMES as string[]).includes(r.rectifier)) throw badParam('rectifier', `expected one of ${RECTIFIER_NAMES.join(', ')}, got ${JSON.stringify(r.rectifier)}`);
        params.rectifier = r.rectifier as RectifierName;
      }
      if (r.oracle_fallback !== undefined) {
        if (typeof r.oracle_fallback !== 'boolean') throw badParam('oracle_fallback', 'expected true or false');
        params.oracleFallback = r.oracle_fallback;
      }
      if (r.seed !== undefined) {
        if (typeof r.seed !== 'number' || !Number.isSafeInteger(r.seed) || r.seed < 0) throw badParam('seed', 'expected a non-negative integer');
        params.seed = r.seed;
      }
      json(200, await this.gate.run(() => this.env.rectify(ref, response, params)));
      return;
    }
    throw new ApiError(404, `Invalid URL (${method} ${path}): this service implements POST /get_reward, POST /v1/verify, POST /v1/rectify, GET /v1/env, GET /metrics and GET /health`, 'invalid_request_error', null, 'unknown_url');
  }

  private object(body: unknown, known: string[]): Record<string, unknown> {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw badParam('(body)', `expected a JSON object with ${known.join(', ')}`);
    const extra = Object.keys(body).filter((k) => !known.includes(k));
    if (extra.length) throw badParam(extra[0]!, `unknown field (known: ${known.join(', ')})`, 'unknown_parameter');
    return body as Record<string, unknown>;
  }

  private task(r: Record<string, unknown>): TaskRef {
    if (r.task === undefined) throw badParam('task', 'is required: an embedded-instance id ("grid-7-4") or {"image", "question", "answer", "prior"?}', 'missing_required_parameter');
    const ref = parseTaskSpec(r.task, 'task');
    this.needJudge(ref, 'task');
    return ref;
  }

  /** A task without a prior needs the judge; without one, say so naming the field. */
  private needJudge(ref: TaskRef, param: string): void {
    if (reasonTask(ref).inst === null && !this.env.hasJudge) {
      throw badParam(`${param}.prior`, 'this task has no prior and this service has no judge to check its steps against the image: send a prior {"family", "scene"}, name an embedded instance, or start ivr serve-env with --judge-endpoint URL --judge-model NAME', 'judge_unavailable');
    }
  }

  private response(r: Record<string, unknown>): string {
    if (r.response === undefined) throw badParam('response', 'is required (the policy\'s response text)', 'missing_required_parameter');
    if (typeof r.response !== 'string') throw badParam('response', `expected a string, got ${r.response === null ? 'null' : typeof r.response}`, 'invalid_type');
    return r.response;
  }
}

export function createEnvServer(options: EnvServerOptions = {}): EnvServer {
  return new EnvServer(options);
}
