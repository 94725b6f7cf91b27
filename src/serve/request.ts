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
import { z } from 'zod';
import { ApiError } from '../wire/errors.js';
import { validate, ValidationError } from '../util/schema.js';
import { badParam, unsupported } from './errors.js';

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

// The body's shape (types, ranges, known keys) is a zod schema validated by util/schema.ts,
// like every other input; what a valid shape may not ask for (tools, penalties, ...) is
// checked after it. Every problem becomes an ApiError(400) naming the field in `param`.
const absentOr = <T extends z.ZodType>(s: T) => s.nullish(); // OpenAI treats null as absent
const number = (min: number, max: number) => absentOr(z.number().min(min).max(max));
const integer = (min: number, max: number) => absentOr(z.int().min(min).max(max));
const flag = absentOr(z.boolean());
const anything = z.unknown().optional();

const messageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: absentOr(z.union([z.string(), z.array(z.looseObject({ type: z.string() }))])),
  tool_calls: anything,
});
const textPart = z.looseObject({ type: z.literal('text'), text: z.string() });
const imagePart = z.looseObject({ type: z.literal('image_url'), image_url: z.unknown() });
// OpenAI's shape is {url, detail}; a bare string is accepted too (as vLLM does).
const imageUrl = z.looseObject({ url: z.string(), detail: z.enum(['auto', 'low', 'high']).optional() });

function bodySchema(maxN: number) {
  return z.strictObject({
    model: z.string(),
    messages: z.array(messageSchema).min(1),
    temperature: number(0, 2),
    top_p: number(0, 1),
    max_tokens: integer(1, 1 << 20),
    max_completion_tokens: integer(1, 1 << 20),
    n: integer(1, maxN),
    stop: absentOr(z.union([z.string().min(1), z.array(z.string().min(1)).max(4)])),
    seed: absentOr(z.int()),
    logprobs: flag,
    top_logprobs: integer(0, 20),
    stream: flag,
    stream_options: absentOr(z.strictObject({ include_usage: z.boolean().optional(), continuous_usage_stats: anything })),
    presence_penalty: number(-2, 2),
    frequency_penalty: number(-2, 2),
    logit_bias: absentOr(z.record(z.string(), anything)),
    response_format: absentOr(z.looseObject({ type: z.string() })),
    tools: absentOr(z.array(anything)),
    functions: absentOr(z.array(anything)),
    tool_choice: anything,
    function_call: anything,
    continue_final_message: flag,
    add_generation_prompt: flag,
    // Accepted and ignored.
    user: anything, metadata: anything, store: anything, service_tier: anything, parallel_tool_calls: anything, modalities: anything,
  });
}
const bodySchemas = new Map<number, ReturnType<typeof bodySchema>>();

const API_CODES: Record<string, string> = { missing: 'missing_required_parameter', unknown_key: 'unknown_parameter', invalid_type: 'invalid_type' };

/** Validates `value` (found at `prefix`) or throws the ApiError of its first problem. */
function check<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): z.output<S> {
  try {
    return validate(schema, value, 'request body');
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    const i = e.issues[0]!;
    const param = prefix && i.path ? `${prefix}${i.path.startsWith('[') ? '' : '.'}${i.path}` : prefix || i.path;
    throw new ApiError(400, `${param}: ${i.detail}`, 'invalid_request_error', param, API_CODES[i.code] ?? 'invalid_value');
  }
}

function parseParts(content: string | { type: string }[], param: string, role: Role): Part[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return content.map((p, i): Part => {
    const pp = `${param}[${i}]`;
    if (p.type === 'text') return { type: 'text', text: check(textPart, p, pp).text };
    if (p.type === 'image_url') {
      if (role !== 'user') throw badParam(pp, `image parts are only allowed in user messages, not in ${role} messages`);
      const iu = check(imagePart, p, pp).image_url;
      return { type: 'image', url: typeof iu === 'string' ? iu : check(imageUrl, iu, `${pp}.image_url`).url, param: `${pp}.image_url.url` };
    }
    throw unsupported(`${pp}.type`, `content parts of type "${p.type}" are not supported (use "text" or "image_url")`);
  });
}

