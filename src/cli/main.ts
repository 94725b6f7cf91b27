#!/usr/bin/env node
// `ivr <command> [options]`: one file per command under src/cli/commands/, loaded lazily so
// that `ivr tasks ...` never pays for starting onnxruntime.
import { UsageError } from '../util/args.js';

type CommandModule = { run(argv: string[]): Promise<number> };

const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandModule> }> = {
  demo: { summary: 'the main job: train IVR-R1 from the base checkpoint, evaluate before/after, report', load: () => import('./commands/demo.js') },
  sft: { summary: 'supervised training of the compact VLM on gold solutions', load: () => import('./commands/sft.js') },
  train: { summary: 'RL post-training (grpo, drgrpo, dapo, luffy, ivr) from a checkpoint', load: () => import('./commands/train.js') },
  eval: { summary: 'evaluate a checkpoint on task splits or an exported instance file', load: () => import('./commands/eval.js') },
  bench: { summary: 'side-by-side methods (or IVR-R1 ablations) with seeds, equal token budget, report', load: () => import('./commands/bench.js') },
  'rl-bench': { summary: 'time split of one RL iteration (rollout / log-probs / update)', load: () => import('./commands/rl-bench.js') },
  'engine-bench': { summary: 'measure the engine: MatMul peak, compiled train step, decode', load: () => import('./commands/engine-bench.js') },
  tasks: { summary: 'embedded benchmark: export splits to JSONL + PNG, show / verify instances', load: () => import('./commands/tasks.js') },
  serve: { summary: 'OpenAI-compatible API for a checkpoint (chat completions with images, streaming, batching)', load: () => import('./commands/serve.js') },
  synth: { summary: 'IVR-R1 data synthesis on a remote model: rectified demonstrations as chat JSONL', load: () => import('./commands/synth.js') },
  report: { summary: 'HTML report (inline SVG plots, 95% CIs) and PNG from a bench results.json', load: () => import('./commands/report.js') },
};

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return ['usage: ivr <command> [options]   (ivr <command> --help for its options)', '', 'commands:', ...rows].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') { console.log(help()); return 0; }
  const command = COMMANDS[name];
  if (!command) { console.error(`ivr: unknown command "${name}"\n\n${help()}`); return 2; }
  const mod = await command.load();
  return mod.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    if (err instanceof UsageError) { console.error(`ivr: ${err.message}`); process.exitCode = 2; return; }
    console.error(err instanceof Error ? (process.env.IVR_DEBUG ? err.stack : `ivr: ${err.message}`) : err);
    process.exitCode = 1;
  },
);
