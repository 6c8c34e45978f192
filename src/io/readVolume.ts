import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { MedsamError } from '../common/errors.js';
import { readDicom, type DicomReadOptions } from './dicomSeries.js';
import { readImageVolume } from './image2d.js';
import { readMetaImage } from './metaImageRead.js';
import { readNifti, type NiftiReadOptions } from './niftiRead.js';
import { readNpzCase, readNpzMask, type NpzSpacingOrder } from './npzCase.js';
import { openNpz } from './npz.js';
import { readNrrd } from './nrrdRead.js';
import type { Volume, VolumeFormat } from './volume.js';

export interface ReadVolumeOptions extends DicomReadOptions, NiftiReadOptions {
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

/** Format of a path: folder → DICOM, else by extension, else by the file's first bytes. */
export function detectVolumeFormat(path: string): VolumeFormat {
  if (!existsSync(path)) throw new MedsamError(`input ${path} does not exist`, 'check the path');
  if (statSync(path).isDirectory()) return 'dicom';
  for (const [re, f] of EXTENSIONS) if (re.test(path)) return f;
  const head = readHead(path, 512);
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
  const ext = /\.[^./\\]+$/.exec(path)?.[0] ?? '(none)';
  throw new MedsamError(`cannot tell the image format of ${path} (extension ${ext}, unrecognised content)`, `supported inputs: ${SUPPORTED_INPUTS}`);
}

function readHead(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const got = readSync(fd, buf, 0, n, 0);
    return new Uint8Array(buf.buffer, buf.byteOffset, got);
  } finally {
    closeSync(fd);
  }
}

/** Read any supported image into an LPS Volume (for .npz: `imgs`, or `segs`/`gts` in a mask file). */
export async function readVolume(path: string, opts: ReadVolumeOptions = {}): Promise<Volume> {
  const format = opts.format ?? detectVolumeFormat(path);
  switch (format) {
    case 'nifti': return readNifti(path, opts);
    case 'nrrd': return readNrrd(path);
    case 'metaimage': return readMetaImage(path);
    case 'npz':
      // A case holds `imgs`; a saved prediction holds only `segs`.
      return openNpz(path).has('imgs')
        ? (await readNpzCase(path, { spacingOrder: opts.npzSpacingOrder })).image
        : readNpzMask(path, { spacingOrder: opts.npzSpacingOrder });
    case 'dicom': return readDicom(path, opts);
    case 'png':
    case 'jpeg': return readImageVolume(path);
  }
}
