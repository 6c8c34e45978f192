// Builds small NIfTI-1/-2 files field by field, so tests can exercise header paths that the
// shared data does not cover (qform-only, scaling, big-endian, NIfTI-2, 4D, odd datatypes).
export interface NiftiSpec {
  version?: 1 | 2;
  littleEndian?: boolean;
  dim: number[]; // dim[0..]
  datatype: number;
  bitpix: number;
  pixdim?: number[]; // pixdim[0..7]
  sclSlope?: number;
  sclInter?: number;
  xyztUnits?: number;
  qformCode?: number;
  sformCode?: number;
  quatern?: [number, number, number];
  qoffset?: [number, number, number];
  srow?: number[]; // 12
  voxels: Uint8Array; // already in the file's byte order
}

export function buildNifti(s: NiftiSpec): Uint8Array {
  const v2 = s.version === 2;
  const hdrSize = v2 ? 540 : 348;
  const voxOffset = v2 ? 544 : 352;
  const le = s.littleEndian ?? true;
  const buf = new ArrayBuffer(voxOffset + s.voxels.length);
  const v = new DataView(buf);
  const dim = [...s.dim, 1, 1, 1, 1, 1, 1, 1, 1].slice(0, 8);
  const pixdim = [...(s.pixdim ?? [1, 1, 1, 1]), 1, 1, 1, 1, 1, 1, 1, 1].slice(0, 8);
  const srow = s.srow ?? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  v.setInt32(0, hdrSize, le);
  if (!v2) {
    dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
    v.setInt16(70, s.datatype, le);
    v.setInt16(72, s.bitpix, le);
    pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
    v.setFloat32(108, voxOffset, le);
    v.setFloat32(112, s.sclSlope ?? 0, le);
    v.setFloat32(116, s.sclInter ?? 0, le);
    v.setUint8(123, s.xyztUnits ?? 2);
    v.setInt16(252, s.qformCode ?? 0, le);
    v.setInt16(254, s.sformCode ?? 0, le);
    (s.quatern ?? [0, 0, 0]).forEach((q, i) => v.setFloat32(256 + 4 * i, q, le));
    (s.qoffset ?? [0, 0, 0]).forEach((q, i) => v.setFloat32(268 + 4 * i, q, le));
    srow.forEach((x, i) => v.setFloat32(280 + 4 * i, x, le));
    [0x6e, 0x2b, 0x31, 0].forEach((c, i) => v.setUint8(344 + i, c));
  } else {
    [0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a].forEach((c, i) => v.setUint8(4 + i, c));
    v.setInt16(12, s.datatype, le);
    v.setInt16(14, s.bitpix, le);
    dim.forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), le));
    pixdim.forEach((p, i) => v.setFloat64(104 + 8 * i, p, le));
    v.setBigInt64(168, BigInt(voxOffset), le);
    v.setFloat64(176, s.sclSlope ?? 0, le);
    v.setFloat64(184, s.sclInter ?? 0, le);
    v.setInt32(344, s.qformCode ?? 0, le);
    v.setInt32(348, s.sformCode ?? 0, le);
    (s.quatern ?? [0, 0, 0]).forEach((q, i) => v.setFloat64(352 + 8 * i, q, le));
    (s.qoffset ?? [0, 0, 0]).forEach((q, i) => v.setFloat64(376 + 8 * i, q, le));
    srow.forEach((x, i) => v.setFloat64(400 + 8 * i, x, le));
    v.setInt32(500, s.xyztUnits ?? 2, le);
  }
  const out = new Uint8Array(buf);
  out.set(s.voxels, voxOffset);
  return out;
}

/** Little-endian bytes of a typed array (optionally byte-swapped to big-endian). */
export function bytesOf(a: ArrayBufferView & { BYTES_PER_ELEMENT: number }, bigEndian = false): Uint8Array {
  const b = new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  if (bigEndian) for (let i = 0; i < b.length; i += a.BYTES_PER_ELEMENT) b.subarray(i, i + a.BYTES_PER_ELEMENT).reverse();
  return b;
}
