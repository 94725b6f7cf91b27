// A small OpenAI-compatible HTTP client (fetch) for one or several endpoints serving the
// same model (vLLM, SGLang, Ollama, llama.cpp, `ivr serve`, ...).
//
// - Spreading: each request goes to the endpoint with the fewest requests in flight
//   (round-robin among equals); an endpoint that just failed is avoided for a cool-down
//   while another one is available.
// - Retries: connection errors, timeouts, 408/409/429/5xx and malformed 2xx bodies are
//   retried with exponential backoff and jitter (honouring Retry-After), on the next
//   endpoint; other 4xx are the caller's mistake and fail at once.
// - Timeouts: every attempt has its own deadline (timeoutMs).
import { ApiError, errorMessageOf } from '../wire/errors.js';

export type ContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail?: 'auto' | 'low' | 'high' } };

export interface ChatMessageIn {
  role: 'system' | 'user' | 'assistant';
  content: string | ContentPart[];
}

export interface ChatBody {
  model: string;
  messages: ChatMessageIn[];
  temperature?: number;
  top_p?: number;
  max_tokens?: number;
  n?: number;
  stop?: string | string[];
  seed?: number;
  logprobs?: boolean;
  top_logprobs?: number;
  response_format?: unknown;
  continue_final_message?: boolean;
  add_generation_prompt?: boolean;
  [key: string]: unknown;
}

export interface ChatChoice {
  index: number;
  message: { role: string; content: string | null };
  finish_reason: string | null;
}

