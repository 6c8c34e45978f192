// Node layer: a mask to a path. Encoding is maskEncode.ts (node-free); DICOM SEG/RTSTRUCT are
// written by the DICOM writers (dicomMask.ts), which need the source series.
import { assertWritableTarget, writeFileAtomic } from './atomicWrite.js';
import { writeDicomMask, type DicomMaskOptions } from './dicomMask.js';
import { encodeMask } from './maskEncode.js';
import { checkMaskShape } from './maskLabels.js';
import { MedsamError } from '../common/errors.js';
import type { Volume } from './volume.js';

export const SUPPORTED_MASK_OUTPUTS = '.nii.gz, .nii, .nrrd, .npz (MedSAM2 segs), .png (2D), .seg.dcm (DICOM SEG; DICOM inputs)';

/**
 * Write a label mask, format chosen by extension (see encodeMask; `.dcm` → DICOM SEG/RTSTRUCT). The
 * folder is checked before encoding, and the file is written to a temp file and renamed, so a
 * failure never leaves a partial file and an existing file is only ever replaced whole.
 */
export async function writeMask(path: string, mask: Volume, like?: Volume, dicom?: DicomMaskOptions): Promise<void> {
  if (path.toLowerCase().endsWith('.dcm')) {
    checkMaskShape(mask, path);
    if (like && like.dims.some((d, i) => d !== mask.dims[i])) {
      throw new MedsamError(
        `cannot write ${path}: mask is ${mask.dims.join('x')} but the image is ${like.dims.join('x')}`,
        'build the mask on the image grid',
      );
    }
    return writeDicomMask(path, mask, like, dicom);
  }
  assertWritableTarget(path);
  writeFileAtomic(path, encodeMask(mask, path, like));
}
