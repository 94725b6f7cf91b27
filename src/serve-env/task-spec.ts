// What a request to `ivr serve-env` names as its task, validated (every problem is a 400
// naming the field). Two kinds:
//
//   "grid-7-4"  or  {"id": "grid-7-4"}
//       an embedded-benchmark instance named by its id (family-seed-horizon): regenerated
//       from the seed here, so nothing else travels; the scene prior checks every step.
//   {"image": "data:image/png;base64,...", "question": "...", "answer": "...",
//    "prior"?: {"family": "grid", "scene": {...}, "horizon"?: 4}, "id"?: "..."}
//       an external record. With a prior (an embedded family's scene) the scene verifier
//       checks the steps; without one the judge localizer (a VLM endpoint given at start-up)
//       checks them against the image. The image is PNG or JPEG, as a data URL or bare base64.
import { createHash } from 'node:crypto';
import type { ReasonTask } from '../reasoner/task.js';
import { badParam } from '../serve/errors.js';
import { FAMILY_IDS, FieldError, getFamily, isFamilyId, type Instance } from '../tasks/index.js';
import { checkImageSize, IMAGE_LIMITS, ImageLimitError } from '../tasks/render/image-limits.js';
import { jpegSize } from '../tasks/render/jpeg.js';

/** An external record's image: the bytes as sent, their type and size, and a content key. */
export interface ExternalImage { bytes: Buffer; media: 'png' | 'jpeg'; width: number; height: number; key: string }

export type TaskRef =
  | { kind: 'instance'; inst: Instance }
  | { kind: 'external'; id: string; question: string; answer: string; inst: Instance | null; image: ExternalImage };

const ID = /^(\w+)-(\d{1,10})-(\d{1,3})$/;
const MAX_TEXT = 64 * 1024;
const instances = new Map<string, Instance>();

/** The instance an id names, regenerated from its seed (a small cache of recent ones). */
export function instanceById(id: string, param: string): Instance {
  const hit = instances.get(id);
  if (hit) { instances.delete(id); instances.set(id, hit); return hit; }
  const m = ID.exec(id);
  const shape = `an embedded-instance id is family-seed-horizon, e.g. "grid-7-4" (families: ${FAMILY_IDS.join(', ')})`;
  if (!m) throw badParam(param, `${JSON.stringify(id.slice(0, 100))} is not an instance id: ${shape}`, 'invalid_task_id');
  const [, family, seedText, horizonText] = m;
  if (!isFamilyId(family)) throw badParam(param, `unknown family ${JSON.stringify(family)} in ${JSON.stringify(id)}: ${shape}`, 'invalid_task_id');
  const seed = Number(seedText);
  const horizon = Number(horizonText);
  if (seed > 0xffffffff) throw badParam(param, `seed ${seed} is over 4294967295`, 'invalid_task_id');
  const fam = getFamily(family);
  const [lo, hi] = fam.horizonLimits;
  if (horizon < lo || horizon > hi) throw badParam(param, `horizon ${horizon} is outside ${lo}..${hi} for family ${family}`, 'invalid_task_id');
  const inst = fam.generate(seed, horizon);
  instances.set(id, inst);
  if (instances.size > 1024) instances.delete(instances.keys().next().value!);
  return inst;
}

function text(r: Record<string, unknown>, k: string, param: string): string {
  const v = r[k];
  if (v === undefined) throw badParam(`${param}.${k}`, 'is required for an external task (image, question, answer)', 'missing_required_parameter');
  if (typeof v !== 'string' || v.trim() === '') throw badParam(`${param}.${k}`, `expected a non-empty string, got ${JSON.stringify(v)?.slice(0, 60)}`);
  if (v.length > MAX_TEXT) throw badParam(`${param}.${k}`, `is ${v.length} characters; at most ${MAX_TEXT}`);
  return v;
}

/** The image of an external record: a PNG or JPEG data URL, or bare base64 of one. */
export function parseImage(v: unknown, param: string): ExternalImage {
  if (typeof v !== 'string' || v.length === 0) throw badParam(param, 'expected a PNG or JPEG image as a data URL (data:image/png;base64,...) or bare base64', 'invalid_image_url');
  let b64 = v;
  if (v.startsWith('data:')) {
    const comma = v.indexOf(',');
    if (comma < 0 || !/;base64$/i.test(v.slice(0, comma))) throw badParam(param, 'malformed data URL: expected data:image/png;base64,... or data:image/jpeg;base64,...', 'invalid_image_url');
    b64 = v.slice(comma + 1);
  } else if (/^https?:/i.test(v)) {
    throw badParam(param, 'remote image URLs are not fetched by this service; send the image inline (data:image/png;base64,...)', 'invalid_image_url');
  }
  b64 = b64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 === 1) throw badParam(param, 'the image data is not valid base64', 'invalid_image');
  const bytes = Buffer.from(b64, 'base64');
  let media: 'png' | 'jpeg';
  let size: { width: number; height: number };
  try {
    if (bytes.length >= 24 && bytes.readUInt32BE(0) === 0x89504e47 && bytes.toString('latin1', 12, 16) === 'IHDR') {
      media = 'png';
      size = { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
    } else if (bytes[0] === 0xff && bytes[1] === 0xd8) {
      media = 'jpeg';
      size = jpegSize(bytes);
    } else {
      throw badParam(param, 'the image is neither a PNG nor a JPEG file', 'invalid_image');
    }
    if (size.width === 0 || size.height === 0) throw new Error(`zero width or height (${size.width}x${size.height})`);
    checkImageSize(media.toUpperCase(), size.width, size.height);
  } catch (e) {
    if (e instanceof ImageLimitError) throw badParam(param, `${e.message}; images up to ${IMAGE_LIMITS.maxSide} pixels per side and ${IMAGE_LIMITS.maxPixels} pixels in all are accepted`, 'image_too_large');
    if (e instanceof Error && e.name === 'ApiError') throw e;
    throw badParam(param, `cannot read the image: ${(e as Error).message}`, 'invalid_image');
  }
  return { bytes, media, ...size, key: createHash('sha256').update(bytes).digest('hex').slice(0, 32) };
}

