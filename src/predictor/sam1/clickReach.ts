/**
 * A positive click's meaning reaches the slices its correction is carried to. The carry from a
 * corrected key re-decides the slices beyond it from the corrected slice, and the decoder drifts
 * there: on ct-organs label 86 a positive click on an under-segmented slice (13: 227 → 293 px,
 * reference 258) made the 7 slices carried from it shrink (16: 271 → 195 px … 20: 244 → 84 px,
 * references ~230), and the click cost 0.023 3D DSC. "This is the object too" never means "and less
 * of it next door", so a slice carried from a key whose last click is positive keeps what it had
 * before the click and gains the carry's mask (a positive click only adds, as on its own slice,
 * src/predictor/sam1/positiveClick.ts).
 * Negative clicks are left free: the mirror rule (a slice carried from a negative click keeps only
 * what it had and the carry both hold) cost the spleen 0.015 — its negative click re-seeded a carry
 * that was better on the slices beyond (ct-organs label 1, slices 26–29: 403 → 484 px for 466).
 * Measured in docs/propagation-experiments.md (session 7). Called by the propagator (sam1Propagator.ts)
 * once its carries are done, so a session's click and a simulated one share it.
 */

/** A slice carried from a positive correction: what it had before the click plus the carry's mask. */
export function addCarried(carried: Uint8Array, previous: Uint8Array | undefined): Uint8Array {
  return previous ? Uint8Array.from(carried, (v, i) => (v || previous[i] ? 1 : 0)) : carried;
}

/** Applies addCarried to every slice in `carriedFromPositive`; `masks` is changed in place. */
export function settleClickCarries(
  masks: Map<number, Uint8Array>,
  carriedFromPositive: ReadonlySet<number>,
  previous: ReadonlyMap<number, Uint8Array>,
): void {
  for (const k of carriedFromPositive) {
    const m = masks.get(k);
    if (m) masks.set(k, addCarried(m, previous.get(k)));
  }
}
