// Reading a JSON config file for a command, with errors that name the file.
import * as fs from 'node:fs';
import { parseJsonText } from '../util/schema.js';
import { UsageError } from '../util/args.js';

export function readConfigFile(file: string | undefined, option = '--config'): unknown {
  if (!file) throw new UsageError(`${option} FILE is required`);
  if (!fs.existsSync(file)) throw new UsageError(`${option}: no such file ${file}`);
  return parseJsonText(fs.readFileSync(file, 'utf8'), file);
}
