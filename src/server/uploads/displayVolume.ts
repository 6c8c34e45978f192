/**
 * The scan a client shows, as the server read it: a volume upload (DICOM zip, PNG, JPEG, or any
 * other) encoded as a NIfTI-1 image with the very voxels, spacing, origin and direction that a
 * session on it segments. The web app displays this for every format NiiVue cannot read itself
 * (DICOM series, PNG, JPEG), so what is drawn cannot disagree with the grid that prompts and label
 * maps are counted on: slice order, orientation, rescale to HU and colour → luminance are the
 * server's decisions, made once (src/io/dicom/series.ts, src/io/image2d.ts). NIfTI, NRRD, MHA and
 * npz keep being drawn from the local file (no second download; their geometry is the header
 * NiiVue reads and their tests compare the app's masks with the CLI's).
 *
 * Hand-written because no npm package writes a scalar NIfTI from an in-memory volume in Node
 * (NiiVue's writer needs a browser, nifti-reader-js only reads); the header layout is the one
 * src/io/niftiWrite.ts writes for masks, with the volume's own datatype instead of labels.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { flipLpsRas, lpsAffine } from '../../io/geometry.js';
import type { NumericArray } from '../../io/ndarray.js';
import { affineToQform } from '../../io/niftiHeader.js';
import type { Volume } from '../../io/volume.js';

const gzipAsync = promisify(gzip);

/** NIfTI datatype code and bits per voxel of each typed array a Volume holds (64-bit integers are shown as float64). */
function niftiType(a: NumericArray): { code: number; bits: number } {
  if (a instanceof Uint8Array) return { code: 2, bits: 8 };
  if (a instanceof Int8Array) return { code: 256, bits: 8 };
  if (a instanceof Int16Array) return { code: 4, bits: 16 };
  if (a instanceof Uint16Array) return { code: 512, bits: 16 };
  if (a instanceof Int32Array) return { code: 8, bits: 32 };
  if (a instanceof Uint32Array) return { code: 768, bits: 32 };
  if (a instanceof Float32Array) return { code: 16, bits: 32 };
  return { code: 64, bits: 64 };
}

/** Uncompressed NIfTI-1 (.nii) bytes of `v`: x-fastest voxels as stored, sform and qform from its LPS geometry. */
export function encodeDisplayNifti(v: Volume, description = 'medsam2.js display'): Uint8Array {
  const data: Exclude<NumericArray, BigInt64Array | BigUint64Array> =
    v.data instanceof BigInt64Array || v.data instanceof BigUint64Array ? Float64Array.from(v.data, Number) : v.data;
  const { code, bits } = niftiType(data);
  const hdr = new DataView(new ArrayBuffer(352));
  const le = true;
  hdr.setInt32(0, 348, le);
  hdr.setUint8(38, 'r'.charCodeAt(0));
  [3, v.dims[0], v.dims[1], v.dims[2], 1, 1, 1, 1].forEach((d, i) => hdr.setInt16(40 + 2 * i, d, le));
  hdr.setInt16(70, code, le);
  hdr.setInt16(72, bits, le);
  hdr.setFloat32(108, 352, le);
  hdr.setFloat32(112, 1, le); // scl_slope 1, inter 0: the values are the server's (HU for CT)
  const ras = flipLpsRas(lpsAffine(v));
  const q = affineToQform(ras);
  [q.qfac, v.spacing[0], v.spacing[1], v.spacing[2], 1, 1, 1, 1].forEach((p, i) => hdr.setFloat32(76 + 4 * i, p, le));
  hdr.setUint8(123, 2); // mm
  for (let i = 0; i < Math.min(description.length, 79); i++) hdr.setUint8(148 + i, description.charCodeAt(i) & 0x7f);
  hdr.setInt16(252, 1, le); // qform_code scanner
  hdr.setInt16(254, 1, le); // sform_code scanner
  q.quatern.forEach((x, i) => hdr.setFloat32(256 + 4 * i, x, le));
  q.qoffset.forEach((x, i) => hdr.setFloat32(268 + 4 * i, x, le));
  ras.forEach((row, r) => row.forEach((x, c) => hdr.setFloat32(280 + 16 * r + 4 * c, x, le)));
  'n+1'.split('').forEach((ch, i) => hdr.setUint8(344 + i, ch.charCodeAt(0)));
  // Typed arrays are little-endian on every platform Node supports.
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(352 + body.length);
  out.set(new Uint8Array(hdr.buffer), 0);
  out.set(body, 352);
  return out;
}

/** Gzipped display NIfTIs, one per parsed volume: kept while the volume cache keeps the volume. */
const encoded = new WeakMap<Volume, Promise<Buffer>>();

/** `.nii.gz` bytes of `v` (level 1: a fraction of level 6's time for a few % more bytes), encoded once per parsed volume. */
export function displayNiftiGz(v: Volume): Promise<Buffer> {
  let p = encoded.get(v);
  if (!p) {
    p = gzipAsync(encodeDisplayNifti(v), { level: 1 });
    encoded.set(v, p);
    p.catch(() => encoded.delete(v));
  }
  return p;
}
