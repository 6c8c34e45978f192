// Node-free: parses bytes; reading a path is readVolume.ts's job.
import * as nifti from 'nifti-reader-js';
import { MedsamError, errorMessage } from '../common/errors.js';
import { formatBytes, isGzip } from './bytes.js';
import { flipLpsRas, geometryFromAffine, type Affine3x4, type Geometry } from './geometry.js';
import { inflateLimited, inflateSlack } from './inflateLimited.js';
import { NIFTI_DATATYPES, NIFTI_UNSUPPORTED_DATATYPES, qformToAffine, type NiftiHeader } from './niftiHeader.js';
import { decodeVoxels, rescaleToFloat32, type VoxelType } from './rawVoxels.js';
import { checkVoxelCount, maxBytesOf } from './readLimits.js';
import { warnerOf, type ParseOptions } from './readOptions.js';
import type { Volume } from './volume.js';

export interface NiftiReadOptions extends ParseOptions {
  /** Which 3D volume of a 4D+ file to read (0-based; CLI --volume); 4D files without it are rejected. */
  frame?: number;
}

/** Bytes of the header region to inflate first: NIfTI-2's 540-byte header plus the extension flag. */
const HEADER_PREFIX = 1024;

/** Parse .nii / .nii.gz bytes (NIfTI-1 or NIfTI-2) into an LPS Volume; `name` labels messages. */
export function parseNifti(fileBytes: Uint8Array, name: string, opts: NiftiReadOptions = {}): Volume {
  const path = name;
  const gz = isGzip(fileBytes);
  // gzip: inflate only the header first, so the declared size bounds the full inflate.
  const head = gz ? inflateLimited(fileBytes, { format: 'gzip', limit: maxBytesOf(opts), prefix: HEADER_PREFIX, label: path }) : fileBytes;
  if (head.length < 348) {
    throw new MedsamError(`NIfTI file ${path} is truncated (${head.length} bytes, a header alone is 348)`, 're-export the file');
  }
  const ab = head.buffer.slice(head.byteOffset, head.byteOffset + Math.min(head.byteLength, HEADER_PREFIX)) as ArrayBuffer;
  if (!nifti.isNIFTI(ab)) {
    if (nifti.isNIFTI(ab, true)) {
      throw new MedsamError(
        `${path} is the header of a .hdr/.img pair, which is not supported`,
        'convert it to a single .nii.gz (e.g. with nibabel or ITK-SNAP)',
      );
    }
    throw new MedsamError(`${path} is not a NIfTI file (no n+1/n+2 magic)`, 'pass a .nii or .nii.gz file');
  }
  let h: ReturnType<typeof nifti.readHeader>;
  try {
    h = nifti.readHeader(ab);
  } catch (e) {
    throw new MedsamError(`cannot parse the NIfTI header of ${path}: ${errorMessage(e)}`, 're-export the file');
  }
  const version: 1 | 2 = h instanceof nifti.NIFTI2 ? 2 : 1;
  const header = headerFields(h, version, head);

  const ndim = header.dim[0];
  if (!(ndim >= 1 && ndim <= 7)) throw new MedsamError(`NIfTI file ${path} has an invalid dim[0]=${ndim}`, 're-export the file');
  const size = (i: number): number => (i <= ndim ? header.dim[i] : 1);
  const dims: [number, number, number] = [size(1), size(2), size(3)];
  if (dims.some((d) => !(d > 0))) {
    throw new MedsamError(`NIfTI file ${path} has a zero-size dimension (${dims.join('x')})`, 'the image is empty; re-export it');
  }
  let frames = 1;
  for (let i = 4; i <= ndim; i++) frames *= Math.max(1, header.dim[i]);
  checkVoxelCount(`NIfTI file ${path}`, frames > 1 ? [...dims, frames] : dims, opts);
  const frame = opts.frame ?? 0;
  if (frames > 1 && opts.frame === undefined) {
    throw new MedsamError(
      `NIfTI file ${path} is 4D (${frames} volumes of ${dims.join('x')})`,
      `choose one volume with --volume N (0..${frames - 1}; the frame option in the API)`,
    );
  }
  if (!Number.isInteger(frame) || frame < 0 || frame >= frames) {
    throw new MedsamError(
      `volume ${frame} is out of range for ${path} (${frames} volume${frames > 1 ? 's' : ''})`,
      `pass --volume between 0 and ${frames - 1} (the frame option in the API)`,
    );
  }

  const dt = NIFTI_DATATYPES[header.datatype];
  if (!dt) {
    const name = NIFTI_UNSUPPORTED_DATATYPES[header.datatype] ?? `code ${header.datatype}`;
    throw new MedsamError(`NIfTI file ${path} has unsupported datatype ${name}`, 'convert it to a scalar integer or float image');
  }
  const nvox = dims[0] * dims[1] * dims[2];
  const voxOffset = Math.max(Number(h.vox_offset), version === 1 ? 352 : 544);
  if (!Number.isSafeInteger(voxOffset) || voxOffset > maxBytesOf(opts)) {
    throw new MedsamError(`NIfTI file ${path} has an invalid vox_offset ${h.vox_offset}`, 're-export the file');
  }
  const expected = nvox * frames * dt.bytes;
  const declared = `${[...dims, ...(frames > 1 ? [frames] : [])].join('x')} ${dt.name} = ${formatBytes(voxOffset + expected)}`;
  // A 4D file is inflated only up to the chosen volume; a 3D one in full, so a bomb is caught.
  const needed = voxOffset + (frame + 1) * nvox * dt.bytes;
  const bytes = gz
    ? inflateLimited(fileBytes, {
        format: 'gzip',
        limit: voxOffset + expected + inflateSlack(voxOffset + expected),
        label: path,
        declared,
        prefix: frames > 1 ? needed : undefined,
        inflater: opts.inflate,
      })
    : fileBytes;
  const got = Math.max(0, bytes.length - voxOffset);
  if (bytes.length < needed) {
    throw new MedsamError(
      `NIfTI file ${path} is truncated (expected ${frames > 1 ? (frame + 1) * nvox * dt.bytes : expected} bytes of voxel data, got ${got})`,
      're-export the file',
    );
  }
  const raw = decodeVoxels(bytes, voxOffset + frame * nvox * dt.bytes, nvox, dt.name as VoxelType, header.littleEndian);
  const slope = header.sclSlope;
  const scaled = Number.isFinite(slope) && slope !== 0 && (slope !== 1 || (Number.isFinite(header.sclInter) && header.sclInter !== 0));
  const data = scaled ? rescaleToFloat32(raw, slope, Number.isFinite(header.sclInter) ? header.sclInter : 0) : raw;

  const geom = niftiGeometry(header, (m) => warnerOf(opts)(`NIfTI file ${path} ${m}`));
  return { data, dims, ...geom, source: { format: 'nifti', path }, header };
}

