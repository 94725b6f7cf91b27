// `ivr synth --format luffy`: rectified demonstrations as a parquet file for LUFFY's verl fork
// (and Critique-GRPO-style trainers that mix off-policy demonstrations into groups). The rows
// are verl's RL dataset columns (as `ivr tasks export --format verl` writes them) plus LUFFY's
// `target` column: the demonstration as [{"role": "assistant", "content": ...}], which the fork
// puts in place of `n_prefix` of the rollout.n members. Built from the synth JSONL (trl
// layout), which stays the resumable working file; the parquet is rewritten whole at the end.
import { readFileSync } from 'node:fs';
import { parquetWriteBuffer, type ColumnSource } from 'hyparquet-writer';
import { atomicWriteFile } from '../util/fs.js';
import { int64, listOfStruct, str, struct, type SchemaElement } from '../tasks/export/verl.js';

// Parquet column builders shared with the verl export (the same columns, the same layout).
export const LUFFY_COLUMNS = ['data_source', 'prompt', 'images', 'ability', 'reward_model', 'extra_info', 'target'] as const;

export const LUFFY_SCHEMA: SchemaElement[] = [
  { name: 'root', num_children: LUFFY_COLUMNS.length },
  str('data_source'),
  ...listOfStruct('prompt', [str('content'), str('role')]),
  ...listOfStruct('images', [{ name: 'bytes', type: 'BYTE_ARRAY', repetition_type: 'OPTIONAL' }, str('path')]),
  str('ability'),
  ...struct('reward_model', [str('ground_truth'), str('style')]),
  ...struct('extra_info', [int64('index'), str('id'), str('family'), int64('horizon'), str('source'), int64('rounds'), int64('rewritten_steps'), str('model')]),
  ...listOfStruct('target', [str('content'), str('role')]),
];

/** One synth demo record (trl layout) as written by ivr/synth.ts. */
interface DemoRecord {
  messages: { role: string; content: { type: string; text?: string }[] }[];
  images: string[];
  id: string; family: string | null; horizon: number | null; source: string; rounds: number; rewritten_steps: number; model: string; answer: string;
}

const textOf = (m: DemoRecord['messages'][number] | undefined) => (m?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text ?? '').join('');

/** The parquet bytes for synth demo records; image files are read and embedded. */
export function luffyParquet(records: readonly DemoRecord[], imageBytes: (file: string) => Uint8Array = (f) => new Uint8Array(readFileSync(f))): Uint8Array {
  const columnData: ColumnSource[] = [
    { name: 'data_source', data: records.map((r) => `ivr-r1/${r.family ?? 'external'}`) },
    { name: 'prompt', data: records.map((r) => [{ content: '<image>' + textOf(r.messages.find((m) => m.role === 'user')), role: 'user' }]) },
    { name: 'images', data: records.map((r) => r.images.map((p) => ({ bytes: imageBytes(p), path: p }))), statistics: false },
    { name: 'ability', data: records.map(() => 'visual_reasoning') },
    { name: 'reward_model', data: records.map((r) => ({ ground_truth: r.answer, style: 'rule' })) },
    {
      name: 'extra_info',
      data: records.map((r, index) => ({
        index: BigInt(index), id: r.id, family: r.family, horizon: r.horizon === null ? null : BigInt(r.horizon),
        source: r.source, rounds: BigInt(r.rounds), rewritten_steps: BigInt(r.rewritten_steps), model: r.model,
      })),
    },
    { name: 'target', data: records.map((r) => [{ content: textOf(r.messages.find((m) => m.role === 'assistant')), role: 'assistant' }]) },
  ];
  return new Uint8Array(parquetWriteBuffer({ columnData, schema: LUFFY_SCHEMA, createdBy: 'ivr-r1 synth --format luffy' }));
}

/** DEMOS.jsonl -> DEMOS.parquet (written atomically); returns the file and row count. */
export function writeLuffyParquet(jsonl: string): { file: string; rows: number } {
  const records = readFileSync(jsonl, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as DemoRecord);
  const file = jsonl.replace(/\.jsonl$/, '') + '.parquet';
  atomicWriteFile(file, luffyParquet(records));
  return { file, rows: records.length };
}
