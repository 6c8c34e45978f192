import { intensityHistograms, voteFromHistograms, type IntensityModel } from './intensityModel.js';

/**
 * An intensity model that follows the object along the volume (issue 13, session 9). The key
 * slice's model judges every slice, but MR has bias fields and contrast that change along the scan,
 * and organs look different towards their ends. After each slice propagation keeps, the model's
 * object and surroundings histograms are blended towards that slice's (a running average at
 * `rate`), but only from a slice the current model agrees with well enough (at least `minObject` of
 * the mask object-like): a leak the model already doubts cannot teach it the leak. The separability
 * (whether the model is used at all) and the ring width stay the key's.
 */
export function followModel(
  model: IntensityModel,
  smoothed: Uint8Array,
  mask: Uint8Array,
  w: number,
  h: number,
  rate: number,
): IntensityModel {
  if (!model.fg || !model.bg) return model;
  const s = intensityHistograms(smoothed, mask, w, h, model.ringRadius);
  const fg = model.fg.map((v, i) => (1 - rate) * v + rate * s.fg[i]!);
  const bg = model.bg.map((v, i) => (1 - rate) * v + rate * s.bg[i]!);
  return { ...model, fg, bg, objectLike: voteFromHistograms(fg, bg) };
}
