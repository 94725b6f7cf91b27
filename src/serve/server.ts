// An OpenAI-compatible HTTP API for a compact-VLM checkpoint, on node:http.
//
//   GET  /v1/models                the served model (with its input format under "ivr")
//   GET  /v1/models/{id}
//   POST /v1/chat/completions      text + image_url parts; temperature, top_p, max_tokens,
//                                  n, stop, seed, logprobs/top_logprobs, stream (SSE)
//   GET  /metrics                  batching, request and dropped-stream counters, memory (JSON)
//   GET  /health                   liveness (no API key needed)
//
// This file is the HTTP side (routes, auth, Host check, body limits, error replies,
// shutdown). How messages map to the model: chat-template.ts. A completion apart from HTTP
// (decode rows, stop strings, the reply body): completion.ts; streaming it: sse.ts.
// Concurrent requests share decode steps (scheduler.ts); responses carry x-ivr-batch-id /
// x-ivr-batch-rows headers saying which batch served them and how many rows it decoded together.
//
// Robustness: every refused request gets a 4xx with an OpenAI error body naming the
// problem (bad JSON, wrong types, unsupported values, bad images, body too
// large (413), queue full (429 + Retry-After), missing/wrong API key (401), a model id
// other than the served one (404 model_not_found, as OpenAI and vLLM answer), a malformed
// URL (400), a POST that is not Content-Type: application/json (415)); handler errors
// become 500s, never a crash. Binds to 127.0.0.1 unless told otherwise and answers only
// Host headers that name it (421 otherwise; host-check.ts): together with the JSON
// Content-Type, which browsers cannot send cross-origin without a CORS preflight this
// server never grants, web pages cannot drive it. Clients that hang up mid-reply are
// logged and counted (droppedStreams / droppedRequests in /metrics). close() stops
// accepting, finishes queued and running requests, then closes connections.
import { createHash, randomBytes } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from '../wire/errors.js';
import type { Policy } from '../model/policy.js';
import { toModelInput } from './chat-template.js';
import { Completion } from './completion.js';
import { checkHost, hostPolicy, type HostPolicy } from './host-check.js';
import { checkApiKey, checkBearer, closeGracefully, createHttpServer, decodePathPart, listenOn, readJsonBody, sendError, serverOrigin } from './http-kit.js';
import { parseChatRequest, type ChatRequest } from './request.js';
import { BatchScheduler, type BatchInfo } from './scheduler.js';
import { CompletionStream, sseData } from './sse.js';

export interface ChatServerOptions {
  policy: Policy;
  /** The model id clients must send (see GET /v1/models). */
  modelName: string;
  /** When set, every /v1 and /metrics request needs "Authorization: Bearer <apiKey>". Must not be empty. */
  apiKey?: string;
  /** Extra host names accepted in the Host header, with any port ("*" = no Host check); see host-check.ts. */
  allowedHosts?: string[];
  /** Largest request body in bytes (default 8 MiB); larger gets 413. */
  maxBodyBytes?: number;
  /** Largest n per request (default 16). */
  maxN?: number;
  /** Most waiting requests before 429 (default 256). */
  maxQueue?: number;
  /** Most rows decoded together (default 64). */
  maxBatchRows?: number;
  /** Idle wait for company before a batch starts, in ms (default 8). */
  batchWindowMs?: number;
  /** Request log lines (method, path, status, ms). */
  log?: (line: string) => void;
}

export interface ModelCard {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  max_model_len: number;
  /** How this model wants its input (remote clients adapt to it; see chat-template.ts). */
  ivr: { image_size: number; prompt_format: 'question'; max_text: number; reground: boolean };
}

export class ChatServer {
  readonly http: http.Server;
  readonly scheduler: BatchScheduler;
  private readonly opts: Required<Omit<ChatServerOptions, 'apiKey' | 'log'>> & Pick<ChatServerOptions, 'apiKey' | 'log'>;
  private hosts: HostPolicy | null = null;
  private readonly created = Math.floor(Date.now() / 1000);
  private readonly fingerprint: string;
  private closing: Promise<void> | null = null;
  /** droppedStreams: SSE replies the client hung up on before [DONE]; droppedRequests: other replies it left before they were sent. */
  readonly stats = { requests: 0, completions: 0, errors4xx: 0, errors5xx: 0, droppedStreams: 0, droppedRequests: 0, byStatus: {} as Record<string, number> };

