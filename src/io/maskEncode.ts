// Node-free: a label mask as the bytes of the format its name asks for; writeMask.ts puts them on disk.
import { MedsamError } from '../common/errors.js';
import { encodePngMask } from './image2d.js';
import { checkMaskShape } from './maskLabels.js';
import { encodeNifti } from './niftiWrite.js';
import { encodeNpzMask } from './npzCase.js';
import { encodeNrrd } from './nrrdWrite.js';
import type { Volume } from './volume.js';

export const SUPPORTED_MASK_OUTPUTS = '.nii.gz, .nii, .nrrd, .npz (MedSAM2 segs), .png (2D)';

/**
 * Encode a label mask, format chosen by the extension of `name`. The geometry is the mask's own;
 * `like` is the image it was segmented from: it must have the same dims, and its NIfTI header (if
 * any) is reused so the mask overlays byte-for-byte.
 */
export function encodeMask(mask: Volume, name: string, like?: Volume): Uint8Array {
  checkMaskShape(mask, name);
  if (like && like.dims.some((d, i) => d !== mask.dims[i])) {
    throw new MedsamError(
      `cannot write ${name}: mask is ${mask.dims.join('x')} but the image is ${like.dims.join('x')}`,
      'build the mask on the image grid',
    );
  }
  const p = name.toLowerCase();
  if (p.endsWith('.nii.gz') || p.endsWith('.nii')) return encodeNifti(mask, name, like);
  if (p.endsWith('.nrrd')) return encodeNrrd(mask, name);
  if (p.endsWith('.npz'))
    return encodeNpzMask(like?.source.format === 'npz' && !mask.header ? { ...mask, header: like.header } : mask, name);
  if (p.endsWith('.png')) return encodePngMask(mask, name);
  const ext = /\.[^./\\]+$/.exec(name)?.[0] ?? '(none)';
  throw new MedsamError(`cannot write a mask as ${name} (extension ${ext})`, `use one of ${SUPPORTED_MASK_OUTPUTS}`);
}
