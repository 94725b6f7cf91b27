// Errors in the OpenAI wire format: {"error": {"message", "type", "param", "code"}}.
// The client (src/client/) raises ApiError for every non-2xx reply it gives up on; the
// servers (src/serve/, src/serve-env/) throw it for every request they refuse. It lives
// here, beside neither, so both sides speak one error vocabulary without importing each
// other. The server's own shorthands for 400s are in src/serve/errors.ts.

export type ApiErrorType = 'invalid_request_error' | 'authentication_error' | 'not_found_error' | 'rate_limit_error' | 'server_error' | 'api_connection_error';

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: ApiErrorType | string = status >= 500 ? 'server_error' : 'invalid_request_error',
    readonly param: string | null = null,
    readonly code: string | null = null,
    /** Seconds a client should wait before retrying (429/503), sent as Retry-After. */
    readonly retryAfter?: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** Reads an OpenAI-style error body (or anything else) into a message, for client errors. */
export function errorMessageOf(body: unknown, fallback: string): { message: string; type: string | null; param: string | null; code: string | null } {
  if (body && typeof body === 'object' && 'error' in body) {
    const e = (body as { error: unknown }).error;
    if (e && typeof e === 'object') {
      const r = e as Record<string, unknown>;
      return {
        message: typeof r.message === 'string' ? r.message : fallback,
        type: typeof r.type === 'string' ? r.type : null,
        param: typeof r.param === 'string' ? r.param : null,
        code: typeof r.code === 'string' ? r.code : null,
      };
    }
    if (typeof e === 'string') return { message: e, type: null, param: null, code: null };
  }
  return { message: fallback, type: null, param: null, code: null };
}
