import type { IntensityModel } from './intensityModel.js';
import { dilate, erode, keepComponentsOverlapping } from './maskOps.js';

/**
 * Where the image says the object is on this slice: the pixels the key slice's intensity model
 * calls object-like, inside the search region around the previous mask, opened by one pixel (so
 * single noisy pixels and one-pixel bridges to neighbours drop out) and kept where they touch the
 * previous mask. Propagation re-anchors its box on this instead of on the previous mask alone, whose
 * box the decoder fills a little short on every slice (the organs' drift), and which on thick slices
 * can be far larger than the object's next cross-section (the glioma: 842 → 247 px in one 6.5 mm step).
 */
export function intensityExtent(
  prev: Uint8Array,
  smoothed: Uint8Array,
  model: IntensityModel,
  region: Uint8Array,
  w: number,
  h: number,
): Uint8Array {
  const like = new Uint8Array(w * h);
  for (let i = 0; i < like.length; i++) like[i] = region[i] && model.objectLike[smoothed[i]!] ? 1 : 0;
  return keepComponentsOverlapping(dilate(erode(like, w, h, 1), w, h, 1), prev, w, h);
}