export interface ChatCompletion {
  id: string;
  model: string;
  choices: ChatChoice[];
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

export interface ModelInfo { id: string; [key: string]: unknown }

export interface ClientOptions {
  /** Base URLs; "http://host:port" means "http://host:port/v1". */
  endpoints: string[];
  apiKey?: string;
  /** Per-attempt deadline (default 120 s). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 5). */
  maxRetries?: number;
  /** First backoff delay (default 500 ms), doubled per retry, capped at retryMaxMs (default 20 s). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Called before each retry (for logs and counters). */
  onRetry?: (info: { endpoint: string; attempt: number; delayMs: number; error: string }) => void;
}

export interface EndpointStats { url: string; inFlight: number; requests: number; failures: number; consecutiveFailures: number; lastFailureAt: number }

/** Normalises a base URL: no trailing slash; a bare host gets "/v1". */
export function normalizeEndpoint(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`not a URL: ${JSON.stringify(url)} (expected e.g. http://127.0.0.1:8000/v1)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`endpoint ${url}: only http and https are supported`);
  const path = u.pathname.replace(/\/+$/, '');
  return `${u.protocol}//${u.host}${path === '' ? '/v1' : path}`;
}

const RETRY_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);
const COOL_DOWN_MS = 2000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class OpenAIClient {
  readonly endpoints: EndpointStats[];
  private rr = 0;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  readonly counters = { requests: 0, attempts: 0, retries: 0, failures: 0, promptTokens: 0, completionTokens: 0 };

  constructor(private readonly opts: ClientOptions) {
    if (opts.endpoints.length === 0) throw new Error('OpenAIClient: at least one endpoint is needed');
    this.endpoints = opts.endpoints.map((e) => ({ url: normalizeEndpoint(e), inFlight: 0, requests: 0, failures: 0, consecutiveFailures: 0, lastFailureAt: 0 }));
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    this.maxRetries = opts.maxRetries ?? 5;
    this.retryBaseMs = opts.retryBaseMs ?? 500;
    this.retryMaxMs = opts.retryMaxMs ?? 20_000;
  }

  /** The least busy endpoint, avoiding ones that failed within the cool-down. */
  private pick(): EndpointStats {
    const now = Date.now();
    const n = this.endpoints.length;
    let best: EndpointStats | null = null;
    let bestScore = Infinity;
    for (let k = 0; k < n; k++) {
      const e = this.endpoints[(this.rr + k) % n]!;
      const cooling = e.consecutiveFailures > 0 && now - e.lastFailureAt < COOL_DOWN_MS;
      const score = e.inFlight + (cooling ? 1e6 * e.consecutiveFailures : 0);
      if (score < bestScore) { best = e; bestScore = score; }
    }
    this.rr = (this.rr + 1) % n;
    return best!;
  }

  /** One JSON request with retries. Throws ApiError (status 0 = never reached a server). */
  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, validate?: (v: unknown) => string | null): Promise<T> {
    this.counters.requests++;
    let lastError = '';
    let lastStatus = 0;
    let lastBody: unknown = null;
    for (let attempt = 0; attempt <= this.maxRetries; attempt++) {
      const ep = this.pick();
      ep.inFlight++;
      ep.requests++;
      this.counters.attempts++;
      let retryAfterMs = 0;
      try {
        const headers: Record<string, string> = { accept: 'application/json' };
        if (body !== undefined) headers['content-type'] = 'application/json';
        if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
        const res = await fetch(ep.url + path, {
          method, headers,
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(this.timeoutMs),
        });
        const text = await res.text();
        let parsed: unknown = undefined;
        try { parsed = JSON.parse(text); } catch { /* handled below */ }
        if (res.ok) {
          const problem = parsed === undefined ? `malformed JSON in a ${res.status} reply: ${text.slice(0, 200)}` : validate?.(parsed) ?? null;
          if (problem === null) {
            ep.consecutiveFailures = 0;
            ep.inFlight--;
            return parsed as T;
          }
          lastError = problem;
          lastStatus = res.status;
        } else {
          const info = errorMessageOf(parsed, text.slice(0, 300) || res.statusText);
          lastStatus = res.status;
          lastBody = parsed;
          lastError = `HTTP ${res.status}: ${info.message}`;
          if (!RETRY_STATUS.has(res.status)) {
            // The request itself is wrong; retrying cannot help.
            throw new ApiError(res.status, `${ep.url}${path}: ${info.message}`, info.type ?? 'invalid_request_error', info.param, info.code);
          }
          const ra = Number(res.headers.get('retry-after'));
          if (Number.isFinite(ra) && ra > 0) retryAfterMs = ra * 1000;
        }
      } catch (e) {
        if (e instanceof ApiError) { ep.inFlight--; this.counters.failures++; throw e; }
        const err = e as Error & { cause?: { code?: string; message?: string } };
        lastStatus = 0;
        lastError = err.name === 'TimeoutError' || err.name === 'AbortError'
          ? `timed out after ${this.timeoutMs} ms`
          : `${err.message}${err.cause ? ` (${err.cause.code ?? err.cause.message})` : ''}`;
      }
      ep.inFlight--;
      ep.failures++;
      ep.consecutiveFailures++;
      ep.lastFailureAt = Date.now();
      if (attempt === this.maxRetries) break;
      const backoff = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** attempt) * (0.5 + 0.5 * Math.random());
      const delayMs = Math.min(this.retryMaxMs, Math.max(backoff, retryAfterMs));
      this.counters.retries++;
      this.opts.onRetry?.({ endpoint: ep.url, attempt: attempt + 1, delayMs, error: lastError });
      await sleep(delayMs);
    }
    this.counters.failures++;
    const info = errorMessageOf(lastBody, lastError);
    throw new ApiError(lastStatus, `${method} ${path} failed after ${this.maxRetries + 1} attempts: ${lastError}`, lastStatus === 0 ? 'api_connection_error' : info.type ?? 'server_error', info.param, info.code ?? (lastStatus === 0 ? 'connection_error' : null));
  }

  /** POST /chat/completions (non-streaming). */
  async chat(body: ChatBody): Promise<ChatCompletion> {
    const out = await this.request<ChatCompletion>('POST', '/chat/completions', body, validateCompletion);
    if (out.usage) {
      this.counters.promptTokens += out.usage.prompt_tokens ?? 0;
      this.counters.completionTokens += out.usage.completion_tokens ?? 0;
    }
    return out;
  }

  /** GET /models of the first endpoint that answers. */
  async models(): Promise<ModelInfo[]> {
    const out = await this.request<{ data: ModelInfo[] }>('GET', '/models', undefined, (v) =>
      v && typeof v === 'object' && Array.isArray((v as { data?: unknown }).data) ? null : 'GET /models: reply has no "data" array');
    return out.data;
  }
}

function validateCompletion(v: unknown): string | null {
  if (!v || typeof v !== 'object') return 'chat completion reply is not a JSON object';
  const c = (v as { choices?: unknown }).choices;
  if (!Array.isArray(c)) return 'chat completion reply has no "choices" array';
  for (const ch of c) {
    const m = ch && typeof ch === 'object' ? (ch as ChatChoice).message : null;
    if (!m || typeof m !== 'object' || Array.isArray(m)) return 'chat completion choice has no "message"';
    // Callers read the content as text and add up usage: other types must not get through.
    if (m.content !== undefined && m.content !== null && typeof m.content !== 'string') return `chat completion message content is a ${typeof m.content}, not a string`;
  }
  const u = (v as { usage?: unknown }).usage;
  if (u !== undefined && u !== null) {
    if (typeof u !== 'object' || Array.isArray(u)) return 'chat completion "usage" is not an object';
    for (const k of ['prompt_tokens', 'completion_tokens'] as const) {
      const n = (u as Record<string, unknown>)[k];
      if (n !== undefined && n !== null && !(typeof n === 'number' && Number.isFinite(n) && n >= 0)) return `chat completion usage.${k} is not a non-negative number: ${JSON.stringify(n)?.slice(0, 40)}`;
    }
  }
  return null;
}
