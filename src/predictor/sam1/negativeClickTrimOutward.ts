import { maskArea } from './maskOps.js';

/**
 * A negative click's trim (negativeClickTrim.ts) on the carry beyond the clicked key, towards the
 * volume's end (opt-in `negativeClickTrimOutward`, issue 13, session 12). Between two keys the trim acts
 * on the larger key's carry towards the clicked one; the clicked key's own carry outwards kept the
 * decoder's overshoot: lesion 000002's second click (slice 8, t 2) carried to slice 9 at 423 px for a
 * 274-px reference. Outwards there is no second key to draw the straight line of the 'area' floor from,
 * so the floor is the click's own ratio: a carried slice is trimmed at the key's t but keeps at least
 * the share of its untrimmed mask that the click kept of its own slice (corrected / before).
 */
export function outwardTrimRatio(corrected: Uint8Array, prior: Uint8Array | undefined): number | undefined {
  const before = prior ? maskArea(prior) : 0;
  return before ? Math.min(1, maskArea(corrected) / before) : undefined;
}
