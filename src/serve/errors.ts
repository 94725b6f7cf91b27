// The server's shorthands for refusing a request field with a 400. The error type itself
// (ApiError, the OpenAI error body) is the wire vocabulary both sides share: src/wire/errors.ts.
import { ApiError } from '../wire/errors.js';

/** A 400 for a request field: names the field in both the message and `param`. */
export function badParam(param: string, message: string, code = 'invalid_value'): ApiError {
  return new ApiError(400, `${param}: ${message}`, 'invalid_request_error', param, code);
}

/** A 400 for a parameter value this server understands but does not implement. */
export function unsupported(param: string, message: string): ApiError {
  return new ApiError(400, `${param}: ${message}`, 'invalid_request_error', param, 'unsupported_value');
}
