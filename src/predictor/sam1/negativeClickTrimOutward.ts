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

/**
 * negativeClickTrimOutward 'once' trims beyond a clicked key only when the click kept at least this share
 * of its slice (session 14). A trim is a uniform shrink of the carry; a click that removes most of its
 * slice says the slice was mostly wrong (a leak, a shift, or the decoder dropping true object with the
 * clicked part), not that the object is that much smaller beyond it: ct-organs label 3's first click
 * kept 107 of 338 px (reference 155) and, spread outwards, took slices 1 and 2 to 121 / 89 px for 194 /
 * 180; label 2's third kept 99 of 262 (reference 228). The clicks whose outward trim helped kept 64%
 * (lesion 000002, slice 8) and 66% (label 2's first). 0.5: "most of the slice", between those.
 */
export const OUTWARD_MIN_RATIO = 0.5;
