// The Re-Reasoning Loop (DESIGN §7.3), the one loop for RL and for `ivr synth`. From the
// verified prefix of a flawed rollout: continue through the reasoner port (re-grounded when
// the rectifier says so: for the compact model the image's patch tokens re-inserted right
// where the next step begins, for a remote VLM the image attached again with the verified
// facts), check the response with the localizer, keep the newly verified steps, cut at the
// next eroded step, and repeat for up to J rounds. The scene prior may rewrite the eroded
// step ("oracle rewrite": before a round when the rectifier says so, after a failed round
// with the fallback). The result keeps the policy's own words wherever they were grounded,
// and records which text was rewritten.
//
// Two behaviours that the former copy in synth had differently, chosen here on purpose:
// - The prior rewrites steps only, never the answer slot. When every step is verified and
//   only the answer is wrong, the next round lets the policy conclude from the grounded
//   steps; a demonstration whose answer the prior wrote would teach nothing about concluding,
//   and would make every rollout with right steps "rectified" in one round.
// - Kept steps grow only along one chain: the newly verified steps of a response that extends
//   the kept ones are appended (the rewritten marks of the kept ones stay); a response that
//   started over (a chat model may answer the re-grounding turn with a whole new response)
//   replaces them only when its verified prefix is longer, so two chains are never spliced.
//   Kept steps need not be gold steps (the chain families accept any valid order of reads);
//   a response that continues them verifies them again (the checker reads steps in order), so
//   for scene tasks its verified prefix extends them and this is the same as appending. The
//   oracle's rewrite continues the kept steps in their own order (tasks oracleStep).
import type { Reasoner } from '../reasoner/reasoner.js';
import type { ReasonTask } from '../reasoner/task.js';
import { oracleStep, responsePrefix } from '../tasks/index.js';
import type { Localization, Localizer } from './localize.js';
import type { Rectifier } from './rectifiers.js';

/** A span of the rectified response; rewritten spans came from the prior, not the policy. */
export interface Piece { text: string; rewritten: boolean }

export interface RectifyItem {
  task: ReasonTask;
  loc: Localization;
  /** The item's own seed (round r continues with seed + r); else the batch's seed + r. */
  seed?: number;
}

export interface RectifyOutcome {
  /** The rectified response, or null when the rounds ran out. */
  pieces: Piece[] | null;
  rounds: number;
}

export interface LoopOptions {
  /** J: rounds per item. */
  rounds: number;
  rectifier: Rectifier;
  /** Rewrite the eroded step from the prior after a failed round (scene tasks only). */
  oracleFallback: boolean;
  /** Checks each round's response (the task's verifying localizer: scene verifier or judge). */
  check: Localizer;
}

interface LoopState { item: RectifyItem; steps: Piece[]; done: boolean; pieces: Piece[] | null; rounds: number }

const line = (text: string): Piece => ({ text: text + '\n', rewritten: false });
const stepsText = (steps: readonly Piece[]) => steps.map((p) => p.text.replace(/\n$/, ''));

/** The kept steps after a round whose response verified `verified` (see the header). */
export function keepVerified(steps: readonly Piece[], verified: readonly string[]): Piece[] {
  const have = stepsText(steps);
  if (have.every((s, i) => verified[i] === s)) return [...steps, ...verified.slice(steps.length).map(line)];
  return verified.length > steps.length ? verified.map(line) : [...steps];
}

/** The oracle's next step after `steps`, or nothing (no scene prior, or every step is there). */
function oracleNext(task: ReasonTask, steps: readonly Piece[]): Piece[] {
  const next = task.inst ? oracleStep(task.inst, stepsText(steps)) : null;
  return next === null ? [] : [{ text: next + '\n', rewritten: true }];
}

/** The accepted response as pieces: the kept steps and what the model wrote after them. */
function piecesOf(steps: readonly Piece[], response: string): Piece[] {
  const prefix = responsePrefix(stepsText(steps));
  if (!response.startsWith(prefix)) return [{ text: response, rewritten: false }]; // started over: all its own
  return [{ text: '<think>\n', rewritten: false }, ...steps, { text: response.slice(prefix.length), rewritten: false }];
}

/** Runs the loop for a batch of items in lockstep (one batched continuation per round). */
export async function rereason(reasoner: Reasoner, items: RectifyItem[], opts: LoopOptions, seed: number): Promise<{ outcomes: RectifyOutcome[]; loopTokens: number }> {
  const { rectifier } = opts;
  const states: LoopState[] = items.map((item) => ({ item, done: false, pieces: null, rounds: 0, steps: item.loc.verifiedPrefix.map(line) }));
  let loopTokens = 0;
  for (let round = 1; round <= opts.rounds; round++) {
    const active = states.filter((s) => !s.done);
    if (!active.length) break;
    for (const s of active) if (rectifier.rewriteFirst(round, s.steps.length)) s.steps = [...s.steps, ...oracleNext(s.item.task, s.steps)];
    const replies = await reasoner.continueFrom(active.map((s) => ({
      task: s.item.task, steps: stepsText(s.steps), reground: rectifier.reground,
      ...(s.item.seed !== undefined ? { seed: s.item.seed + round } : {}),
    })), { seed: seed + round });
    for (const [i, s] of active.entries()) {
      const reply = replies[i];
      if (!reply) { s.done = true; continue; } // no room left to continue
      loopTokens += reply.tokens;
      s.rounds = round;
      const cut = await opts.check.localize(s.item.task, reply.text);
      if (!cut) {
        s.done = true;
        s.pieces = piecesOf(s.steps, reply.text);
        continue;
      }
      s.steps = keepVerified(s.steps, cut.verifiedPrefix);
      // The fallback is moot when the rectifier rewrites before the next round anyway.
      if (opts.oracleFallback && !rectifier.rewriteFirst(round + 1, s.steps.length)) s.steps = [...s.steps, ...oracleNext(s.item.task, s.steps)];
    }
  }
  return { outcomes: states.map((s) => ({ pieces: s.pieces, rounds: s.rounds })), loopTokens };
}
