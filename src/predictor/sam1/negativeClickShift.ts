import { boxFromMask, type Box, type PointPrompt } from '../prompts.js';
import { regionHistogram, voteFromHistograms } from './intensityModel.js';
import { labelComponents2d, maskArea } from './maskOps.js';

/**
 * A negative click read as "the mask is shifted" as well as "this part is not the object"
 * (`negativeClickShift`, issue 13, session 15; the default, measured in BENCHMARKS.md, "Simulated
 * clicks (session 15 …)"). The anchored negative click (negativeClick.ts) only removes: on CT lesion 000002 after 3 clicks slices 7 and 8 were 638 / 452 px for 637 / 469 (the
 * right size) at slice DSC 0.84 / 0.78, 2–8 px off, and the decoder's answer outside the corrected
 * mask covered 11–20 px of the ≈ 90 px missed per slice: the box the click's key gets is the
 * over-reaching mask's, so the decoder is held to the side that was cut and never shown the other.
 *
 * Here the clicked slice is decoded once more with the mask's box translated away from the cut:
 * the box keeps the old mask's size and its edge on the cut side sits where the cut left the mask
 * (a side cut by r px moves the box r px the other way; both sides cut alike: no shift, the click
 * corrected a size). The answer may add only what the old mask did not hold, connected to what the
 * click kept, and at most as much as the click removed (a shift moves the outline, it does not grow
 * the object; over that, nothing is added), and only where the added part looks like what the click
 * kept: mostly closer in grey level to the kept mask than to the part the click removed (looksKept).
 * A click that kept less than half of its slice (OUTWARD_MIN_RATIO, negativeClickTrimOutward.ts) moves
 * nothing: its slice was mostly wrong, a leak rather than a shift (000002's first click kept 41 % of
 * 773 px, reference 233: the moved answer took it to 545 px). Only the slice shows the moved outline;
 * the carry from it is seeded with the cut mask (the propagator), as a larger seed ran the carry a
 * slice past 000002's end. After 3 clicks: ct-lesion 0.8925 → 0.8951 (000002 0.8296 → 0.8374).
 */

/** The box of `prior` translated by the cut's one-sidedness (see above); undefined when the cut did not move an edge one-sidedly. */
export function shiftedBox(prior: Uint8Array, kept: Uint8Array, w: number, h: number): Box | undefined {
  const p = boxFromMask(prior, w, h),
    k = boxFromMask(kept, w, h);
  if (!p || !k) return undefined;
  // Positive: the left/top edge moved in further than the right/bottom one, so the box moves right/down.
  const tx = k[0] - p[0] - (p[2] - k[2]),
    ty = k[1] - p[1] - (p[3] - k[3]);
  if (!tx && !ty) return undefined;
  const dx = Math.min(Math.max(tx, -p[0]), w - 1 - p[2]),
    dy = Math.min(Math.max(ty, -p[1]), h - 1 - p[3]);
  if (!dx && !dy) return undefined;
  return [p[0] + dx, p[1] + dy, p[2] + dx, p[3] + dy];
}

/** The shifted-box decode's prompt: the translated box, the negative click, and a pin at what the click kept. */
export function shiftedPrompt(box: Box, at: PointPrompt, keptPin: { x: number; y: number }): { box: Box; points: PointPrompt[] } {
  return {
    box,
    points: [
      { x: at.x, y: at.y, label: 0 },
      { x: keptPin.x, y: keptPin.y, label: 1 },
    ],
  };
}

/**
 * The part of `answer` outside `prior` that touches `kept` (8-connected), when that part is no larger
 * than what the click removed (prior minus kept); undefined otherwise.
 */
export function shiftedSide(kept: Uint8Array, answer: Uint8Array, prior: Uint8Array, w: number, h: number): Uint8Array | undefined {
  const outside = new Uint8Array(kept.length);
  for (let i = 0; i < kept.length; i++) outside[i] = answer[i] && !prior[i] ? 1 : 0;
  if (!maskArea(outside)) return undefined;
  // Components of kept ∪ outside: an outside pixel is added when its component holds kept pixels.
  const union = new Uint8Array(kept.length);
  for (let i = 0; i < kept.length; i++) union[i] = kept[i] || outside[i] ? 1 : 0;
  const { labels } = labelComponents2d(union, w, h);
  const touching = new Set<number>();
  for (let i = 0; i < kept.length; i++) if (kept[i]) touching.add(labels[i]!);
  const added = new Uint8Array(kept.length);
  for (let i = 0; i < kept.length; i++) added[i] = outside[i] && touching.has(labels[i]!) ? 1 : 0;
  const n = maskArea(added);
  return n && n <= maskArea(prior) - maskArea(kept) ? added : undefined;
}

/**
 * Whether most of `added` looks like what the click kept rather than what it removed: a grey-level
 * vote (intensityModel.ts) of `kept` against `removed` on the clicked slice (3×3-smoothed). The click
 * itself says the removed part is not the object, so it is the surroundings this side is checked against.
 */
export function looksKept(smoothed: Uint8Array, kept: Uint8Array, removed: Uint8Array, added: Uint8Array): boolean {
  const vote = voteFromHistograms(regionHistogram(smoothed, kept), regionHistogram(smoothed, removed));
  let n = 0,
    like = 0;
  for (let i = 0; i < added.length; i++)
    if (added[i]) {
      n++;
      like += vote[smoothed[i]!]!;
    }
  return n > 0 && 2 * like >= n;
}
