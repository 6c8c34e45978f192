import { MedsamError } from '../common/errors.js';
import { formatBytes } from './bytes.js';
import type { Inflater } from './inflateLimited.js';

/**
 * How much a reader may allocate. Every parser checks the size its header declares against this
 * before allocating, and every inflater stops at the declared size (plus slack), so a hostile
 * file (a header claiming 10^12 voxels, an 8 MB gzip that inflates to 8 GiB) is refused early and
 * with bounded memory. The CLI sets it from --max-voxels or MEDSAM2_MAX_VOXELS.
 */
export interface ReadLimits {
  /** Largest voxel count an image may declare (all frames of a 4D file together). */
  maxVoxels?: number;
  /** How limited inflation is done (see Inflater); default fflate streaming. */
  inflate?: Inflater;
}

/** 2^29 voxels: 512 x 512 x 2048, ~2 GiB as float32. */
export const DEFAULT_MAX_VOXELS = 2 ** 29;

/** Widest voxel type we decode (float64 / int64): the byte limit is maxVoxels x this. */
const MAX_VOXEL_BYTES = 8;

export function maxVoxelsOf(limits: ReadLimits | undefined): number {
  const v = limits?.maxVoxels;
  return v !== undefined && Number.isFinite(v) && v > 0 ? v : DEFAULT_MAX_VOXELS;
}

/** The byte budget for any one decoded buffer (a member of an archive, an inflated payload). */
export function maxBytesOf(limits: ReadLimits | undefined): number {
  return maxVoxelsOf(limits) * MAX_VOXEL_BYTES;
}

const RAISE = 'if the image is real, raise the limit with --max-voxels N (or MEDSAM2_MAX_VOXELS=N)';

/** Refuse a declared voxel count above the limit (before anything is allocated). */
export function checkVoxelCount(label: string, dims: readonly number[], limits: ReadLimits | undefined): void {
  const n = dims.reduce((a, b) => a * b, 1);
  const max = maxVoxelsOf(limits);
  if (!(n <= max)) {
    throw new MedsamError(`${label} declares ${dims.join('x')} = ${n} voxels, above the limit of ${max} voxels`, RAISE);
  }
}

/** Refuse a declared decoded size (bytes) above the byte budget. */
export function checkByteCount(label: string, what: string, bytes: number, limits: ReadLimits | undefined): void {
  const max = maxBytesOf(limits);
  if (!(bytes <= max)) {
    throw new MedsamError(`${label}: ${what} declares ${formatBytes(bytes)}, above the limit of ${formatBytes(max)}`, RAISE);
  }
}