/** An embedded family's scene as the prior of an external record: the gold steps come from it. */
function parsePrior(v: unknown, question: string, answer: string, id: string, param: string): Instance {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badParam(param, 'expected an object {"family", "scene", "horizon"?}');
  const r = v as Record<string, unknown>;
  const extra = Object.keys(r).filter((k) => !['family', 'scene', 'horizon'].includes(k));
  if (extra.length) throw badParam(`${param}.${extra[0]}`, 'unknown field (a prior has family, scene and optionally horizon)', 'unknown_parameter');
  if (!isFamilyId(r.family)) throw badParam(`${param}.family`, `expected one of ${FAMILY_IDS.join(', ')}, got ${JSON.stringify(r.family)}`);
  const fam = getFamily(r.family);
  const [lo, hi] = fam.horizonLimits;
  if (r.horizon !== undefined && (typeof r.horizon !== 'number' || !Number.isInteger(r.horizon) || r.horizon < lo || r.horizon > hi)) {
    throw badParam(`${param}.horizon`, `expected an integer in ${lo}..${hi}, got ${JSON.stringify(r.horizon)}`);
  }
  try {
    fam.validateScene(r.scene);
  } catch (e) {
    if (e instanceof FieldError) throw badParam(`${param}.${e.field}`, e.detail);
    throw e;
  }
  // The question fixes the horizon; without one given, the first that the question fits.
  const horizons = r.horizon !== undefined ? [r.horizon as number] : Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  let horizon = -1;
  let why = '';
  for (const h of horizons) {
    try { fam.validateQuestion(question, r.scene, h); horizon = h; break; } catch (e) { why = e instanceof FieldError ? e.detail : (e as Error).message; }
  }
  if (horizon < 0) throw badParam(`${param.replace(/\.prior$/, '')}.question`, `does not fit the prior's scene: ${why}`);
  const gold = fam.solve(question, r.scene);
  if (fam.normalizeAnswer(answer) !== fam.normalizeAnswer(gold.answer)) {
    throw badParam(`${param.replace(/\.prior$/, '')}.answer`, `${JSON.stringify(answer)} is not the answer the prior gives (${JSON.stringify(gold.answer)})`);
  }
  return { id, family: r.family, seed: -1, horizon, question, scene: r.scene, steps: gold.steps, answer: gold.answer };
}

/** Reads a request's task field (see the header). `param` is its name in the request (e.g. "task", "labels[3]"). */
export function parseTaskSpec(v: unknown, param: string): TaskRef {
  if (typeof v === 'string') return { kind: 'instance', inst: instanceById(v, param) };
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badParam(param, 'expected an embedded-instance id ("grid-7-4") or an object {"image", "question", "answer", "prior"?}');
  const r = v as Record<string, unknown>;
  const keys = Object.keys(r);
  if (keys.length === 1 && keys[0] === 'id') {
    if (typeof r.id !== 'string') throw badParam(`${param}.id`, 'expected a string');
    return { kind: 'instance', inst: instanceById(r.id, `${param}.id`) };
  }
  const extra = keys.filter((k) => !['id', 'image', 'question', 'answer', 'prior'].includes(k));
  if (extra.length) throw badParam(`${param}.${extra[0]}`, 'unknown field (a task is {"id"} or {"image", "question", "answer", "prior"?, "id"?})', 'unknown_parameter');
  const question = text(r, 'question', param);
  const answer = text(r, 'answer', param);
  if (r.image === undefined) throw badParam(`${param}.image`, 'is required for an external task (image, question, answer)', 'missing_required_parameter');
  const image = parseImage(r.image, `${param}.image`);
  if (r.id !== undefined && (typeof r.id !== 'string' || r.id.length === 0 || r.id.length > 200)) throw badParam(`${param}.id`, 'expected a non-empty string of at most 200 characters');
  const id = (r.id as string | undefined) ?? `ext-${createHash('sha256').update(image.key).update('\0').update(question).digest('hex').slice(0, 16)}`;
  const inst = r.prior === undefined || r.prior === null ? null : parsePrior(r.prior, question, answer, id, `${param}.prior`);
  return { kind: 'external', id, question, answer, inst, image };
}

/** The task as the reasoner port sees it, without images (the service adds them when a request needs them). */
export function reasonTask(ref: TaskRef): ReasonTask {
  if (ref.kind === 'instance') {
    const i = ref.inst;
    return { id: i.id, family: i.family, horizon: i.horizon, question: i.question, answer: i.answer, inst: i, images: [] };
  }
  const i = ref.inst;
  return { id: ref.id, family: i?.family ?? null, horizon: i?.horizon ?? null, question: ref.question, answer: i?.answer ?? ref.answer, inst: i, images: [] };
}
