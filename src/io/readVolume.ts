// Node layer: images by path. Every format except DICOM is parsed from bytes (volumeBytes.ts);
// this file only reads files, confines detached data files, and reads the limit from the env.
import { existsSync, statSync } from 'node:fs';
import { MedsamError } from '../common/errors.js';
import { confinedDataFileReader } from './confinedDataFiles.js';
import { readDicom, type DicomReadOptions } from './dicomSeries.js';
import { limitsFromEnv, readFileBytes, readFileHead } from './fileBytes.js';
import { decodeImage2D, imageToVolume } from './image2d.js';
import { parseMetaImage } from './metaImageRead.js';
import { parseNifti, type NiftiReadOptions } from './niftiRead.js';
import { parseNrrd } from './nrrdRead.js';
import { warnerOf, type ParseOptions } from './readOptions.js';
import { checkVolumeValues } from './volumeChecks.js';
import { detectFormat, readVolumeBytes, type VolumeBytesOptions } from './volumeBytes.js';
import type { Volume, VolumeFormat } from './volume.js';

export { SUPPORTED_INPUTS } from './volumeBytes.js';
export { limitsFromEnv } from './fileBytes.js';

export interface ReadVolumeOptions extends DicomReadOptions, VolumeBytesOptions {
  /** Filled with the real path of every detached data file read (they are inputs too: outputs must spare them). */
  filesRead?: string[];
}

/** Format of a path: folder → DICOM, else by extension, else by the file's first bytes. */
export function detectVolumeFormat(path: string): VolumeFormat {
  if (!existsSync(path)) throw new MedsamError(`input ${path} does not exist`, 'check the path');
  if (statSync(path).isDirectory()) return 'dicom';
  return detectFormat(path, readFileHead(path, 512));
}

function withPathOptions<T extends ParseOptions & { filesRead?: string[] }>(path: string, what: string, opts: T): T {
  const limits = limitsFromEnv(opts);
  return { ...opts, ...limits, readDataFile: confinedDataFileReader(path, what, limits, opts.filesRead) };
}

/** Read a .nii / .nii.gz file into an LPS Volume. */
export function readNifti(path: string, opts: NiftiReadOptions = {}): Volume {
  const o = { ...opts, ...limitsFromEnv(opts) };
  return checkVolumeValues(parseNifti(readFileBytes(path, 'NIfTI file', o), path, o), path, warnerOf(o));
}

/** Read a .nrrd, or a .nhdr with its detached data file(s) confined to the header's folder. */
export function readNrrd(path: string, opts: ParseOptions & { filesRead?: string[] } = {}): Volume {
  const o = withPathOptions(path, 'NRRD header', opts);
  return checkVolumeValues(parseNrrd(readFileBytes(path, 'NRRD file', o), path, o), path, warnerOf(o));
}

/** Read a .mha, or a .mhd with its data file(s) confined to the header's folder. */
export function readMetaImage(path: string, opts: ParseOptions & { filesRead?: string[] } = {}): Volume {
  const o = withPathOptions(path, 'MetaImage header', opts);
  return checkVolumeValues(parseMetaImage(readFileBytes(path, 'MetaImage file', o), path, o), path, warnerOf(o));
}

/** Read any supported image into an LPS Volume (for .npz: `imgs`, or `segs`/`gts` in a mask file). */
export async function readVolume(path: string, opts: ReadVolumeOptions = {}): Promise<Volume> {
  const format = opts.format ?? detectVolumeFormat(path);
  const o = { ...opts, ...limitsFromEnv(opts) };
  switch (format) {
    case 'nrrd':
      return readNrrd(path, o);
    case 'metaimage':
      return readMetaImage(path, o);
    case 'dicom':
      return checkVolumeValues(await readDicom(path, o), path, warnerOf(o));
    case 'png':
    case 'jpeg':
      return imageToVolume(decodeImage2D(readFileBytes(path, 'image', o), path, o));
    default:
      return readVolumeBytes(readFileBytes(path, `${format === 'npz' ? '.npz' : 'NIfTI'} file`, o), path, { ...o, format });
  }
}
