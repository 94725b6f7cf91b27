// Validation of POST /v1/chat/completions bodies. Every problem is an ApiError (400) whose
// message and `param` name the offending field, so a client sees exactly what to fix.
//
// Supported: model, messages (text and image_url parts), temperature, top_p, max_tokens
// (or max_completion_tokens), n, stop, seed, logprobs, top_logprobs, stream,
// stream_options.include_usage, and vLLM's continue_final_message / add_generation_prompt.
// Accepted only at their neutral values: presence_penalty, frequency_penalty (0),
// logit_bias ({}), response_format ({type: "text"}), tools / functions (empty).
// Accepted and ignored: user, metadata, store, service_tier, parallel_tool_calls, modalities
// (["text"]). Any other field is rejected, as the OpenAI API does, so a typo never passes
// silently.
import { ApiError, badParam, unsupported } from './errors.js';

export type Role = 'system' | 'developer' | 'user' | 'assistant';

export type Part = { type: 'text'; text: string } | { type: 'image'; url: string; param: string };

export interface ChatMessage { role: Role; parts: Part[]; param: string }

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  temperature: number;
  topP: number;
  /** Undefined = as many as the context allows. */
  maxTokens?: number;
  n: number;
  stop: string[];
  seed?: number;
  logprobs: boolean;
  topLogprobs: number;
  stream: boolean;
  includeUsage: boolean;
  continueFinalMessage?: boolean;
}

export interface RequestLimits {
  /** Largest n (choices per request). */
  maxN: number;
}

const IGNORED = new Set(['user', 'metadata', 'store', 'service_tier', 'parallel_tool_calls', 'modalities']);
const KNOWN = new Set([
  'model', 'messages', 'temperature', 'top_p', 'max_tokens', 'max_completion_tokens', 'n', 'stop', 'seed', 'logprobs',
  'top_logprobs', 'stream', 'stream_options', 'presence_penalty', 'frequency_penalty', 'logit_bias', 'response_format',
  'tools', 'tool_choice', 'functions', 'function_call', 'continue_final_message', 'add_generation_prompt', ...IGNORED,
]);

const typeName = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown) => v === undefined || v === null;

