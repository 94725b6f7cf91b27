// Value parsers for commander options. Each checks one option's value as it is parsed, so a
// bad value is a usage error (exit 2) that commander reports with the option's name:
//   ivr: option '--n <count>' argument '0' is invalid. Expected an integer >= 1.
import { InvalidArgumentError } from 'commander';
import { parseOverride, type ConfigOverride } from '../util/config-file.js';

/** An integer in [min, max]. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (raw: string) => number {
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in ${min}..${max}`;
  return (raw) => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isSafeInteger(v) || v < min || v > max) throw new InvalidArgumentError(`Expected an integer ${range}.`);
    return v;
  };
}

interface Bounds { min?: number; gt?: number; max?: number }

/** A finite number within the bounds (min/max inclusive, gt exclusive). */
export function real(b: Bounds = {}): (raw: string) => number {
  const parts = [b.gt !== undefined ? `> ${b.gt}` : '', b.min !== undefined ? `>= ${b.min}` : '', b.max !== undefined ? `<= ${b.max}` : ''].filter(Boolean);
  const expected = `Expected a number${parts.length ? ` ${parts.join(' and ')}` : ''}.`;
  return (raw) => {
    const v = Number(raw);
    const ok = raw.trim() !== '' && Number.isFinite(v) && (b.min === undefined || v >= b.min) && (b.gt === undefined || v > b.gt) && (b.max === undefined || v <= b.max);
    if (!ok) throw new InvalidArgumentError(expected);
    return v;
  };
}

/** A comma-separated list of names, each one of `allowed`. */
export function listOf<T extends string>(allowed: readonly T[]): (raw: string) => T[] {
  return (raw) => {
    const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
    const bad = items.find((s) => !allowed.includes(s as T));
    if (bad !== undefined || items.length === 0) {
      throw new InvalidArgumentError(`${bad !== undefined ? `Unknown "${bad}". ` : ''}Expected a comma-separated list of ${allowed.join(', ')}.`);
    }
    return items as T[];
  };
}

/** A comma-separated list of free-form values (URLs, host names). */
export function commaList(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
}

/** `--set key.path=value`, repeatable: collects the parsed overrides in order. */
export function configOverride(raw: string, previous: ConfigOverride[] | undefined): ConfigOverride[] {
  try {
    return [...(previous ?? []), parseOverride(raw)];
  } catch (e) {
    throw new InvalidArgumentError(`${(e as Error).message}.`);
  }
}

/** The --set option's flags and help, shared by the commands that read a config. */
export const SET_OPTION = {
  flags: '--set <key.path=value>',
  help: 'override a config key (repeatable); the value is YAML/JSON: 3, 1e-4, true, null, [grid,chart], "text"',
} as const;
