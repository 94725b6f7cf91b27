// `ivr tasks export --format …`: the benchmark as datasets that other trainers read.
//   jsonl         our own records + small and large PNGs (io.ts; loadInstances reads it back)
//   trl           <name>.trl.jsonl, TRL's conversational vision format (trl.ts)
//   verl          <name>.parquet, verl's RL dataset with the images embedded (verl.ts)
//   llamafactory  <name>.json + dataset_info.json, LLaMA-Factory's ShareGPT format (llamafactory.ts)
import { exportInstances } from '../io.js';
import type { Instance } from '../types.js';
import { exportLlamaFactory } from './llamafactory.js';
import type { ExportOptions } from './rows.js';
import { exportTrl } from './trl.js';
import { exportVerl } from './verl.js';

export type ExportFormat = 'jsonl' | 'trl' | 'verl' | 'llamafactory';
export const EXPORT_FORMATS: readonly ExportFormat[] = ['jsonl', 'trl', 'verl', 'llamafactory'];

export function isExportFormat(v: unknown): v is ExportFormat {
  return typeof v === 'string' && (EXPORT_FORMATS as readonly string[]).includes(v);
}

/** Export `instances` as dataset `name` in `dir`; returns the data file and the instance count. */
export function exportDataset(format: ExportFormat, instances: readonly Instance[], dir: string, name: string, options: ExportOptions = {}): { file: string; count: number } {
  switch (format) {
    case 'jsonl': return exportInstances(instances, dir, name);
    case 'trl': return exportTrl(instances, dir, name, options);
    case 'verl': return exportVerl(instances, dir, name, options);
    case 'llamafactory': return exportLlamaFactory(instances, dir, name, options);
    default: throw new Error(`unknown export format ${JSON.stringify(format)} (known: ${EXPORT_FORMATS.join(', ')})`);
  }
}

export { exportTrl, trlRecord, type TrlRecord } from './trl.js';
export { exportVerl, verlParquet, VERL_COLUMNS, VERL_SCHEMA, VERL_ABILITY } from './verl.js';
export { exportLlamaFactory, registerDataset, registerDataFile, sharegptEntry, shareGptRecord, DATASET_INFO, type DatasetInfoEntry, type ShareGptRecord } from './llamafactory.js';
export { exportRows, largeImagePath, promptFor, PROMPT_STYLES, type ExportOptions, type ExportRow, type PromptStyle } from './rows.js';