  constructor(options: ChatServerOptions) {
    checkApiKey(options.apiKey);
    this.opts = { maxBodyBytes: 8 << 20, maxN: 16, maxQueue: 256, maxBatchRows: 64, batchWindowMs: 8, allowedHosts: [], ...options };
    if (this.opts.maxN > this.opts.maxBatchRows) this.opts.maxN = this.opts.maxBatchRows;
    this.scheduler = new BatchScheduler(options.policy, { windowMs: this.opts.batchWindowMs, maxBatchRows: this.opts.maxBatchRows, maxQueue: this.opts.maxQueue });
    this.fingerprint = 'fp_ivr_' + createHash('sha256').update(JSON.stringify(options.policy.cfg)).update(options.modelName).digest('hex').slice(0, 10);
    this.http = createHttpServer((req, res) => { this.handle(req, res); });
  }

  get modelCard(): ModelCard {
    const cfg = this.opts.policy.cfg;
    return {
      id: this.opts.modelName, object: 'model', created: this.created, owned_by: 'ivr-r1', max_model_len: cfg.maxText,
      ivr: { image_size: cfg.imageSize, prompt_format: 'question', max_text: cfg.maxText, reground: true },
    };
  }

  /** Starts listening (default 127.0.0.1, port 0 = any free port). */
  async listen(port = 0, host = '127.0.0.1'): Promise<AddressInfo> {
    const addr = await listenOn(this.http, port, host);
    this.hosts = hostPolicy(addr, host, this.opts.allowedHosts);
    return addr;
  }

  get url(): string {
    return `${serverOrigin(this.http)}/v1`;
  }

  /** Graceful shutdown: no new connections or requests; queued and running requests finish. */
  close(timeoutMs = 30_000): Promise<void> {
    if (!this.closing) {
      this.closing = closeGracefully(this.http, () => this.scheduler.drain(), timeoutMs);
    }
    return this.closing;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const t0 = performance.now();
    this.stats.requests++;
    const requestId = 'req_' + randomBytes(8).toString('hex');
    res.setHeader('x-request-id', requestId);
    res.on('error', () => { /* the client went away; nothing to tell it */ });
    req.on('error', () => { /* same */ });
    res.on('finish', () => {
      const s = res.statusCode;
      this.stats.byStatus[s] = (this.stats.byStatus[s] ?? 0) + 1;
      if (s >= 400 && s < 500) this.stats.errors4xx++;
      if (s >= 500) this.stats.errors5xx++;
      this.opts.log?.(`${req.method} ${req.url} ${s} ${(performance.now() - t0).toFixed(0)}ms`);
    });
    // 'finish' never fires for a reply the client hung up on; without this it would vanish
    // from both the log and the counters.
    res.on('close', () => {
      if (res.writableFinished) return;
      const streaming = /^text\/event-stream/.test(String(res.getHeader('content-type') ?? ''));
      if (streaming) this.stats.droppedStreams++;
      else this.stats.droppedRequests++;
      this.opts.log?.(`${req.method} ${req.url} dropped: the client closed the connection ${streaming ? 'mid-stream' : 'before the reply'} after ${(performance.now() - t0).toFixed(0)}ms`);
    });
    this.route(req, res).catch((e: unknown) => this.fail(req, res, e));
  }

