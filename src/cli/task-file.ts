// Task files named on the command line must hold at least one task: evaluating, validating
// or synthesizing from nothing must not look like success.

/** Returns `tasks`, or throws (exit 1) naming the file when it holds none. */
export function requireTasks<T>(tasks: T[], file: string): T[] {
  if (tasks.length === 0) throw new Error(`${file}: no tasks in the file (it is empty or only blank lines)`);
  return tasks;
}
