import type { Affine3x4 } from './geometry.js';

/**
 * The NIfTI header fields that decide where voxels sit in space, kept on Volume.header so a
 * mask written for a NIfTI image reuses them verbatim (a viewer then overlays it exactly).
 */
export interface NiftiHeader {
  kind: 'nifti';
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[0..7] as stored. */
  dim: number[];
  datatype: number;
  /** pixdim[0..7] as stored; pixdim[0] is qfac. */
  pixdim: number[];
  sclSlope: number;
  sclInter: number;
  xyztUnits: number;
  dimInfo: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z concatenated (12 values, RAS). */
  srow: number[];
  description: string;
}

export function isNiftiHeader(h: unknown): h is NiftiHeader {
  return typeof h === 'object' && h !== null && (h as { kind?: unknown }).kind === 'nifti';
}

export const NIFTI_DATATYPES: Record<number, { name: string; bytes: number }> = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
  1024: { name: 'int64', bytes: 8 },
  1280: { name: 'uint64', bytes: 8 },
};

export const NIFTI_UNSUPPORTED_DATATYPES: Record<number, string> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

/** RAS affine from the qform quaternion (NIfTI-1 "method 2"). */
export function qformToAffine(h: Pick<NiftiHeader, 'quatern' | 'qoffset' | 'pixdim'>): Affine3x4 {
  let [b, c, d] = h.quatern;
  let a2 = 1 - (b * b + c * c + d * d);
  let a: number;
  if (a2 < 1e-7) {
    // a is ~0: the stored b,c,d carry the whole rotation; renormalise as nifti1_io does.
    const n = Math.hypot(b, c, d) || 1;
    b /= n;
    c /= n;
    d /= n;
    a = 0;
    a2 = 0;
  } else {
    a = Math.sqrt(a2);
  }
  const R = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const qfac = h.pixdim[0] < 0 ? -1 : 1;
  const sp = [1, 2, 3].map((i) => (h.pixdim[i] > 0 ? h.pixdim[i] : h.pixdim[i] < 0 ? -h.pixdim[i] : 1));
  return [0, 1, 2].map((r) => [R[r][0] * sp[0], R[r][1] * sp[1], R[r][2] * sp[2] * qfac, h.qoffset[r]]) as Affine3x4;
}

/**
 * Quaternion + qfac for a RAS affine (the inverse of qformToAffine), for writing a qform
 * next to the sform. Assumes orthogonal axes, which every grid we write has.
 */
export function affineToQform(m: Affine3x4): {
  quatern: [number, number, number];
  qoffset: [number, number, number];
  qfac: 1 | -1;
  spacing: [number, number, number];
} {
  const cols = [0, 1, 2].map((c) => [m[0][c], m[1][c], m[2][c]]);
  const spacing = cols.map((v) => Math.hypot(v[0], v[1], v[2]) || 1) as [number, number, number];
  const u = cols.map((v, i) => v.map((x) => x / spacing[i]));
  const det =
    u[0][0] * (u[1][1] * u[2][2] - u[1][2] * u[2][1]) -
    u[1][0] * (u[0][1] * u[2][2] - u[0][2] * u[2][1]) +
    u[2][0] * (u[0][1] * u[1][2] - u[0][2] * u[1][1]);
  const qfac: 1 | -1 = det < 0 ? -1 : 1;
  if (qfac < 0) u[2] = u[2].map((x) => -x);
  // r[i][j] = row i, column j of the proper rotation.
  const r = (i: number, j: number): number => u[j][i];
  let a = r(0, 0) + r(1, 1) + r(2, 2) + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r(2, 1) - r(1, 2))) / a;
    c = (0.25 * (r(0, 2) - r(2, 0))) / a;
    d = (0.25 * (r(1, 0) - r(0, 1))) / a;
  } else {
    const xd = 1 + r(0, 0) - (r(1, 1) + r(2, 2));
    const yd = 1 + r(1, 1) - (r(0, 0) + r(2, 2));
    const zd = 1 + r(2, 2) - (r(0, 0) + r(1, 1));
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r(0, 1) + r(1, 0))) / b;
      d = (0.25 * (r(0, 2) + r(2, 0))) / b;
      a = (0.25 * (r(2, 1) - r(1, 2))) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r(0, 1) + r(1, 0))) / c;
      d = (0.25 * (r(1, 2) + r(2, 1))) / c;
      a = (0.25 * (r(0, 2) - r(2, 0))) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r(0, 2) + r(2, 0))) / d;
      c = (0.25 * (r(1, 2) + r(2, 1))) / d;
      a = (0.25 * (r(1, 0) - r(0, 1))) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { quatern: [b, c, d], qoffset: [m[0][3], m[1][3], m[2][3]], qfac, spacing };
}
