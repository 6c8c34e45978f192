// Node-free: returns bytes; writeMask.ts writes them to a path.
import { gzipSync } from 'fflate';
import { MedsamError } from '../common/errors.js';
import { flipLpsRas, lpsAffine, sameGrid } from './geometry.js';
import { affineToQform, isNiftiHeader, type NiftiHeader } from './niftiHeader.js';
import { niftiGeometry } from './niftiRead.js';
import { checkMaskShape, toLabelArray } from './maskLabels.js';
import type { NumericArray } from './ndarray.js';
import type { Volume } from './volume.js';

const XFORM_SCANNER_ANAT = 1;
const UNITS_MM = 2;

/**
 * A label mask as NIfTI-1 bytes (.nii, or gzip-compressed when `path` ends in .gz; `path` also
 * names it in messages). When `like` (or the mask itself) came from a NIfTI file on the same
 * grid, its qform/sform, codes and pixdim are reused byte-for-byte so viewers overlay it exactly.
 */
export function encodeNifti(mask: Volume, path: string, like?: Volume): Uint8Array {
  const bytes = encodeNiftiMask(mask, path, like);
  return path.toLowerCase().endsWith('.gz') ? gzipSync(bytes, { level: 6, mtime: 0 }) : bytes;
}

/** Header + voxels of an uncompressed NIfTI-1 label image. */
export function encodeNiftiMask(mask: Volume, path: string, like?: Volume): Uint8Array {
  checkMaskShape(mask, path);
  return niftiBytes(mask, toLabelArray(mask, path), 'medsam2.js mask', path, like);
}

/**
 * Header + voxels of an uncompressed NIfTI-1 image of a volume's own values (its datatype kept;
 * 64-bit integers as float64), e.g. a DICOM series as the server read it, for a viewer.
 */
export function encodeNiftiImage(v: Volume, description: string, path = 'the image'): Uint8Array {
  const data = v.data instanceof BigInt64Array || v.data instanceof BigUint64Array ? Float64Array.from(v.data, Number) : v.data;
  return niftiBytes(v, data, description, path);
}

type NiftiData = Exclude<NumericArray, BigInt64Array | BigUint64Array>;

/** NIfTI datatype code and bits per voxel of each typed array. */
function niftiType(a: NiftiData): { code: number; bits: number } {
  if (a instanceof Uint8Array) return { code: 2, bits: 8 };
  if (a instanceof Int8Array) return { code: 256, bits: 8 };
  if (a instanceof Int16Array) return { code: 4, bits: 16 };
  if (a instanceof Uint16Array) return { code: 512, bits: 16 };
  if (a instanceof Int32Array) return { code: 8, bits: 32 };
  if (a instanceof Uint32Array) return { code: 768, bits: 32 };
  if (a instanceof Float32Array) return { code: 16, bits: 32 };
  return { code: 64, bits: 64 };
}

/**
 * NIfTI-1 bytes of `data` on `grid`'s voxel grid. When `like` (or `grid` itself) came from a NIfTI
 * file on the same grid, its qform/sform, codes and pixdim are reused byte-for-byte so viewers
 * overlay it exactly; otherwise both transforms come from the grid's LPS geometry.
 */
function niftiBytes(grid: Volume, data: NiftiData, description: string, path: string, like?: Volume): Uint8Array {
  if (grid.dims.some((d) => d > 32767))
    throw new MedsamError(`cannot write ${path}: dimension ${Math.max(...grid.dims)} exceeds NIfTI-1's 32767`, 'write .nrrd instead');
  const template = pickTemplate(grid, like);
  const { code, bits } = niftiType(data);
  const hdr = new ArrayBuffer(352);
  const v = new DataView(hdr);
  const le = true;
  v.setInt32(0, 348, le);
  v.setUint8(38, 'r'.charCodeAt(0));
  v.setUint8(39, template?.dimInfo ?? 0);
  const dim = [3, grid.dims[0], grid.dims[1], grid.dims[2], 1, 1, 1, 1];
  dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(70, code, le);
  v.setInt16(72, bits, le);
  v.setFloat32(108, 352, le);
  v.setFloat32(112, 1, le); // scl_slope 1, scl_inter 0: values are stored as-is
  v.setFloat32(116, 0, le);
  writeString(v, 148, 80, description);
  writeString(v, 344, 4, 'n+1');

  if (template) {
    // pixdim 1..3 and the transforms verbatim; pixdim[4..] reset since the image is 3D.
    const pd = [template.pixdim[0] < 0 ? -1 : 1, template.pixdim[1], template.pixdim[2], template.pixdim[3], 1, 1, 1, 1];
    pd.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
    v.setUint8(123, template.xyztUnits & 0x07);
    v.setInt16(252, template.qformCode, le);
    v.setInt16(254, template.sformCode, le);
    template.quatern.forEach((q, i) => v.setFloat32(256 + 4 * i, q, le));
    template.qoffset.forEach((q, i) => v.setFloat32(268 + 4 * i, q, le));
    template.srow.forEach((s, i) => v.setFloat32(280 + 4 * i, s, le));
  } else {
    const ras = flipLpsRas(lpsAffine(grid));
    const q = affineToQform(ras);
    const pd = [q.qfac, grid.spacing[0], grid.spacing[1], grid.spacing[2], 1, 1, 1, 1];
    pd.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
    v.setUint8(123, UNITS_MM);
    v.setInt16(252, XFORM_SCANNER_ANAT, le);
    v.setInt16(254, XFORM_SCANNER_ANAT, le);
    q.quatern.forEach((x, i) => v.setFloat32(256 + 4 * i, x, le));
    q.qoffset.forEach((x, i) => v.setFloat32(268 + 4 * i, x, le));
    ras.forEach((row, r) => row.forEach((x, c) => v.setFloat32(280 + 16 * r + 4 * c, x, le)));
  }
  // Typed arrays are little-endian on every platform Node supports.
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(352 + body.length);
  out.set(new Uint8Array(hdr), 0);
  out.set(body, 352);
  return out;
}

/** The NIfTI header to copy transforms from, if one describes exactly the mask's grid. */
function pickTemplate(mask: Volume, like?: Volume): NiftiHeader | undefined {
  for (const cand of [like, mask]) {
    const h = cand?.header;
    if (!isNiftiHeader(h) || h.version !== 1) continue;
    const dims = [1, 2, 3].map((i) => (i <= h.dim[0] ? h.dim[i] : 1));
    if (sameGrid({ ...niftiGeometry(h), dims }, mask, 1e-6)) return h;
  }
  return undefined;
}

function writeString(v: DataView, offset: number, max: number, s: string): void {
  for (let i = 0; i < Math.min(s.length, max - 1); i++) v.setUint8(offset + i, s.charCodeAt(i) & 0x7f);
}
