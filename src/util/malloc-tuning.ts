// glibc malloc settings for processes that run onnxruntime graphs. onnxruntime's CPU arena
// is off (it kept every session's peak and RSS grew past 4 GB in RL), so every intermediate
// tensor of every run is a fresh allocation; glibc serves large ones with mmap and gives
// them back on free (and trims the heap top past 128 KiB), and the next run page-faults
// the same memory in again. Measured on the bench GPT train step (2 threads, same machine,
// minutes apart): 483–564 ms/step by default, 305–314 ms with both settings below, peak
// RSS the same (624–646 MB); either setting alone does not help (the mmap threshold alone:
// 503–563 ms; the trim threshold alone: 1,676–1,758 ms). glibc 2.36 keeps only the first
// entry of a multi-entry GLIBC_TUNABLES in the environment children inherit, so the two
// settings use glibc's own single-value variables.
//
// They are read once when a process starts, so they are set for processes we start: the
// `ivr` launcher (bin/ivr), the bench's child runs and `npm test`. A library user exports
// them before starting node. Other platforms and allocators ignore them.

/** Allocations up to 32 MiB come from the heap, and up to 1 GiB of free heap top is kept. */
export const MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: '33554432',
  MALLOC_TRIM_THRESHOLD_: '1073741824',
};

/** `env` with MALLOC_ENV added, unless the caller set either variable. */
export function withMallocTuning(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.keys(MALLOC_ENV).some((k) => env[k] !== undefined) ? env : { ...env, ...MALLOC_ENV };
}

/** Whether this process started with MALLOC_ENV (benchmarks print it). */
export function mallocTuned(): boolean {
  return Object.entries(MALLOC_ENV).every(([k, v]) => process.env[k] === v);
}
