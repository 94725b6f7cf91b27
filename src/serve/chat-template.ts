// How chat messages map to the compact model (its "chat template").
//
// The compact VLM was trained on exactly one layout: [image, text(<bos> + question + "\n")]
// followed by its response, and IVR-R1's Re-Reasoning Loop adds one more:
// [image, text(<bos> + question + "\n" + response prefix), image] (the image re-inserted
// where the next step begins). A chat request maps onto these as follows:
//
//   system / developer messages     ignored (the model has no instruction tuning)
//   user     [image_url, text...]   the image (a data:image/png or data:image/jpeg base64
//                                    URL of any size within the limits; resized to
//                                    imageSize x imageSize by area averaging, see
//                                    image-url.ts; an exact-size PNG is used as is)
//                                    and the prompt: the text parts joined by "\n", with a
//                                    final "\n" appended when missing (training prompts are
//                                    promptText(inst) = question + "\n"); an exported
//                                    instruction prompt is read as its question and
//                                    "<image>" placeholders are dropped (modelPrompt)
//   assistant (optional) text       a response prefix the model continues (vLLM's
//                                    continue_final_message); the reply holds only the
//                                    continuation
//   user (optional) [image_url]     re-grounding after the prefix: the same image is
//                                    inserted again before the model continues the
//                                    assistant text. Text parts of this message are not
//                                    shown to the model (it cannot follow instructions);
//                                    external VLMs read them, so remote clients may send
//                                    the verified facts there.
//
// Anything else (two questions, several images, text without an image) is a 400 that says
// which layout is expected.
import { ApiError } from '../wire/errors.js';
import { numPatches, type VlmConfig } from '../model/config.js';
import { patchify } from '../model/image.js';
import type { Tokenizer } from '../model/tokenizer.js';
import { badParam } from './errors.js';
import { decodeImageUrl } from './image-url.js';
import type { ChatMessage, Part } from './request.js';

export interface ModelInput {
  patches: Float32Array;
  /** <bos> + prompt + assistant prefix, as token ids. */
  ids: number[];
  /** Insert the image again after the text (re-grounding). */
  reground: boolean;
  /** Prompt tokens as billed in `usage`: text tokens plus one per image patch. */
  promptTokens: number;
}

const LAYOUT = 'expected [user (image + question)], optionally followed by an assistant message (a response prefix to continue) and a user message holding the same image again (re-grounding)';

const texts = (parts: Part[]) => parts.flatMap((p) => (p.type === 'text' ? [p.text] : []));
const images = (parts: Part[]) => parts.flatMap((p) => (p.type === 'image' ? [p] : []));

/** The line that ends the self-contained instruction prompt (`instructionPrompt` in
 *  tasks/verify.ts, the default user text of `ivr tasks export --format trl|verl|llamafactory`). */
const INSTRUCTION_MARKER = 'Respond exactly in this format';
const QUESTION_LINE = /\nQuestion: ([^\n]+)\n?$/;

/**
 * The text the compact model reads. It was trained on the bare question and cannot follow
 * instructions, so the exported instruction prompt (family grammar, response format, then
 * "Question: ...") is read as its question, and the `<image>` placeholders of the verl and
 * LLaMA-Factory exports (the image itself comes as an image part) are dropped: every export
 * format is servable as exported.
 */
export function modelPrompt(text: string): string {
  const t = text.replace(/<image>/g, '');
  const q = t.includes(INSTRUCTION_MARKER) ? QUESTION_LINE.exec(t) : null;
  return q ? q[1]! : t;
}

/** Maps validated chat messages onto the model's input layout (see the header). */
export function toModelInput(messages: ChatMessage[], cfg: VlmConfig, tok: Tokenizer, continueFinalMessage?: boolean): ModelInput {
  const turns = messages.filter((m) => m.role === 'user' || m.role === 'assistant');
  if (turns.length === 0) throw badParam('messages', `no user message (${LAYOUT})`);
  if (turns.length > 3) throw badParam('messages', `this model answers one question about one image: ${turns.length} user/assistant turns, ${LAYOUT}`);
  const roles = turns.map((t) => t.role).join(',');
  if (roles !== 'user' && roles !== 'user,assistant' && roles !== 'user,assistant,user') throw badParam('messages', `unsupported turn order ${roles}: ${LAYOUT}`);
  const [first, prefixMsg, regroundMsg] = turns as [ChatMessage, ChatMessage?, ChatMessage?];
  if (continueFinalMessage && !(prefixMsg && !regroundMsg)) throw badParam('continue_final_message', 'requires the last message to be an assistant message');

  const firstImages = images(first.parts);
  if (firstImages.length === 0) throw badParam(`${first.param}.content`, `the user message needs an image: add an image_url part with a data:image/png;base64 (or data:image/jpeg;base64) URL`, 'missing_image');
  if (firstImages.length > 1) throw badParam(`${first.param}.content`, `one image per request, got ${firstImages.length}`);
  const img = decodeImageUrl(firstImages[0]!.url, firstImages[0]!.param, cfg.imageSize);
  let prompt = modelPrompt(texts(first.parts).join('\n'));
  if (prompt.trim().length === 0) throw badParam(`${first.param}.content`, 'the user message needs text: the question', 'missing_text');
  if (!prompt.endsWith('\n')) prompt += '\n';

  const prefix = prefixMsg ? texts(prefixMsg.parts).join('') : '';
  let reground = false;
  if (regroundMsg) {
    const again = images(regroundMsg.parts);
    if (again.length !== 1) throw badParam(`${regroundMsg.param}.content`, `a user message after the assistant prefix re-grounds the model and must hold exactly one image (the same one), got ${again.length}`);
    const img2 = decodeImageUrl(again[0]!.url, again[0]!.param, cfg.imageSize);
    if (!Buffer.from(img2.data).equals(Buffer.from(img.data))) throw badParam(again[0]!.param, 'the re-grounding image must be the same image as in the first user message');
    reground = true;
  }
  const ids = [tok.bos, ...tok.encode(prompt), ...tok.encode(prefix)];
  if (ids.length >= cfg.maxText) {
    throw new ApiError(400, `messages: the prompt is ${ids.length} text tokens, but this model's context holds ${cfg.maxText} text tokens including the reply (the compact model reads the bare question; see GET /v1/models for its prompt format)`, 'invalid_request_error', 'messages', 'context_length_exceeded');
  }
  return { patches: patchify(img, cfg), ids, reground, promptTokens: ids.length + numPatches(cfg) * (reground ? 2 : 1) };
}