function num(body: Record<string, unknown>, key: string, min: number, max: number, def: number): number {
  const v = body[key];
  if (absent(v)) return def;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badParam(key, `expected a number, got ${typeName(v)}`, 'invalid_type');
  if (v < min || v > max) throw badParam(key, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

function int(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const v = body[key];
  if (absent(v)) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw badParam(key, `expected an integer, got ${typeName(v)} ${JSON.stringify(v)}`, 'invalid_type');
  if (v < min || v > max) throw badParam(key, `must be between ${min} and ${max}, got ${v}`);
  return v;
}

function bool(body: Record<string, unknown>, key: string): boolean | undefined {
  const v = body[key];
  if (absent(v)) return undefined;
  if (typeof v !== 'boolean') throw badParam(key, `expected a boolean, got ${typeName(v)}`, 'invalid_type');
  return v;
}

function parseParts(content: unknown, param: string, role: Role): Part[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  if (!Array.isArray(content)) throw badParam(param, `expected a string or an array of content parts, got ${typeName(content)}`, 'invalid_type');
  return content.map((p, i): Part => {
    const pp = `${param}[${i}]`;
    if (!isObject(p)) throw badParam(pp, `expected a content part object, got ${typeName(p)}`, 'invalid_type');
    if (p.type === 'text') {
      if (typeof p.text !== 'string') throw badParam(`${pp}.text`, `expected a string, got ${typeName(p.text)}`, 'invalid_type');
      return { type: 'text', text: p.text };
    }
    if (p.type === 'image_url') {
      if (role !== 'user') throw badParam(pp, `image parts are only allowed in user messages, not in ${role} messages`);
      // OpenAI's shape is {url, detail}; a bare string is accepted too (as vLLM does).
      const iu = p.image_url;
      const url = typeof iu === 'string' ? iu : isObject(iu) ? iu.url : undefined;
      if (typeof url !== 'string') throw badParam(`${pp}.image_url.url`, `expected a string (a data:image/png;base64,... or data:image/jpeg;base64,... URL), got ${typeName(url)}`, 'invalid_type');
      if (isObject(iu) && iu.detail !== undefined && !['auto', 'low', 'high'].includes(iu.detail as string)) {
        throw badParam(`${pp}.image_url.detail`, `expected "auto", "low" or "high", got ${JSON.stringify(iu.detail)}`);
      }
      return { type: 'image', url, param: `${pp}.image_url.url` };
    }
    if (typeof p.type !== 'string') throw badParam(`${pp}.type`, `expected a string, got ${typeName(p.type)}`, 'invalid_type');
    throw unsupported(`${pp}.type`, `content parts of type "${p.type}" are not supported (use "text" or "image_url")`);
  });
}

function parseMessages(v: unknown): ChatMessage[] {
  if (absent(v)) throw new ApiError(400, 'messages: missing required parameter (a non-empty array of chat messages)', 'invalid_request_error', 'messages', 'missing_required_parameter');
  if (!Array.isArray(v)) throw badParam('messages', `expected an array of messages, got ${typeName(v)}`, 'invalid_type');
  if (v.length === 0) throw badParam('messages', 'must contain at least one message');
  return v.map((m, i) => {
    const param = `messages[${i}]`;
    if (!isObject(m)) throw badParam(param, `expected a message object, got ${typeName(m)}`, 'invalid_type');
    const role = m.role;
    if (typeof role !== 'string') throw badParam(`${param}.role`, `expected a string, got ${typeName(role)}`, 'invalid_type');
    if (role === 'tool' || role === 'function') throw unsupported(`${param}.role`, `"${role}" messages are not supported (the model has no tool use)`);
    if (!['system', 'developer', 'user', 'assistant'].includes(role)) throw badParam(`${param}.role`, `unknown role "${role}" (expected system, developer, user or assistant)`);
    if (m.tool_calls !== undefined && m.tool_calls !== null) throw unsupported(`${param}.tool_calls`, 'tool calls are not supported');
    if (absent(m.content)) throw badParam(`${param}.content`, 'missing message content', 'missing_required_parameter');
    return { role: role as Role, parts: parseParts(m.content, `${param}.content`, role as Role), param };
  });
}

function parseStop(v: unknown): string[] {
  if (absent(v)) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) throw badParam('stop', `expected a string or an array of strings, got ${typeName(v)}`, 'invalid_type');
  if (list.length > 4) throw badParam('stop', `at most 4 stop sequences, got ${list.length}`);
  list.forEach((s, i) => {
    if (typeof s !== 'string') throw badParam(`stop[${i}]`, `expected a string, got ${typeName(s)}`, 'invalid_type');
    if (s.length === 0) throw badParam(`stop[${i}]`, 'a stop sequence must not be empty');
  });
  return list as string[];
}

/** Validates a parsed JSON body. Throws ApiError(400) naming the field on the first problem. */
export function parseChatRequest(body: unknown, limits: RequestLimits): ChatRequest {
  if (!isObject(body)) throw new ApiError(400, `the request body must be a JSON object, got ${typeName(body)}`, 'invalid_request_error', null, 'invalid_body');
  for (const key of Object.keys(body)) {
    if (!KNOWN.has(key)) throw new ApiError(400, `Unrecognized request argument supplied: ${key}`, 'invalid_request_error', key, 'unknown_parameter');
  }
  if (absent(body.model)) throw new ApiError(400, 'model: missing required parameter (see GET /v1/models)', 'invalid_request_error', 'model', 'missing_required_parameter');
  if (typeof body.model !== 'string') throw badParam('model', `expected a string, got ${typeName(body.model)}`, 'invalid_type');
  const messages = parseMessages(body.messages);

  for (const key of ['presence_penalty', 'frequency_penalty']) {
    const v = num(body, key, -2, 2, 0);
    if (v !== 0) throw unsupported(key, `only 0 is supported, got ${v}`);
  }
  if (!absent(body.logit_bias)) {
    if (!isObject(body.logit_bias)) throw badParam('logit_bias', `expected an object, got ${typeName(body.logit_bias)}`, 'invalid_type');
    if (Object.keys(body.logit_bias).length > 0) throw unsupported('logit_bias', 'logit_bias is not supported');
  }
  if (!absent(body.response_format)) {
    const rf = body.response_format;
    if (!isObject(rf) || typeof rf.type !== 'string') throw badParam('response_format', 'expected an object with a "type"', 'invalid_type');
    if (rf.type !== 'text') throw unsupported('response_format', `type "${rf.type}" is not supported (only "text": the model writes its own reasoning format)`);
  }
  for (const key of ['tools', 'functions']) {
    const v = body[key];
    if (absent(v)) continue;
    if (!Array.isArray(v)) throw badParam(key, `expected an array, got ${typeName(v)}`, 'invalid_type');
    if (v.length > 0) throw unsupported(key, 'tool calling is not supported');
  }
  for (const key of ['tool_choice', 'function_call']) {
    const v = body[key];
    if (!absent(v) && v !== 'none' && v !== 'auto') throw unsupported(key, 'tool calling is not supported');
  }
  if (body.modalities !== undefined && body.modalities !== null) {
    const m = body.modalities;
    if (!Array.isArray(m) || m.some((x) => x !== 'text')) throw unsupported('modalities', 'only ["text"] output is supported');
  }

  const maxTokens = int(body, 'max_tokens', 1, 1 << 20);
  const maxCompletion = int(body, 'max_completion_tokens', 1, 1 << 20);
  if (maxTokens !== undefined && maxCompletion !== undefined && maxTokens !== maxCompletion) {
    throw badParam('max_completion_tokens', `conflicts with max_tokens (${maxCompletion} vs ${maxTokens}); send one of them`);
  }
  const n = int(body, 'n', 1, limits.maxN) ?? 1;
  const seed = int(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const logprobs = bool(body, 'logprobs') ?? false;
  const topLogprobs = int(body, 'top_logprobs', 0, 20) ?? 0;
  if (topLogprobs > 0 && !logprobs) throw badParam('top_logprobs', 'requires logprobs: true');
  const stream = bool(body, 'stream') ?? false;
  let includeUsage = false;
  if (!absent(body.stream_options)) {
    if (!stream) throw badParam('stream_options', 'only allowed when stream is true');
    const so = body.stream_options;
    if (!isObject(so)) throw badParam('stream_options', `expected an object, got ${typeName(so)}`, 'invalid_type');
    for (const k of Object.keys(so)) if (k !== 'include_usage' && k !== 'continuous_usage_stats') throw badParam(`stream_options.${k}`, 'unknown stream option');
    if (so.include_usage !== undefined && typeof so.include_usage !== 'boolean') throw badParam('stream_options.include_usage', `expected a boolean, got ${typeName(so.include_usage)}`, 'invalid_type');
    includeUsage = so.include_usage === true;
  }
  const continueFinalMessage = bool(body, 'continue_final_message');
  const addGenerationPrompt = bool(body, 'add_generation_prompt');
  if (continueFinalMessage && addGenerationPrompt) throw badParam('add_generation_prompt', 'cannot be true together with continue_final_message');
  return {
    model: body.model,
    messages,
    temperature: num(body, 'temperature', 0, 2, 1),
    topP: num(body, 'top_p', 0, 1, 1),
    ...(maxTokens ?? maxCompletion) !== undefined ? { maxTokens: (maxTokens ?? maxCompletion)! } : {},
    n,
    stop: parseStop(body.stop),
    ...(seed !== undefined ? { seed } : {}),
    logprobs,
    topLogprobs,
    stream,
    includeUsage,
    ...(continueFinalMessage !== undefined ? { continueFinalMessage } : {}),
  };
}
