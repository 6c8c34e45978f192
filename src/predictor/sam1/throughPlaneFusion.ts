import { binarise, intersectionCount, keepComponentsOverlapping, maskArea } from './maskOps.js';

/**
 * Through-plane fusion of per-slice logits (issue 13, session 9). Propagation decodes each slice
 * alone, so a 3D object's boundary jitters from slice to slice although across thin slices it is
 * smooth. A slice's handed-out mask can instead come from a weighted mean of its own logits and its
 * neighbours' (within the propagated extent; an end slice has one side only): the neighbours vote
 * where the slice's own decode hedged. How much a neighbour counts: a Gaussian of its distance in
 * millimetres (thick slices lean on their neighbours less), or how much its mask overlaps the slice's
 * own (an object that changes fast from slice to slice — small lesions on thin slices — leans on its
 * neighbours less, whatever the spacing). Hand-written: a weighted mean of arrays, nothing a library
 * does better.
 */

/** A neighbour's weight by its slice index (the slice itself has weight 1). */
export type NeighbourWeight = (j: number) => number;

/** Weight of a slice `d` slices away for slice spacing `spacingMm` and Gaussian width `sigmaMm`. */
export function fusionWeight(d: number, spacingMm: number, sigmaMm: number): number {
  const z = (d * spacingMm) / sigmaMm;
  return Math.exp(-0.5 * z * z);
}

/** Neighbours of slice `k` weighted by a Gaussian of their distance in mm. */
export function gaussianWeight(k: number, spacingMm: number, sigmaMm: number): NeighbourWeight {
  return (j) => fusionWeight(j - k, spacingMm, sigmaMm);
}

/** Neighbours of slice `k` weighted by the IoU of their mask with slice k's, to the power `power`. */
export function overlapWeight(masks: ReadonlyMap<number, Uint8Array>, k: number, power = 1): NeighbourWeight {
  const own = masks.get(k)!;
  return (j) => {
    if (j === k) return 1;
    const m = masks.get(j);
    if (!m) return 0;
    const inter = intersectionCount(own, m);
    const union = maskArea(own) + maskArea(m) - inter;
    return union ? (inter / union) ** power : 0;
  };
}

/**
 * Slice `k`'s fused logits: the weighted mean of the logits of slices k−radius … k+radius that
 * `logits` holds (its own always; a missing neighbour — outside the extent — simply does not vote).
 * Logits are clamped to ±clamp first so one very confident slice cannot outvote the rest.
 */
export function fusedLogits(
  logits: ReadonlyMap<number, Float32Array>,
  k: number,
  weight: NeighbourWeight,
  radius = 1,
  clamp = 10,
): Float32Array {
  const own = logits.get(k);
  if (!own) throw new Error(`no logits for slice ${k}`);
  const sum = new Float32Array(own.length);
  let total = 0;
  for (let d = -radius; d <= radius; d++) {
    const l = logits.get(k + d);
    if (!l || l.length !== own.length) continue;
    const wt = d === 0 ? 1 : weight(k + d);
    if (!(wt > 0)) continue;
    total += wt;
    for (let i = 0; i < l.length; i++) sum[i]! += wt * Math.max(-clamp, Math.min(clamp, l[i]!));
  }
  for (let i = 0; i < sum.length; i++) sum[i]! /= total;
  return sum;
}

/**
 * Slice `k`'s mask from its fused logits: the fused mask's parts that touch the slice's own mask (the
 * neighbours may not add another structure), or the own mask where the fused one would be empty.
 */
export function fusedMask(
  own: Uint8Array,
  logits: ReadonlyMap<number, Float32Array>,
  k: number,
  w: number,
  h: number,
  weight: NeighbourWeight,
  threshold = 0,
): Uint8Array {
  const m = keepComponentsOverlapping(binarise(fusedLogits(logits, k, weight), threshold), own, w, h);
  return maskArea(m) ? m : own;
}