function parseMessages(messages: z.output<typeof messageSchema>[]): ChatMessage[] {
  return messages.map((m, i) => {
    const param = `messages[${i}]`;
    if (m.role === 'tool' || m.role === 'function') throw unsupported(`${param}.role`, `"${m.role}" messages are not supported (the model has no tool use)`);
    if (m.tool_calls !== undefined && m.tool_calls !== null) throw unsupported(`${param}.tool_calls`, 'tool calls are not supported');
    if (m.content === undefined || m.content === null) throw badParam(`${param}.content`, 'missing message content', 'missing_required_parameter');
    return { role: m.role, parts: parseParts(m.content, `${param}.content`, m.role), param };
  });
}

/** Validates a parsed JSON body. Throws ApiError(400) naming the field on the first problem. */
export function parseChatRequest(body: unknown, limits: RequestLimits): ChatRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ApiError(400, `the request body must be a JSON object, got ${body === null ? 'null' : Array.isArray(body) ? 'array' : typeof body}`, 'invalid_request_error', null, 'invalid_body');
  }
  let schema = bodySchemas.get(limits.maxN);
  if (!schema) bodySchemas.set(limits.maxN, schema = bodySchema(limits.maxN));
  const b = check(schema, body);
  const messages = parseMessages(b.messages);

  // Accepted only at their neutral values.
  for (const key of ['presence_penalty', 'frequency_penalty'] as const) {
    if ((b[key] ?? 0) !== 0) throw unsupported(key, `only 0 is supported, got ${b[key]}`);
  }
  if (b.logit_bias && Object.keys(b.logit_bias).length > 0) throw unsupported('logit_bias', 'logit_bias is not supported');
  if (b.response_format && b.response_format.type !== 'text') {
    throw unsupported('response_format', `type "${b.response_format.type}" is not supported (only "text": the model writes its own reasoning format)`);
  }
  for (const key of ['tools', 'functions'] as const) if (b[key]?.length) throw unsupported(key, 'tool calling is not supported');
  for (const key of ['tool_choice', 'function_call'] as const) {
    const v = b[key];
    if (v !== undefined && v !== null && v !== 'none' && v !== 'auto') throw unsupported(key, 'tool calling is not supported');
  }
  if (b.modalities !== undefined && b.modalities !== null && (!Array.isArray(b.modalities) || b.modalities.some((x) => x !== 'text'))) {
    throw unsupported('modalities', 'only ["text"] output is supported');
  }

  const maxTokens = b.max_tokens ?? undefined;
  const maxCompletion = b.max_completion_tokens ?? undefined;
  if (maxTokens !== undefined && maxCompletion !== undefined && maxTokens !== maxCompletion) {
    throw badParam('max_completion_tokens', `conflicts with max_tokens (${maxCompletion} vs ${maxTokens}); send one of them`);
  }
  const logprobs = b.logprobs ?? false;
  const topLogprobs = b.top_logprobs ?? 0;
  if (topLogprobs > 0 && !logprobs) throw badParam('top_logprobs', 'requires logprobs: true');
  const stream = b.stream ?? false;
  if (b.stream_options && !stream) throw badParam('stream_options', 'only allowed when stream is true');
  const continueFinalMessage = b.continue_final_message ?? undefined;
  if (continueFinalMessage && b.add_generation_prompt) throw badParam('add_generation_prompt', 'cannot be true together with continue_final_message');
  const max = maxTokens ?? maxCompletion;
  return {
    model: b.model,
    messages,
    temperature: b.temperature ?? 1,
    topP: b.top_p ?? 1,
    ...(max !== undefined ? { maxTokens: max } : {}),
    n: b.n ?? 1,
    stop: b.stop === undefined || b.stop === null ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop,
    ...(b.seed !== undefined && b.seed !== null ? { seed: b.seed } : {}),
    logprobs,
    topLogprobs,
    stream,
    includeUsage: b.stream_options?.include_usage === true,
    ...(continueFinalMessage !== undefined ? { continueFinalMessage } : {}),
  };
}
