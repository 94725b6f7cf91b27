#!/usr/bin/env node
// `ivr <command> [options]`, parsed by commander. One file per command under
// src/cli/commands/, each exporting `configure(cmd)` (options, help, action). Only the
// invoked command's module is loaded, so that `ivr tasks ...` never pays for starting
// onnxruntime; the others appear in `ivr --help` by name and summary alone.
import { Command, CommanderError, Help, type Option } from 'commander';
import { packageVersion } from '../train/provenance.js';
import { setRunDirWording } from '../train/run-dir.js';
import { interruptWhenOrphaned, startedByNpm } from '../util/orphan-watch.js';
import { EXIT, EXIT_CODES_HELP, exitCodeOf, UsageError } from './errors.js';

type CommandModule = { configure(cmd: Command): void };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  demo: { summary: 'the main job: train IVR-R1 from the base checkpoint, evaluate before/after, report', load: () => import('./commands/demo.js') },
  sft: { summary: 'supervised training of the compact VLM on gold solutions', load: () => import('./commands/sft.js') },
  'probe-reads': { summary: 'perception probe: train a fresh model on horizon-1 reads for a time budget, read accuracy by family and kind', load: () => import('./commands/probe-reads.js') },
  train: { summary: 'RL post-training (grpo, drgrpo, dapo, luffy, ivr) from a checkpoint', load: () => import('./commands/train.js') },
  eval: { summary: 'evaluate a checkpoint on task splits or an exported instance file', load: () => import('./commands/eval.js') },
  bench: { summary: 'side-by-side methods (or IVR-R1 ablations) with seeds, equal token budget, report', load: () => import('./commands/bench.js') },
  'rl-bench': { summary: 'time split of one RL iteration (rollout / log-probs / update)', load: () => import('./commands/rl-bench.js') },
  'engine-bench': { summary: 'measure the engine: MatMul peak, compiled train step, decode', load: () => import('./commands/engine-bench.js') },
  tasks: { summary: 'embedded benchmark: export splits (ours, TRL, verl, LLaMA-Factory), show / verify instances', load: () => import('./commands/tasks.js') },
  serve: { summary: 'OpenAI-compatible API for a checkpoint (chat completions with images, streaming, batching)', load: () => import('./commands/serve.js') },
  'serve-env': { summary: 'IVR-R1 as an environment service for OpenRLHF / verl / TRL: rewards, step verification, the Re-Reasoning Loop over HTTP', load: () => import('./commands/serve-env.js') },
  synth: { summary: 'IVR-R1 data synthesis on a remote model: rectified demonstrations as chat JSONL', load: () => import('./commands/synth.js') },
  report: { summary: 'HTML report (inline SVG plots, 95% CIs) and PNG from a bench results.json or a training run directory', load: () => import('./commands/report.js') },
};

/** The command the arguments name (`ivr help X` names X). The root takes no option values,
 *  so the first word that is not an option is the command. */
function invokedCommand(argv: readonly string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

/** A stray positional argument is a usage error; say what was probably meant. */
function rejectStrayArguments(cmd: Command): void {
  const stray = cmd.args[cmd.registeredArguments.length];
  if (stray === undefined) return;
  const name = stray.replace(/^-+/, '').split('=')[0]!;
  const option = cmd.options.find((o) => o.long === `--${name}`);
  const hint = option ? `did you mean ${option.long}?` : `ivr ${cmdPath(cmd)} takes options only; -h lists them`;
  throw new UsageError(`unexpected argument "${stray}" (${hint})`);
}

const cmdPath = (cmd: Command): string => (cmd.parent && cmd.parent.parent ? `${cmdPath(cmd.parent)} ${cmd.name()}` : cmd.name());

async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('ivr')
    .description('RL post-training of a small VLM with Iterative Visual-grounded Reasoning (IVR-R1)')
    .usage('<command> [options]')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .helpCommand('help [command]', 'show help for a command')
    // Inherited by every command created with .command(): errors are thrown (exit codes are
    // mapped in one place), typos get a did-you-mean, and stray words are checked below.
    .exitOverride()
    .showSuggestionAfterError()
    .allowExcessArguments()
    .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'ivr: ')) })
    .configureHelp({
      subcommandTerm: (cmd) => cmd.name(),
      optionDescription(this: Help, option: Option) {
        const text = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `${text} (required)` : text;
      },
    })
    .addHelpText('after', `\n"ivr <command> -h" shows a command's options and examples.\n\n${EXIT_CODES_HELP}`)
    .hook('preAction', (_root, action) => rejectStrayArguments(action));
  const invoked = invokedCommand(argv);
  for (const [name, c] of Object.entries(COMMANDS)) {
    const cmd = program.command(name).summary(c.summary).description(c.summary);
    if (name === invoked) (await c.load()).configure(cmd);
  }
  return program;
}

/** A word as a POSIX shell reads it back. */
const shellWord = (w: string): string => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** The command line that continues an interrupted run: this one, without --force, with --resume. */
function resumeCommandLine(argv: readonly string[]): string {
  const words = argv.filter((a) => a !== '--force');
  if (!words.includes('--resume')) words.push('--resume');
  return ['ivr', ...words].map(shellWord).join(' ');
}

async function main(argv: string[]): Promise<number> {
  // Run directories name this CLI's flags, and the command line that resumes, in their messages.
  setRunDirWording({ resume: '--resume', force: '--force', resumeCommand: resumeCommandLine(argv) });
  // Under npm, or as a child of `ivr bench`: losing the parent is an interrupt.
  if (startedByNpm() || process.env.IVR_EXIT_WITH_PARENT === '1') interruptWhenOrphaned();
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? EXIT.ok);
  } catch (err) {
    if (err instanceof CommanderError) return exitCodeOf(err); // commander printed it (or the help)
    if (process.env.IVR_DEBUG && err instanceof Error && !(err instanceof UsageError)) console.error(err.stack);
    else console.error(`ivr: ${err instanceof Error ? err.message : String(err)}`);
    return exitCodeOf(err);
  }
}

// `ivr ... | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(EXIT.ok); else throw e; });

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
