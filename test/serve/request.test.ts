// parseChatRequest: every refused body is an ApiError(400) whose `param` names the field
// and whose message says what was expected and what came (the zod schema's wording).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '../../src/wire/errors.js';
import { parseChatRequest } from '../../src/serve/request.js';

const LIMITS = { maxN: 8 };
const user = { role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }, { type: 'text', text: 'q' }] };
const ok = { model: 'm', messages: [user] };

function refused(body: unknown, param: string | null, message: RegExp, code?: string): void {
  assert.throws(() => parseChatRequest(body, LIMITS), (e: unknown) => {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.status, 400);
    assert.equal(e.param, param, e.message);
    assert.match(e.message, message);
    if (code) assert.equal(e.code, code, e.message);
    return true;
  });
}

test('a valid body parses with the defaults filled in', () => {
  const r = parseChatRequest({ ...ok, stop: 'x', seed: 3, temperature: null }, LIMITS);
  assert.deepEqual(r.messages[0]!.parts, [{ type: 'image', url: 'data:image/png;base64,AAAA', param: 'messages[0].content[0].image_url.url' }, { type: 'text', text: 'q' }]);
  assert.equal(r.temperature, 1);
  assert.deepEqual(r.stop, ['x']);
  assert.equal(r.seed, 3);
  assert.equal(r.n, 1);
  assert.equal(parseChatRequest({ ...ok, max_completion_tokens: 5 }, LIMITS).maxTokens, 5);
  assert.equal(parseChatRequest({ ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: 'u' }] }] }, LIMITS).messages[0]!.parts[0]!.type, 'image');
});

test('shape problems name the field, the expectation and the value', () => {
  refused([1], null, /must be a JSON object, got array/, 'invalid_body');
  refused({ model: 'm' }, 'messages', /^messages: is missing/, 'missing_required_parameter');
  refused({ messages: [user] }, 'model', /^model: is missing \(a string\)/, 'missing_required_parameter');
  refused({ ...ok, messages: [] }, 'messages', /must be an array of at least 1/);
  refused({ ...ok, max_tokens: 'ten' }, 'max_tokens', /^max_tokens: must be an integer in \[1, 1048576\] or null, got "ten"/, 'invalid_type');
  refused({ ...ok, n: 0 }, 'n', /^n: must be an integer in \[1, 8\] or null, got 0/, 'invalid_value');
  refused({ ...ok, n: 9 }, 'n', /in \[1, 8\]/);
  refused({ ...ok, top_p: 1.5 }, 'top_p', /a number in \[0, 1\]/);
  refused({ ...ok, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', /at most 4/);
  refused({ ...ok, temprature: 0.5 }, 'temprature', /^temprature: is unknown \(did you mean "temperature"\?\)/, 'unknown_parameter');
  refused({ ...ok, messages: [{ role: 'robot', content: 'x' }] }, 'messages[0].role', /must be one of "system", "developer", "user", "assistant"/);
  refused({ ...ok, messages: [{ role: 'user', content: [{ type: 'text', text: 3 }] }] }, 'messages[0].content[0].text', /must be a string, got 3/);
  refused({ ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 5 } }] }] }, 'messages[0].content[0].image_url.url', /must be a string, got 5/);
  refused({ ...ok, messages: [{ role: 'user', content: [{ type: 'image_url' }] }] }, 'messages[0].content[0].image_url', /is missing/);
  refused({ ...ok, messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'u', detail: 'max' } }] }] }, 'messages[0].content[0].image_url.detail', /one of "auto", "low", "high"/);
  refused({ ...ok, stream: true, stream_options: { foo: 1 } }, 'stream_options.foo', /is unknown/);
});

test('what a valid shape may not ask for is refused as unsupported', () => {
  refused({ ...ok, presence_penalty: 0.5 }, 'presence_penalty', /only 0/, 'unsupported_value');
  refused({ ...ok, response_format: { type: 'json_object' } }, 'response_format', /not supported/);
  refused({ ...ok, tools: [{}] }, 'tools', /tool calling/);
  refused({ ...ok, messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role', /not supported/);
  refused({ ...ok, messages: [{ role: 'user', content: [{ type: 'audio' }] }] }, 'messages[0].content[0].type', /"audio" are not supported/);
  refused({ ...ok, messages: [{ role: 'assistant', content: [{ type: 'image_url', image_url: 'u' }] }] }, 'messages[0].content[0]', /only allowed in user messages/);
  refused({ ...ok, top_logprobs: 2 }, 'top_logprobs', /requires logprobs/);
  refused({ ...ok, stream_options: { include_usage: true } }, 'stream_options', /only allowed when stream is true/);
  refused({ ...ok, max_tokens: 3, max_completion_tokens: 4 }, 'max_completion_tokens', /conflicts/);
  refused({ ...ok, messages: [{ role: 'user' }] }, 'messages[0].content', /missing message content/);
});
