// TRL's conversational vision format, one JSON object per line, for GRPOTrainer and SFTTrainer:
//   prompt      [{role: 'user', content: [{type: 'image'}, {type: 'text', text}]}]
//   completion  [{role: 'assistant', content: [{type: 'text', text: gold response}]}]  (SFT)
//   images      ['images/<id>.large.png']  (relative to the JSONL file's directory)
//   solution, answer   the gold answer: extra columns reach GRPO reward functions as keyword
//                      arguments, and TRL's accuracy reward reads `solution`
//   id, family, split, seed, horizon, question   to rebuild the instance (getFamily(family).generate(seed, horizon))
// TRL takes `images` (a list) before `image`; a list also matches verl and LLaMA-Factory.
import { join } from 'node:path';
import { atomicWriteFile } from '../../util/fs.js';
import type { Instance } from '../types.js';
import { checkFileName, exportRows, writeRowImages, type ExportOptions, type ExportRow } from './rows.js';

export interface TrlRecord {
  prompt: [{ role: 'user'; content: [{ type: 'image' }, { type: 'text'; text: string }] }];
  completion: [{ role: 'assistant'; content: [{ type: 'text'; text: string }] }];
  images: [string];
  solution: string;
  answer: string;
  id: string;
  family: string;
  split: string | null;
  seed: number;
  horizon: number;
  question: string;
}

export function trlRecord(r: ExportRow): TrlRecord {
  return {
    prompt: [{ role: 'user', content: [{ type: 'image' }, { type: 'text', text: r.prompt }] }],
    completion: [{ role: 'assistant', content: [{ type: 'text', text: r.response }] }],
    images: [r.image],
    solution: r.inst.answer,
    answer: r.inst.answer,
    id: r.inst.id, family: r.inst.family, split: r.inst.split ?? null, seed: r.inst.seed, horizon: r.inst.horizon, question: r.inst.question,
  };
}

/** Write `dir/<name>.trl.jsonl` and `dir/images/<id>.large.png`. */
export function exportTrl(instances: readonly Instance[], dir: string, name: string, options: ExportOptions = {}): { file: string; count: number } {
  checkFileName('dataset name', name);
  const rows = exportRows(instances, options);
  writeRowImages(rows, dir);
  const file = join(dir, `${name}.trl.jsonl`);
  atomicWriteFile(file, rows.map((r) => JSON.stringify(trlRecord(r)) + '\n').join(''));
  return { file, count: rows.length };
}
