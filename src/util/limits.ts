// Upper bounds on the size knobs of the configs, each derived from a memory or context
// limit. Without them a typo (100000 for 1000) takes gigabytes in under a minute or never
// finishes an iteration; with them the config is refused at load, naming key and bound.

/**
 * onnxruntime intra-op threads. Threads beyond the cores only add contention, and each
 * reserves a stack and a scratch arena (100000 threads took 2.5 GB before doing any work);
 * 256 is above the core count of any single machine this trains on.
 */
export const MAX_THREADS = 256;

/**
 * Text context of the compact model (model.maxText): the KV cache holds
 * layers × 2 × maxText × dim floats per sequence and attention is quadratic in it; 4096
 * tokens is 12× the default and far beyond what a task's prompt and gold answer need.
 * A generation cap (max_new_tokens) can never usefully exceed it either.
 */
export const MAX_TEXT_TOKENS = 4096;

/**
 * Sequences in one forward/backward pass (SFT batch_size, RL minibatch_size) and rollouts
 * held per RL iteration (prompts_per_iter × group_size): every sequence keeps activations
 * of maxText tokens per layer, so 4096 default-sized sequences are already ~2 GB.
 */
export const MAX_BATCH_SEQUENCES = 4096;

/** RL prompts per iteration (each prompt is a group of samples; see MAX_BATCH_SEQUENCES). */
export const MAX_PROMPTS_PER_ITER = 1024;

/** RL group size G: DeepSeekMath's largest is 64; a group is generated as one batch. */
export const MAX_GROUP_SIZE = 256;

/** Validation instances per evaluation (RL val_size, SFT val_n): greedy decoding of each. */
export const MAX_VAL_INSTANCES = 10_000;

/** Training iterations / optimizer steps: a run this long would take months on this model. */
export const MAX_STEPS = 10_000_000;
