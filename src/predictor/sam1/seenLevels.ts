import type { IntensityModel } from './intensityModel.js';

/**
 * Why this file exists (issue 13, session 15): the key slice's intensity vote compares Laplace-smoothed
 * histograms of the key mask and of the ring around it. A grey level that neither of them contains
 * gets the floor of both, and the object's floor is the larger one (the mask holds fewer pixels than
 * the ring), so every grey level the key never showed — contrast-filled bowel at the top of a CT
 * window, air, bone — votes "object". On CT lesion 000002 the re-anchored box took the white bowel
 * beside the lesion as 88 % object-like. Restricting the vote to grey levels the object showed on its
 * key slice makes an unseen level surroundings, as the image gives no reason to call it object.
 */

/** 32 bins of 8 grey levels, as the intensity model's histograms. */
const BIN_SHIFT = 3;

/** The model with its vote restricted to the grey-level bins the key mask holds at least `minCount` pixels of. */
export function seenLevelsOnly(model: IntensityModel, smoothedKey: Uint8Array, keyMask: Uint8Array, minCount = 1): IntensityModel {
  const counts = new Uint32Array(256 >> BIN_SHIFT);
  for (let i = 0; i < keyMask.length; i++) if (keyMask[i]) counts[smoothedKey[i]! >> BIN_SHIFT]!++;
  const objectLike = Uint8Array.from(model.objectLike, (v, level) => (v && counts[level >> BIN_SHIFT]! >= minCount ? 1 : 0));
  return { ...model, objectLike };
}
