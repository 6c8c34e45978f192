import { agreement, type IntensityModel } from './intensityModel.js';
import { dilate, intersectionCount, maskArea } from './maskOps.js';

/**
 * A negative click's meaning reaches the slices carried towards it (issue 13, session 11). Between two
 * keys the larger cross-section carries the object first, and a negative click only shrinks its slice,
 * so its key is always the smaller one: the slices between it and the larger key stay as that key's
 * carry made them. On CT lesion 000002 the three clicks (slices 3, 8, 7) each fixed their own slice
 * while slices 4 and 5, carried from the user's key 6, kept 770 / 1045 px for 602 / 714: the decoder's
 * carry is too large there by a rim all round, not by one blob (of the 454 px the click removed on
 * slice 3 that slice 4's mask holds, 336 are the reference lesion, so the removed region cannot be
 * cut from the neighbours), and a carry from the corrected slice itself (317 px) under-segments them
 * (slice 4: 346 px).
 * What the click does show is how far the decoder's logits overshoot this object: the corrected mask
 * is best matched by the decoder's answer for the mask before the click thresholded at a logit t above
 * 0 (000002: t 3, 2, 1 on its three clicks; 000001 and 000009: 3). The slices carried towards the
 * clicked key hand out their masks trimmed at that t (the carried masks and the stop rules are
 * unchanged). Everywhere ('always') it cost lesion 000009 0.025: its click on the lesion's
 * over-segmented top slice trimmed an under-segmented neighbour (1137 → 795 px for 1452), since an
 * overshoot at an object's end says little about the slices before it. The default ('area') never trims a
 * slice below the straight line between the two keys' areas, the size the object has there if it changes
 * steadily between the user's key and the corrected one, and leaves a slice already under it alone. The
 * key's intensity model as a gate ('gated') kept the untrimmed masks where trimming helped (000002's
 * lesion and its over-segmented rim look alike to it). Measured in BENCHMARKS.md (session 11).
 */

/** Logit thresholds tried: whole logits up to 8 (every CT lesion click of session 11 matched best at 1–3). */
export const TRIM_THRESHOLDS = [0, 1, 2, 3, 4, 5, 6, 7, 8] as const;

/**
 * The logit threshold at which `priorLogits` (the decoder's answer for the mask before the click),
 * kept inside `prior`, best matches `corrected` (the mask the click left), by IoU; ties take the lower
 * threshold. 0 when the click left nothing.
 */
export function trimFromCorrection(priorLogits: Float32Array, prior: Uint8Array, corrected: Uint8Array): number {
  const area = maskArea(corrected);
  if (!area) return 0;
  let best = 0,
    bestIoU = -1;
  for (const t of TRIM_THRESHOLDS) {
    const m = Uint8Array.from(priorLogits, (v, i) => (v > t && prior[i] ? 1 : 0));
    const inter = intersectionCount(m, corrected);
    const iou = inter / (maskArea(m) + area - inter);
    if (iou > bestIoU) {
      bestIoU = iou;
      best = t;
    }
  }
  return best;
}

/**
 * `mask` where `logits` also exceed `t`, when that is not empty and, with an intensity model, the image
 * agrees with it at least as well as with `mask` (agreement's Dice in the ring round the previous mask
 * `prev`); otherwise `mask`. With `minArea` (negativeClickTrim 'area') the threshold is the highest of
 * TRIM_THRESHOLDS up to `t` that keeps at least `minArea` pixels, and a mask already no larger is kept.
 */
export function trimCarried(
  mask: Uint8Array,
  logits: Float32Array,
  t: number,
  w: number,
  h: number,
  gate: { intensity?: { model: IntensityModel; smoothed: Uint8Array; prev: Uint8Array }; minArea?: number } = {},
): Uint8Array {
  if (!(t > 0)) return mask;
  const at = (u: number) => Uint8Array.from(mask, (v, i) => (v && logits[i]! > u ? 1 : 0));
  let out = at(t);
  if (gate.minArea !== undefined) {
    if (maskArea(mask) <= gate.minArea) return mask;
    for (let j = TRIM_THRESHOLDS.indexOf(t as (typeof TRIM_THRESHOLDS)[number]); j > 0 && maskArea(out) < gate.minArea; j--)
      out = at(TRIM_THRESHOLDS[j - 1]!);
  }
  if (!maskArea(out)) return mask;
  const intensity = gate.intensity;
  if (!intensity) return out;
  const region = dilate(intensity.prev, w, h, intensity.model.ringRadius);
  const before = agreement(mask, intensity.smoothed, intensity.model, region).dice;
  return agreement(out, intensity.smoothed, intensity.model, region).dice >= before ? out : mask;
}
