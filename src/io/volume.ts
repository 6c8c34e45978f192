import type { NumericArray } from './ndarray.js';

/**
 * A scalar 3D image on a regular grid, in ITK conventions:
 * - `data` is x-fastest: index = x + nx * (y + ny * z), i.e. a (nz, ny, nx) C-order array.
 * - physical space is LPS (DICOM/ITK); NIfTI/RAS readers convert on read and back on write.
 * - world(i,j,k) = origin + direction · diag(spacing) · [i,j,k]; `direction` is a 3x3
 *   row-major matrix whose column c is the unit direction of voxel axis c (ITK GetDirection()).
 * 2D images are volumes with nz = 1; video frames are not Volumes.
 */
export interface Volume {
  data: NumericArray;
  dims: [number, number, number];
  spacing: [number, number, number];
  origin: [number, number, number];
  direction: [number, number, number, number, number, number, number, number, number];
  /** 'CT', 'MR', 'US', … when the file says so (DICOM Modality, NRRD/NIfTI hints); else undefined. */
  modality?: string;
  /** Where it came from, for messages and for writing masks back in a matching format. */
  source: { format: VolumeFormat; path: string };
  /** Format-specific header kept for exact write-back (e.g. the NIfTI header bytes, NRRD fields). */
  header?: unknown;
}

export type VolumeFormat = 'nifti' | 'nrrd' | 'metaimage' | 'npz' | 'dicom' | 'png' | 'jpeg';

export const IDENTITY_DIRECTION: Volume['direction'] = [1, 0, 0, 0, 1, 0, 0, 0, 1];

export function voxelCount(v: Pick<Volume, 'dims'>): number {
  return v.dims[0] * v.dims[1] * v.dims[2];
}
