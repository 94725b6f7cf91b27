// Ctrl-C through npm. `npx ivr ...` (and `npm run ivr -- ...`) start the CLI under npm's
// `sh -c "ivr ..."`; npm forwards SIGINT/SIGTERM to that shell only, and Debian's dash does
// not exec its last command, so the shell dies of the signal and the CLI lives on, orphaned
// (a training run kept going after Ctrl-C). When npm started us, losing the parent is taken
// as the interrupt it stood for: the process sends itself SIGINT, which every command
// already handles (trainers release their run directory and say how to resume; serve stops
// gracefully). Outside npm (nohup, setsid, a service manager) nothing is watched.

/** Whether npm's run-script started this process (npx, npm exec, npm run). */
export function startedByNpm(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.npm_lifecycle_event);
}

/** Sends this process `signal` once its parent is gone; returns a function that stops watching. */
export function interruptWhenOrphaned(signal: NodeJS.Signals = 'SIGINT', everyMs = 250): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, signal);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
