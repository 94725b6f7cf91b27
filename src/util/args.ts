// A small, strict command-line parser: `--key value`, `--key=value` and boolean `--flag`.
// Unknown options are an error that names the option, so a typo never runs silently.

export interface OptionSpec {
  type: 'string' | 'number' | 'boolean';
  help: string;
  default?: string | number | boolean;
}

export type ParsedArgs = { positional: string[]; options: Record<string, string | number | boolean | undefined> };

export class UsageError extends Error {}

export function parseArgs(argv: string[], spec: Record<string, OptionSpec>): ParsedArgs {
  const options: ParsedArgs['options'] = {};
  for (const [name, s] of Object.entries(spec)) options[name] = s.default;
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) { positional.push(arg); continue; }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const s = spec[name];
    if (!s) throw new UsageError(`unknown option --${name} (known: ${Object.keys(spec).map((k) => '--' + k).join(', ') || 'none'})`);
    let raw: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (s.type === 'boolean') {
      if (raw === undefined) options[name] = true;
      else if (raw === 'true' || raw === 'false') options[name] = raw === 'true';
      else throw new UsageError(`--${name} takes no value or true/false, got "${raw}"`);
      continue;
    }
    if (raw === undefined) {
      raw = argv[++i];
      if (raw === undefined) throw new UsageError(`--${name} needs a value`);
    }
    if (s.type === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${raw}"`);
      options[name] = n;
    } else options[name] = raw;
  }
  return { positional, options };
}

export function usage(command: string, summary: string, spec: Record<string, OptionSpec>): string {
  const lines = [`usage: ivr ${command}`, '', summary, '', 'options:'];
  for (const [name, s] of Object.entries(spec)) {
    const def = s.default === undefined ? '' : ` (default: ${s.default})`;
    lines.push(`  --${name}${s.type === 'boolean' ? '' : ' <' + s.type + '>'}  ${s.help}${def}`);
  }
  return lines.join('\n');
}