/** Pull the fields we need (and the raw srow, which nifti-reader-js drops when the qform wins). */
function headerFields(h: ReturnType<typeof nifti.readHeader>, version: 1 | 2, bytes: Uint8Array): NiftiHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = h.littleEndian;
  const srow: number[] = [];
  for (let i = 0; i < 12; i++) srow.push(version === 1 ? view.getFloat32(280 + 4 * i, le) : view.getFloat64(400 + 8 * i, le));
  return {
    kind: 'nifti',
    version,
    littleEndian: le,
    dim: h.dims.slice(0, 8).map(Number),
    datatype: h.datatypeCode,
    pixdim: h.pixDims.slice(0, 8),
    sclSlope: h.scl_slope,
    sclInter: h.scl_inter,
    xyztUnits: h.xyzt_units,
    dimInfo: h.dim_info,
    qformCode: h.qform_code,
    sformCode: h.sform_code,
    quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
    qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
    srow,
    description: h.description,
  };
}

/**
 * sform when sform_code > 0, else the qform quaternion, else pixdim on the axes (NIfTI
 * "method 1"), then RAS → LPS. Spatial units other than mm (metres, microns) are converted to mm.
 */
export function niftiGeometry(h: NiftiHeader, warn?: (message: string) => void): Geometry {
  const candidates: Affine3x4[] = [];
  if (h.sformCode > 0) candidates.push([h.srow.slice(0, 4), h.srow.slice(4, 8), h.srow.slice(8, 12)]);
  // pixdim feeds the qform and the fallback: a zero, negative or non-finite spacing becomes 1 mm.
  const badPix = [1, 2, 3].filter((i) => !(h.pixdim[i] > 0) || !Number.isFinite(h.pixdim[i]));
  const pixdim = h.pixdim.map((p, i) => (badPix.includes(i) ? 1 : p));
  const fixed = { ...h, pixdim };
  if (h.qformCode > 0) candidates.push(qformToAffine(fixed));
  const sp = [1, 2, 3].map((i) => pixdim[i]);
  if (badPix.length && h.sformCode <= 0 && warn) {
    warn(
      `has zero, negative or invalid spacing (pixdim ${[1, 2, 3].map((i) => h.pixdim[i]).join(' x ')}); assuming 1 mm on axis ${badPix.map((i) => 'xyz'[i - 1]).join(', ')}`,
    );
  }
  candidates.push([
    [sp[0], 0, 0, 0],
    [0, sp[1], 0, 0],
    [0, 0, sp[2], 0],
  ]);
  const unitScale = ({ 1: 1000, 3: 0.001 } as Record<number, number>)[h.xyztUnits & 0x07] ?? 1;
  for (const ras of candidates) {
    const scaled = ras.map((row) => row.map((x) => x * unitScale)) as Affine3x4;
    const g = geometryFromAffine(flipLpsRas(scaled));
    if (g && [...g.spacing, ...g.origin, ...g.direction].every(Number.isFinite)) return g;
  }
  /* c8 ignore next */
  throw new Error('unreachable: the pixdim affine is always valid');
}
