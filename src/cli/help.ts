// Help text pieces shared by the commands: examples after the options.
import type { Command } from 'commander';

/** Appends an "Examples:" block to the command's help (each line a full command line). */
export function withExamples(cmd: Command, examples: readonly string[]): Command {
  return cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}`);
}

/** The command line as typed, for records (`ivr bench --seeds 3 ...`). */
export function commandLine(): string {
  return ['ivr', ...process.argv.slice(2)].join(' ');
}