  private fail(req: http.IncomingMessage, res: http.ServerResponse, e: unknown): void {
    if (res.headersSent) {
      // Mid-stream: the status line is gone; say it as an SSE error event and end.
      const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, 'server_error', null, 'internal_error');
      if (!res.writableEnded) { res.write(sseData(err.toBody())); res.end(); }
      return;
    }
    sendError(req, res, e, { closing: this.closing !== null, maxBodyBytes: this.opts.maxBodyBytes });
  }

  private checkAuth(req: http.IncomingMessage): void {
    checkBearer(req, this.opts.apiKey);
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.hosts) {
      // Listening started without listen() (e.g. on http directly): check against what it bound.
      // A Unix socket (address is a string) cannot be reached by a browser, so nothing to check.
      const a = this.http.address();
      this.hosts = typeof a === 'object' && a ? hostPolicy(a, a.address, this.opts.allowedHosts) : hostPolicy({ address: '', family: '', port: 0 }, '', ['*']);
    }
    checkHost(req.headers.host, this.hosts);
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(this.closing ? { connection: 'close' } : {}) });
      res.end(JSON.stringify(body));
    };
    const only = (m: string) => {
      if (method !== m) { res.setHeader('allow', m); throw new ApiError(405, `method ${method} is not allowed on ${path} (use ${m})`, 'invalid_request_error', null, 'method_not_allowed'); }
    };
    if (path === '/health') { only('GET'); json(200, { status: this.closing ? 'shutting_down' : 'ok' }); return; }
    if (path === '/metrics') {
      only('GET');
      this.checkAuth(req);
      const mem = process.memoryUsage();
      json(200, { scheduler: this.scheduler.metrics, http: this.stats, memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed } });
      return;
    }
    if (path === '/v1/models') { only('GET'); this.checkAuth(req); json(200, { object: 'list', data: [this.modelCard] }); return; }
    if (path.startsWith('/v1/models/')) {
      only('GET');
      this.checkAuth(req);
      const id = decodePathPart(path.slice('/v1/models/'.length));
      if (id !== this.opts.modelName) throw this.modelNotFound(id);
      json(200, this.modelCard);
      return;
    }
    if (path === '/v1/chat/completions') {
      only('POST');
      this.checkAuth(req);
      await this.chatCompletion(req, res);
      return;
    }
    throw new ApiError(404, `Invalid URL (${method} ${path}): this server implements GET /v1/models, POST /v1/chat/completions, GET /metrics and GET /health`, 'invalid_request_error', null, 'unknown_url');
  }

  private modelNotFound(id: string): ApiError {
    return new ApiError(404, `The model \`${id}\` does not exist. This server serves \`${this.opts.modelName}\` (see GET /v1/models).`, 'invalid_request_error', 'model', 'model_not_found');
  }

  /** POST /v1/chat/completions: the request, its generation (batched), then one JSON reply or an SSE stream. */
  private async chatCompletion(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const cr = await this.readChatRequest(req);
    const policy = this.opts.policy;
    const input = toModelInput(cr.messages, policy.cfg, policy.tokenizer, cr.continueFinalMessage);
    const completion = new Completion(cr, input, policy.tokenizer, { maxText: policy.cfg.maxText, model: this.opts.modelName, fingerprint: this.fingerprint });
    this.stats.completions++;
    const gone = hangUpFlag(res);
    const stream = cr.stream ? new CompletionStream(res, completion, gone) : null;
    const rows = completion.rows({ gone, onText: stream ? (c) => stream.flush(c, false) : undefined });
    const job = this.scheduler.submit(rows, (b) => { if (stream && !gone()) stream.start(batchHeaders(b)); });
    res.on('close', () => { if (!res.writableFinished) job.cancel(); });
    const { gens, batch } = await job.done;
    if (stream) {
      if (!gone()) stream.end(gens);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', ...batchHeaders(batch), ...(this.closing ? { connection: 'close' } : {}) });
    res.end(JSON.stringify(completion.body(gens)));
  }

  /** The HTTP side of a chat request: a JSON Content-Type, a body within the limit, valid JSON, a valid request for the served model. */
  private async readChatRequest(req: http.IncomingMessage): Promise<ChatRequest> {
    const body = await readJsonBody(req, this.opts.maxBodyBytes);
    const cr = parseChatRequest(body, { maxN: this.opts.maxN });
    if (cr.model !== this.opts.modelName) throw this.modelNotFound(cr.model);
    return cr;
  }
}

/** Becomes true when the client hangs up before the reply is finished. */
function hangUpFlag(res: http.ServerResponse): () => boolean {
  let gone = false;
  res.on('close', () => { if (!res.writableFinished) gone = true; });
  return () => gone;
}

/** Which batch served a reply: its id, rows decoded together and requests sharing it. */
function batchHeaders(b: BatchInfo): Record<string, string> {
  return { 'x-ivr-batch-id': String(b.id), 'x-ivr-batch-rows': String(b.rows), 'x-ivr-batch-requests': String(b.requests) };
}

/** Creates a server (not yet listening). */
export function createChatServer(options: ChatServerOptions): ChatServer {
  return new ChatServer(options);
}
