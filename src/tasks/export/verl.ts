// verl's RL dataset: one parquet file laid out like its examples/data_preprocess/geo3k.py output.
//   data_source   string                        'ivr-r1/<family>' (verl picks a reward function by it)
//   prompt        list<struct{content, role}>   one user turn; '<image>' marks where the image goes
//   images        list<struct{bytes, path}>     the 384×384 PNG embedded (the struct of a Hugging Face
//                                               Image feature; verl opens `bytes` with PIL)
//   ability       string                        'visual_reasoning'
//   reward_model  struct{style, ground_truth}   'rule', the gold answer
//   extra_info    struct{split, index, id, family, seed, horizon, question, answer}
// The nested columns are written as standard 3-level parquet LISTs (list/element) and groups,
// which is what pyarrow writes and what `datasets`/pandas read back as lists of dicts.
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFile } from '../../util/fs.js';
import type { Instance } from '../types.js';
import { checkFileName, exportRows, type ExportOptions } from './rows.js';

export type SchemaElement = NonNullable<Parameters<typeof parquetWriteBuffer>[0]['schema']>[number];

export const VERL_ABILITY = 'visual_reasoning';
export const VERL_COLUMNS = ['data_source', 'prompt', 'images', 'ability', 'reward_model', 'extra_info'] as const;

// Both the legacy converted type and the logical type, as pyarrow writes them, so old and new readers agree.
export const str = (name: string): SchemaElement => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' }, repetition_type: 'OPTIONAL' });
export const int64 = (name: string): SchemaElement => ({ name, type: 'INT64', repetition_type: 'OPTIONAL' });
export const struct = (name: string, fields: SchemaElement[]): SchemaElement[] => [{ name, repetition_type: 'OPTIONAL', num_children: fields.length }, ...fields];
/** A nullable list of nullable structs, in the 3-level layout the parquet spec prescribes. */
export const listOfStruct = (name: string, fields: SchemaElement[]): SchemaElement[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', logical_type: { type: 'LIST' }, num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  ...struct('element', fields),
];

const EXTRA_INFO = [str('split'), int64('index'), str('id'), str('family'), int64('seed'), int64('horizon'), str('question'), str('answer')];

/** The parquet schema (flattened, depth-first) of a verl dataset file. */
export const VERL_SCHEMA: SchemaElement[] = [
  { name: 'root', num_children: VERL_COLUMNS.length },
  str('data_source'),
  ...listOfStruct('prompt', [str('content'), str('role')]),
  ...listOfStruct('images', [{ name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' }, str('path')]),
  str('ability'),
  ...struct('reward_model', [str('ground_truth'), str('style')]),
  ...struct('extra_info', EXTRA_INFO),
];

/** The parquet file's bytes for these instances (images embedded). */
export function verlParquet(instances: readonly Instance[], options: ExportOptions = {}): Uint8Array {
  const rows = exportRows(instances, options);
  const columnData: ColumnSource[] = [
    { name: 'data_source', data: rows.map((r) => `ivr-r1/${r.inst.family}`) },
    { name: 'prompt', data: rows.map((r) => [{ content: '<image>' + r.prompt, role: 'user' }]) },
    // The path names the image (as a Hugging Face Image struct does); the bytes are the image.
    { name: 'images', data: rows.map((r) => [{ bytes: new Uint8Array(r.png), path: `${r.inst.id}.png` }]), statistics: false },
    { name: 'ability', data: rows.map(() => VERL_ABILITY) },
    { name: 'reward_model', data: rows.map((r) => ({ ground_truth: r.inst.answer, style: 'rule' })) },
    {
      name: 'extra_info',
      data: rows.map((r, index) => ({
        split: r.inst.split ?? null, index: BigInt(index), id: r.inst.id, family: r.inst.family,
        seed: BigInt(r.inst.seed), horizon: BigInt(r.inst.horizon), question: r.inst.question, answer: r.inst.answer,
      })),
    },
  ];
  const buf = parquetWriteBuffer({ columnData, schema: VERL_SCHEMA, createdBy: 'ivr-r1 tasks export --format verl' });
  return new Uint8Array(buf);
}

/** Write `dir/<name>.parquet`. */
export function exportVerl(instances: readonly Instance[], dir: string, name: string, options: ExportOptions = {}): { file: string; count: number } {
  checkFileName('dataset name', name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.parquet`);
  atomicWriteFile(file, verlParquet(instances, options));
  return { file, count: instances.length };
}
