// One exit-code convention for every `ivr` command (also in `ivr --help` and the README):
//   0    ok
//   1    input, config or data error: a config or task file that is missing, unreadable or
//        invalid, a checkpoint refused, a run directory in use or of another kind, a failed
//        request; also a command whose result is a failure (a response that does not verify)
//   2    usage error: unknown command or option, missing required option, bad option value,
//        stray argument
//   130  interrupted by Ctrl-C: most commands simply die of SIGINT, which a shell reports as
//        130; synth stops cleanly and returns it (serve's graceful stop is 0)
import { CommanderError } from 'commander';

export const EXIT = { ok: 0, error: 1, usage: 2, interrupted: 130 } as const;

/** The exit-code table as printed at the end of `ivr --help`. */
export const EXIT_CODES_HELP = [
  'Exit codes (every command):',
  '  0    ok',
  '  1    input, config or data error (bad config or task file, checkpoint refused, run dir in use)',
  '  2    usage error (unknown option, missing required option, bad option value, stray argument)',
  '  130  interrupted (Ctrl-C)',
].join('\n');

/** A command line that cannot mean anything: exit 2, message names the option. Thrown where
 *  a check needs more than one option's value (single values are checked as they are parsed). */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The exit code for an error that ended a command. */
export function exitCodeOf(err: unknown): number {
  // With exitOverride, help and --version end as CommanderErrors too, with exit code 0; every
  // other one is about the command line (commander's own code for those is 1).
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof UsageError) return EXIT.usage;
  return EXIT.error;
}
