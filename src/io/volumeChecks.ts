import { MedsamError } from '../common/errors.js';
import type { Volume } from './volume.js';

/**
 * Impossible or damaged voxel values, handled the same way for every format after reading:
 * - no finite voxel at all → refused (nothing could be segmented or windowed);
 * - some NaN/±Inf → replaced, with one warning: NaN and -Inf by the smallest finite value,
 *   +Inf by the largest, so no automatic window or percentile ever sees an infinity;
 * - zero, negative or non-finite spacing → 1 mm on that axis, with one warning.
 * Integer data cannot hold NaN/Inf and is returned as is (no copy).
 */
export function checkVolumeValues(v: Volume, label: string, warn: (message: string) => void): Volume {
  let spacing = v.spacing;
  const bad = [0, 1, 2].filter((i) => !(v.spacing[i] > 0) || !Number.isFinite(v.spacing[i]));
  if (bad.length) {
    warn(
      `${label} has zero, negative or invalid spacing (${v.spacing.join(' x ')}) on axis ${bad.map((i) => 'xyz'[i]).join(', ')}; assuming 1 mm there`,
    );
    spacing = v.spacing.map((s, i) => (bad.includes(i) ? 1 : s)) as Volume['spacing'];
  }
  const d = v.data;
  if (!(d instanceof Float32Array || d instanceof Float64Array)) return spacing === v.spacing ? v : { ...v, spacing };
  let lo = Infinity,
    hi = -Infinity,
    nonFinite = 0;
  for (let i = 0; i < d.length; i++) {
    const x = d[i];
    if (x === x && x !== Infinity && x !== -Infinity) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    } else nonFinite++;
  }
  if (nonFinite === d.length) {
    throw new MedsamError(
      `${label} has no finite voxel value (all ${d.length} voxels are NaN or infinite)`,
      'the image holds no data; re-export it from the original',
    );
  }
  if (nonFinite > 0) {
    warn(
      `${label} has ${nonFinite} NaN/infinite voxel${nonFinite > 1 ? 's' : ''}; NaN and -Inf read as the minimum ${lo}, +Inf as the maximum ${hi}`,
    );
    for (let i = 0; i < d.length; i++) {
      const x = d[i];
      if (x !== x || x === -Infinity) d[i] = lo;
      else if (x === Infinity) d[i] = hi;
    }
  }
  return spacing === v.spacing ? v : { ...v, spacing };
}
