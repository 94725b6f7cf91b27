// LLaMA-Factory's ShareGPT format with images, and its dataset registry.
//   <name>.json          [{messages: [{role: 'user', content: '<image>' + prompt}, {role: 'assistant', content}],
//                          images: ['images/<id>.large.png'], id, answer}, …]
//   dataset_info.json    {<name>: {file_name, formatting: 'sharegpt', columns: {messages, images}, tags: {…}}}
// LLaMA-Factory finds a dataset by its entry in `<dataset_dir>/dataset_info.json` and resolves
// image paths against its media_dir, which defaults to dataset_dir: so the data file, the
// registry and the relative image paths all live in one directory. Each `<image>` in the user
// text is replaced by one image from `images`, in order.
import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { atomicWriteFile, atomicWriteJson, readJsonFile } from '../../util/fs.js';
import type { Instance } from '../types.js';
import { checkFileName, exportRows, writeRowImages, type ExportOptions, type ExportRow } from './rows.js';

export const DATASET_INFO = 'dataset_info.json';

export interface DatasetInfoEntry {
  file_name: string;
  formatting: 'sharegpt';
  columns: { messages: 'messages'; images: 'images' };
  tags: { role_tag: 'role'; content_tag: 'content'; user_tag: 'user'; assistant_tag: 'assistant' };
}

/** The registry entry for a ShareGPT file with `messages` and `images` columns. */
export function sharegptEntry(fileName: string): DatasetInfoEntry {
  return {
    file_name: fileName,
    formatting: 'sharegpt',
    columns: { messages: 'messages', images: 'images' },
    tags: { role_tag: 'role', content_tag: 'content', user_tag: 'user', assistant_tag: 'assistant' },
  };
}

/**
 * Add or replace `name` in `dir/dataset_info.json`, keeping every other entry (users register
 * their own datasets in the same file). Written atomically. A file that is not a JSON object
 * is an error rather than something to overwrite, since it may hold someone's registry.
 * Read-modify-write: two processes registering into one directory at the same instant can
 * lose one entry; rerunning either restores it.
 */
export function registerDataset(dir: string, name: string, entry: DatasetInfoEntry): string {
  const file = join(dir, DATASET_INFO);
  let info: Record<string, unknown> = {};
  if (existsSync(file)) {
    const existing = readJsonFile(file, 'LLaMA-Factory dataset registry');
    if (typeof existing !== 'object' || existing === null || Array.isArray(existing)) {
      throw new Error(`LLaMA-Factory dataset registry ${file} must hold a JSON object of dataset entries; not overwriting it`);
    }
    info = existing as Record<string, unknown>;
  }
  info[name] = entry;
  mkdirSync(dir, { recursive: true });
  atomicWriteJson(file, info);
  return file;
}

/** Register a ShareGPT data file under its own name (file name without .json/.jsonl), next to it. */
export function registerDataFile(dataFile: string): { registry: string; name: string } {
  const fileName = basename(dataFile);
  const name = fileName.replace(/\.jsonl?$/, '');
  return { registry: registerDataset(dirname(dataFile), name, sharegptEntry(fileName)), name };
}

export interface ShareGptRecord {
  messages: [{ role: 'user'; content: string }, { role: 'assistant'; content: string }];
  images: [string];
  id: string;
  answer: string;
}

export function shareGptRecord(r: ExportRow): ShareGptRecord {
  return {
    messages: [{ role: 'user', content: '<image>' + r.prompt }, { role: 'assistant', content: r.response }],
    images: [r.image],
    id: r.inst.id,
    answer: r.inst.answer,
  };
}

/** Write `dir/<name>.json`, `dir/images/<id>.large.png` and the `<name>` entry of `dir/dataset_info.json`. */
export function exportLlamaFactory(instances: readonly Instance[], dir: string, name: string, options: ExportOptions = {}): { file: string; count: number; registry: string } {
  checkFileName('dataset name', name);
  const rows = exportRows(instances, options);
  writeRowImages(rows, dir);
  const file = join(dir, `${name}.json`);
  // One record per line inside the array: still one JSON document, but diffable and greppable.
  atomicWriteFile(file, '[\n' + rows.map((r) => JSON.stringify(shareGptRecord(r))).join(',\n') + (rows.length ? '\n' : '') + ']\n');
  const { registry } = registerDataFile(file);
  return { file, count: rows.length, registry };
}
