// The Re-Reasoning Loop (DESIGN §7.3). From the verified prefix of a flawed rollout:
// re-align the context with the visual prior (the image's patch tokens re-inserted right
// where the next step begins), let the policy continue, verify the new steps, keep the
// verified ones, cut at the next eroded step, and repeat for up to J rounds. Optionally
// the eroded step is rewritten from the scene prior ("oracle rewrite"). The result keeps
// the policy's own words wherever they were grounded, and records which text was rewritten.
import { instancePatches } from '../model/episode.js';
import type { Policy, Segment } from '../model/policy.js';
import { oracleStep, responsePrefix, verifyResponse, type Instance } from '../tasks/index.js';
import type { Localization } from './localize.js';

/** A span of the rectified response; rewritten spans came from the prior, not the policy. */
export interface Piece { text: string; rewritten: boolean }

export interface RectifyItem { inst: Instance; promptIds: number[]; loc: Localization }

export interface RectifyOutcome {
  /** The rectified response, or null when the rounds ran out. */
  pieces: Piece[] | null;
  rounds: number;
}

export interface RectifierOptions {
  rounds: number;
  /** Re-insert the image before continuing (false = plain resampling from the prefix). */
  reground: boolean;
  /** Rewrite the eroded step from the prior after a failed round. */
  oracleFallback: boolean;
  /** Rewrite the eroded step from the prior before every continuation (oracle-only ablation). */
  oracleFirst: boolean;
  /** Rewrite the eroded step first only when nothing before it verified (k* = 0): there the
   * policy never produced a grounded step, so continuing from an empty prefix is just
   * resampling the rollout that failed. Later erosions are re-reasoned as usual. */
  oracleFirstIfNoPrefix?: boolean;
  temperature: number;
  topP: number;
  maxNew: number;
}

interface LoopState { item: RectifyItem; steps: Piece[]; done: boolean; pieces: Piece[] | null; rounds: number }

const stepsText = (steps: Piece[]) => steps.map((p) => p.text.replace(/\n$/, ''));

function appendOracle(s: LoopState): void {
  const next = oracleStep(s.item.inst, stepsText(s.steps));
  if (next !== null) s.steps.push({ text: next + '\n', rewritten: true });
}

/** Runs the loop for a batch of items in lockstep (one batched generation per round). */
export async function rereason(policy: Policy, items: RectifyItem[], opts: RectifierOptions, seed: number): Promise<{ outcomes: RectifyOutcome[]; loopTokens: number }> {
  const tok = policy.tokenizer;
  const states: LoopState[] = items.map((item) => ({
    item, done: false, pieces: null, rounds: 0,
    steps: item.loc.verifiedPrefix.map((t) => ({ text: t + '\n', rewritten: false })),
  }));
  let loopTokens = 0;
  for (let round = 1; round <= opts.rounds; round++) {
    const active = states.filter((s) => !s.done);
    if (!active.length) break;
    if (opts.oracleFirst) active.forEach(appendOracle);
    else if (opts.oracleFirstIfNoPrefix && round === 1) active.filter((s) => s.steps.length === 0).forEach(appendOracle);
    const reqs = active.map((s) => {
      const context = [...s.item.promptIds, ...tok.encode(responsePrefix(stepsText(s.steps)))];
      const segments: Segment[] = [{ kind: 'image' }, { kind: 'text', ids: context }];
      if (opts.reground) segments.push({ kind: 'image' });
      return { patches: instancePatches(s.item.inst, policy.cfg), segments, contextLen: context.length };
    });
    const room = policy.cfg.maxText - Math.max(...reqs.map((r) => r.contextLen));
    if (room < 2) { active.forEach((s) => { s.done = true; }); break; }
    const gens = await policy.generate(reqs, { maxNew: Math.min(opts.maxNew, room), temperature: opts.temperature, topP: opts.topP, seed: seed + round });
    active.forEach((s, i) => {
      const g = gens[i]!;
      loopTokens += g.tokens.length;
      s.rounds = round;
      const continuation = tok.decode(g.tokens);
      const full = responsePrefix(stepsText(s.steps)) + continuation;
      const v = verifyResponse(s.item.inst, full);
      if (v.complete) {
        s.done = true;
        s.pieces = [{ text: '<think>\n', rewritten: false }, ...s.steps, { text: continuation, rewritten: false }];
        return;
      }
      // Keep the newly verified steps (the policy's own, sampled in the re-grounded context).
      for (const step of v.verifiedPrefix.slice(s.steps.length)) s.steps.push({ text: step + '\n', rewritten: false });
      if (opts.oracleFallback && !opts.oracleFirst) appendOracle(s);
    });
  }
  return { outcomes: states.map((s) => ({ pieces: s.pieces, rounds: s.rounds })), loopTokens };
}
