// Node-free: any supported image from bytes plus a name hint. readVolume.ts is the path layer.
import { MedsamError } from '../common/errors.js';
import { decodeImage2D, imageToVolume } from './image2d.js';
import { parseMetaImage } from './metaImageRead.js';
import { parseNifti, type NiftiReadOptions } from './niftiRead.js';
import { openNpzBytes } from './npz.js';
import { parseNpzCase, parseNpzMask, type NpzSpacingOrder } from './npzCase.js';
import { parseNrrd } from './nrrdRead.js';
import { warnerOf } from './readOptions.js';
import { checkVolumeValues } from './volumeChecks.js';
import type { Volume, VolumeFormat } from './volume.js';

export interface VolumeBytesOptions extends NiftiReadOptions {
  /** Skip detection and read as this format. */
  format?: VolumeFormat;
  /** MedSAM2 .npz only: order of the stored spacing values. */
  npzSpacingOrder?: NpzSpacingOrder;
}

export const SUPPORTED_INPUTS = '.nii/.nii.gz, .nrrd/.nhdr, .mha/.mhd, .npz (MedSAM2), a DICOM folder or .dcm file, .png, .jpg';

const EXTENSIONS: [RegExp, VolumeFormat][] = [
  [/\.nii(\.gz)?$/i, 'nifti'],
  [/\.(nrrd|nhdr)$/i, 'nrrd'],
  [/\.(mha|mhd)$/i, 'metaimage'],
  [/\.npz$/i, 'npz'],
  [/\.(dcm|dicom|ima)$/i, 'dicom'],
  [/\.png$/i, 'png'],
  [/\.(jpe?g)$/i, 'jpeg'],
];

/** Format from a name's extension, else from the first bytes (`head`: at least 512 when available). */
export function detectFormat(name: string, head: Uint8Array): VolumeFormat {
  for (const [re, f] of EXTENSIONS) if (re.test(name)) return f;
  const text = String.fromCharCode(...head.subarray(0, 64));
  if (head.length >= 132 && String.fromCharCode(...head.subarray(128, 132)) === 'DICM') return 'dicom';
  if (text.startsWith('NRRD000')) return 'nrrd';
  if (/^\s*(ObjectType|NDims)\s*=/.test(text)) return 'metaimage';
  if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'npz';
  if (head[0] === 0x89 && text.startsWith('\x89PNG')) return 'png';
  if (head[0] === 0xff && head[1] === 0xd8) return 'jpeg';
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (head.length >= 4 && [348, 540].some((n) => view.getInt32(0, true) === n || view.getInt32(0, false) === n)) return 'nifti';
  // gzip without a telling name: NIfTI is by far the most common gzip-wrapped volume.
  if (head[0] === 0x1f && head[1] === 0x8b) return 'nifti';
  const ext = /\.[^./\\]+$/.exec(name)?.[0] ?? '(none)';
  throw new MedsamError(
    `cannot tell the image format of ${name} (extension ${ext}, unrecognised content)`,
    `supported inputs: ${SUPPORTED_INPUTS}`,
  );
}

/**
 * Any supported single-file image from bytes into an LPS Volume (for .npz: `imgs`, or `segs`/`gts`
 * in a mask file). `name` is a file name or hint: its extension picks the format and it labels
 * messages. DICOM goes through the DICOM readers; detached NRRD/MetaImage data needs
 * opts.readDataFile (the path layer). Values are checked (no finite voxel → refused; NaN/Inf and
 * bad spacing → repaired with one warning each).
 */
export function readVolumeBytes(bytes: Uint8Array, name: string, opts: VolumeBytesOptions = {}): Volume {
  if (bytes.length === 0) throw new MedsamError(`${name} is empty (0 bytes)`, 're-export the file');
  const format = opts.format ?? detectFormat(name, bytes.subarray(0, 512));
  const warn = warnerOf(opts);
  let v: Volume;
  switch (format) {
    case 'nifti':
      v = parseNifti(bytes, name, opts);
      break;
    case 'nrrd':
      v = parseNrrd(bytes, name, opts);
      break;
    case 'metaimage':
      v = parseMetaImage(bytes, name, opts);
      break;
    case 'npz':
      // A case holds `imgs`; a saved prediction holds only `segs`. Both paths check values.
      return openNpzBytes(bytes, name, opts).has('imgs')
        ? parseNpzCase(bytes, name, { ...opts, spacingOrder: opts.npzSpacingOrder }).image
        : parseNpzMask(bytes, name, { ...opts, spacingOrder: opts.npzSpacingOrder });
    case 'png':
    case 'jpeg':
      v = imageToVolume(decodeImage2D(bytes, name, opts));
      break;
    case 'dicom':
      throw new MedsamError(
        `${name} is DICOM, which is read from a file or folder (or as a list of slice buffers by the DICOM reader)`,
        'pass the DICOM file or series folder path',
      );
  }
  return checkVolumeValues(v, name, warn);
}
