import { percentileSorted } from '../common/percentile.js';
import { dice } from './dice.js';
import { surfaceDistances, type Dims3, type SurfaceDistances } from './surfaceDistance.js';

/** Default NSD tolerance in mm (the CVPR 2024 MedSAM-on-laptop challenge's setting). */
export const DEFAULT_NSD_TOLERANCE_MM = 2;

export interface SegmentationMetrics {
  dsc: number;
  /** Normalised surface Dice at `tolerance` mm. */
  nsd: number;
  /** 95th-percentile Hausdorff distance in mm; Infinity when exactly one mask is empty. */
  hd95: number;
}

/**
 * Normalised surface Dice from border distances:
 * (|border A within tol of border B| + |border B within tol of border A|) / (|border A| + |border B|).
 * Border voxels are counted one each; DeepMind's surface-distance weights surface elements by
 * their area instead, which differs slightly on anisotropic grids.
 * Both empty → 1; one empty → 0.
 */
export function nsdFromDistances(d: SurfaceDistances, toleranceMm = DEFAULT_NSD_TOLERANCE_MM): number {
  const na = d.aToB.length,
    nb = d.bToA.length;
  if (na + nb === 0) return 1;
  if (na === 0 || nb === 0) return 0;
  let hits = 0;
  for (const x of d.aToB) if (x <= toleranceMm) hits++;
  for (const x of d.bToA) if (x <= toleranceMm) hits++;
  return hits / (na + nb);
}

/** numpy.percentile ('linear') of unsorted values. */
function percentile(values: Float64Array, p: number): number {
  return percentileSorted(Float64Array.from(values).sort(), p);
}

/**
 * HD95 = max of the two directed 95th-percentile border distances (the usual robust Hausdorff, as
 * in DeepMind surface-distance and MONAI). Both empty → 0; one empty → Infinity.
 */
export function hd95FromDistances(d: SurfaceDistances): number {
  const na = d.aToB.length,
    nb = d.bToA.length;
  if (na + nb === 0) return 0;
  if (na === 0 || nb === 0) return Infinity;
  return Math.max(percentile(d.aToB, 95), percentile(d.bToA, 95));
}

/**
 * DSC, NSD and HD95 of a prediction against a reference on the same x-fastest grid
 * (non-zero = foreground; select a label beforehand with `selectLabel`). Spacing in mm (x, y, z).
 */
export function segmentationMetrics(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  dims: Dims3,
  spacing: Dims3,
  opts: { toleranceMm?: number } = {},
): SegmentationMetrics {
  const d = surfaceDistances(pred, ref, dims, spacing);
  return { dsc: dice(pred, ref), nsd: nsdFromDistances(d, opts.toleranceMm), hd95: hd95FromDistances(d) };
}

/** Binary mask of one label (or of every non-zero label when `label` is undefined). */
export function selectLabel(data: ArrayLike<number | bigint>, label?: number): Uint8Array {
  const out = new Uint8Array(data.length);
  if (label === undefined) {
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]) !== 0 ? 1 : 0;
  } else {
    for (let i = 0; i < data.length; i++) out[i] = Number(data[i]) === label ? 1 : 0;
  }
  return out;
}
