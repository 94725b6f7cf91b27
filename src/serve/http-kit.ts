// The HTTP conventions every ivr server shares (`ivr serve`, `ivr serve-env`): the bearer
// key check, the JSON body reader (Content-Type, size limit, parse), error replies in the
// OpenAI error format, and the refusal of an empty key. One copy, so both servers refuse
// the same requests the same way.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import type * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApiError } from '../wire/errors.js';

const sha = (s: string) => createHash('sha256').update(s).digest();

/** An empty key would silently mean "no authentication"; refuse it rather than guess. */
export function checkApiKey(key: string | undefined): void {
  if (key === undefined) return;
  if (key.trim() === '') throw new Error('the API key is empty; an empty key would turn authentication off. Set a non-empty key, or none at all to serve without one');
  if (key.trim() !== key) throw new Error('the API key has leading or trailing whitespace, which clients cannot send in "Authorization: Bearer <key>"');
}

/** Throws a 401 unless the request carries "Authorization: Bearer <key>" (nothing to check without a key). */
export function checkBearer(req: http.IncomingMessage, key: string | undefined): void {
  if (!key) return;
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
  if (!m) throw new ApiError(401, 'You didn\'t provide an API key. Send it as "Authorization: Bearer <key>".', 'authentication_error', null, 'missing_api_key');
  if (!timingSafeEqual(sha(m[1]!.trim()), sha(key))) throw new ApiError(401, 'Incorrect API key provided.', 'authentication_error', null, 'invalid_api_key');
}

/** The request body, refused with a 413 past `limit` bytes (declared or received). */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const tooLarge = (n: string) => new ApiError(413, `request body is ${n} bytes; the limit is ${limit} bytes`, 'invalid_request_error', null, 'request_too_large');
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(String(declared)));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        if (!over) { over = true; req.off('data', onData); req.pause(); reject(tooLarge(`more than ${limit}`)); }
        return;
      }
      chunks.push(c);
    };
    req.on('data', onData);
    req.on('end', () => { if (!over) resolve(Buffer.concat(chunks)); });
    req.on('error', (e) => { if (!over) reject(e); });
  });
}

/**
 * A JSON request body: Content-Type application/json (required, not just checked when
 * present: a browser can POST text/plain cross-origin without a preflight, so a missing or
 * other type is how a web page would reach us; 415), within the limit (413), valid JSON (400).
 */
export async function readJsonBody(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const ctype = req.headers['content-type'];
  if (ctype === undefined || !/^application\/json\s*(;|$)/i.test(ctype)) {
    throw new ApiError(415, `Content-Type must be application/json, got ${ctype === undefined ? 'none' : JSON.stringify(ctype)}`, 'invalid_request_error', null, 'unsupported_media_type');
  }
  const raw = await readBody(req, limit);
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, `We could not parse the JSON body of your request: ${(e as Error).message}`, 'invalid_request_error', null, 'invalid_json');
  }
}

/** decodeURIComponent that answers a malformed escape (e.g. "%") with a 400, not a URIError. */
export function decodePathPart(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ApiError(400, `malformed URL: ${JSON.stringify(s.slice(0, 200))} is not valid percent-encoding`, 'invalid_request_error', null, 'invalid_url');
  }
}

/**
 * Replies with `e` as an OpenAI error body (anything but an ApiError is a 500). A 413 closes
 * the connection after draining a little of the oversized body, so the client can read it.
 */
export function sendError(req: http.IncomingMessage, res: http.ServerResponse, e: unknown, o: { closing: boolean; maxBodyBytes: number }): void {
  const err = e instanceof ApiError ? e : new ApiError(500, `internal error: ${(e as Error)?.message ?? String(e)}`, 'server_error', null, 'internal_error');
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json' };
  if (err.retryAfter !== undefined) headers['retry-after'] = String(err.retryAfter);
  if (o.closing || err.status === 413) headers.connection = 'close';
  res.writeHead(err.status === 499 ? 400 : err.status, headers);
  res.end(JSON.stringify(err.toBody()));
  if (err.status === 413) {
    let seen = 0;
    req.on('data', (c: Buffer) => { seen += c.length; if (seen > 8 * o.maxBodyBytes) req.destroy(); });
    req.resume();
  }
}

/** An HTTP server that answers a malformed request with a bare 400 and never crashes on one. */
export function createHttpServer(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): http.Server {
  const server = createServer(handle);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  return server;
}

/** Listens on host:port (port 0 = any free port); resolves with the address once listening. */
export function listenOn(server: http.Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** http://host:port of a listening server (an IPv6 address in brackets). */
export function serverOrigin(server: http.Server): string {
  const a = server.address() as AddressInfo | null;
  if (!a) throw new Error('server is not listening');
  return `http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

/**
 * Graceful shutdown: stop accepting, let `drain` finish the running and queued requests,
 * close idle connections, and after `timeoutMs` close every connection that is left.
 */
export async function closeGracefully(server: http.Server, drain: () => Promise<void>, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((r) => server.close(() => r()));
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  try {
    await drain();
    server.closeIdleConnections();
    await closed;
  } finally {
    clearTimeout(timer);
  }
}
