import { MedsamError } from '../common/errors.js';
import { writePngMask } from './image2d.js';
import { checkMaskShape } from './maskLabels.js';
import { writeNifti } from './niftiWrite.js';
import { writeNpzMask } from './npzCase.js';
import { writeNrrd } from './nrrdWrite.js';
import { writeDicomMask, type DicomMaskOptions } from './dicomMask.js';
import type { Volume } from './volume.js';

export const SUPPORTED_MASK_OUTPUTS = '.nii.gz, .nii, .nrrd, .npz (MedSAM2 segs), .png (2D), .seg.dcm (DICOM SEG; DICOM inputs)';

/**
 * Write a label mask, format chosen by extension. The geometry is the mask's own; `like` is the
 * image it was segmented from: it must have the same dims, and its NIfTI header (if any) is
 * reused so the mask overlays byte-for-byte. Every writer goes through a temp file + rename.
 */
export async function writeMask(path: string, mask: Volume, like?: Volume, dicom?: DicomMaskOptions): Promise<void> {
  checkMaskShape(mask, path);
  if (like && like.dims.some((d, i) => d !== mask.dims[i])) {
    throw new MedsamError(`cannot write ${path}: mask is ${mask.dims.join('x')} but the image is ${like.dims.join('x')}`, 'build the mask on the image grid');
  }
  const p = path.toLowerCase();
  if (p.endsWith('.nii.gz') || p.endsWith('.nii')) return writeNifti(path, mask, like);
  if (p.endsWith('.nrrd')) return writeNrrd(path, mask);
  if (p.endsWith('.npz')) return writeNpzMask(path, like?.source.format === 'npz' && !mask.header ? { ...mask, header: like.header } : mask);
  if (p.endsWith('.png')) return writePngMask(path, mask);
  if (p.endsWith('.dcm')) return writeDicomMask(path, mask, like, dicom);
  const ext = /\.[^./\\]+$/.exec(path)?.[0] ?? '(none)';
  throw new MedsamError(`cannot write a mask as ${path} (extension ${ext})`, `use one of ${SUPPORTED_MASK_OUTPUTS}`);
}
