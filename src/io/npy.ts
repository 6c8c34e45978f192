import { MedsamError } from '../common/errors.js';
import { float16ArrayToFloat32, float32ToFloat16Round } from '../common/halfFloat.js';
import { numel, type DType, type NdArray, type NumericArray } from './ndarray.js';
import { checkVoxelCount, type ReadLimits } from './readLimits.js';

/**
 * NumPy .npy format (versions 1.0/2.0/3.0), written by hand: no maintained npm package reads
 * float16, big-endian and Fortran-order arrays into plain typed arrays.
 */

interface DTypeInfo {
  dtype: DType;
  size: number;
  /** Typed-array constructor of the raw little-endian bytes. */
  make: (buf: ArrayBuffer, n: number) => NumericArray;
}

const DTYPES: Record<string, DTypeInfo> = {
  f2: { dtype: 'float16', size: 2, make: (b, n) => new Uint16Array(b, 0, n) }, // decoded to float32 below
  f4: { dtype: 'float32', size: 4, make: (b, n) => new Float32Array(b, 0, n) },
  f8: { dtype: 'float64', size: 8, make: (b, n) => new Float64Array(b, 0, n) },
  i1: { dtype: 'int8', size: 1, make: (b, n) => new Int8Array(b, 0, n) },
  u1: { dtype: 'uint8', size: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  b1: { dtype: 'bool', size: 1, make: (b, n) => new Uint8Array(b, 0, n) },
  i2: { dtype: 'int16', size: 2, make: (b, n) => new Int16Array(b, 0, n) },
  u2: { dtype: 'uint16', size: 2, make: (b, n) => new Uint16Array(b, 0, n) },
  i4: { dtype: 'int32', size: 4, make: (b, n) => new Int32Array(b, 0, n) },
  u4: { dtype: 'uint32', size: 4, make: (b, n) => new Uint32Array(b, 0, n) },
  i8: { dtype: 'int64', size: 8, make: (b, n) => new BigInt64Array(b, 0, n) },
  u8: { dtype: 'uint64', size: 8, make: (b, n) => new BigUint64Array(b, 0, n) },
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** What a .npy header says: dtype descr, memory order, shape, and where the data starts. */
export interface NpyHeader {
  descr: string;
  fortran: boolean;
  shape: number[];
  dataStart: number;
}

/** The throw of a .npy that cannot be read, naming it (label) and why. */
export function npyFail(label: string, why: string): never {
  throw new MedsamError(`${label} is not a valid .npy array: ${why}`, 're-save it with numpy.save / numpy.savez');
}

/** Parse a .npy's magic and header dict (any dtype; the caller checks that it knows it). */
export function parseNpyHeader(bytes: Uint8Array, label = '.npy data'): NpyHeader {
  const fail = (why: string): never => npyFail(label, why);
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) fail('missing \\x93NUMPY magic');
  const major = bytes[6];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('header is truncated');
    headerLen = dv.getUint32(8, true);
    headerStart = 12;
  } else return fail(`unsupported format version ${major}.${bytes[7]}`);
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) fail('header is truncated');
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  if (descr === undefined) fail(/'descr'\s*:\s*\[/.test(header) ? 'structured dtypes are not supported' : 'header has no dtype');
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  if (fortran === undefined) fail('header has no fortran_order');
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (shapeText === undefined) fail('header has no shape');
  const shape = shapeText!
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) fail(`bad shape (${shapeText})`);
  return { descr: descr!, fortran: fortran === 'True', shape, dataStart };
}

/** Decode one .npy file. Float16 becomes Float32Array (exact); bool becomes Uint8Array of 0/1. */
export function parseNpy(bytes: Uint8Array, label = '.npy data', limits?: ReadLimits): NdArray {
  const fail = (why: string): never => npyFail(label, why);
  const { descr, fortran, shape, dataStart } = parseNpyHeader(bytes, label);
  const order = descr[0]!;
  const info = DTYPES[descr.slice(1)];
  if (!'<>|='.includes(order) || !info)
    return fail(
      isNpyTextDescr(descr)
        ? `dtype '${descr}' is text, not numbers (read it with the npz reader's strings())`
        : `dtype '${descr}' is not supported (use float16/32/64, (u)int8..64 or bool)`,
    );
  const n = numel(shape);
  checkVoxelCount(label, shape, limits);
  const nbytes = n * info.size;
  if (dataStart + nbytes > bytes.length)
    fail(`data is truncated (expected ${nbytes} bytes for shape (${shape.join(',')}), got ${bytes.length - dataStart})`);

  // Copy into a fresh buffer: typed arrays need element alignment, and big-endian data is swapped in place.
  const raw = new Uint8Array(nbytes);
  raw.set(bytes.subarray(dataStart, dataStart + nbytes));
  if (order === '>' && info.size > 1) swapBytes(raw, info.size);
  let data = info.make(raw.buffer, n);
  if (info.dtype === 'float16') data = float16ArrayToFloat32(data as Uint16Array);
  if (fortran && shape.length > 1) data = fortranToC(data, shape);
  return { dtype: info.dtype, shape, data };
}

function swapBytes(b: Uint8Array, size: number): void {
  for (let i = 0; i < b.length; i += size) {
    for (let lo = i, hi = i + size - 1; lo < hi; lo++, hi--) {
      const t = b[lo];
      b[lo] = b[hi];
      b[hi] = t;
    }
  }
}

/** Reorder column-major data (first axis fastest) into row-major (last axis fastest). */
function fortranToC<T extends NumericArray>(src: T, shape: number[]): T {
  const out = new (src.constructor as new (n: number) => T)(src.length);
  const nd = shape.length;
  const fStride = new Array<number>(nd);
  for (let k = 0, s = 1; k < nd; k++) {
    fStride[k] = s;
    s *= shape[k];
  }
  const idx = new Array<number>(nd).fill(0);
  let f = 0;
  for (let c = 0; c < src.length; c++) {
    (out as unknown as { [i: number]: number | bigint })[c] = (src as unknown as { [i: number]: number | bigint })[f];
    // Advance the C-order multi-index (last axis fastest) and track the matching Fortran offset.
    for (let k = nd - 1; k >= 0; k--) {
      idx[k]++;
      f += fStride[k];
      if (idx[k] < shape[k]) break;
      f -= fStride[k] * shape[k];
      idx[k] = 0;
    }
  }
  return out;
}

const DESCR: Record<DType, { descr: string; ctor: Function }> = {
  float16: { descr: '<f2', ctor: Float32Array },
  bfloat16: { descr: '<f4', ctor: Float32Array }, // numpy has no bfloat16; float32 holds it exactly
  float32: { descr: '<f4', ctor: Float32Array },
  float64: { descr: '<f8', ctor: Float64Array },
  int8: { descr: '|i1', ctor: Int8Array },
  uint8: { descr: '|u1', ctor: Uint8Array },
  bool: { descr: '|b1', ctor: Uint8Array },
  int16: { descr: '<i2', ctor: Int16Array },
  uint16: { descr: '<u2', ctor: Uint16Array },
  int32: { descr: '<i4', ctor: Int32Array },
  uint32: { descr: '<u4', ctor: Uint32Array },
  int64: { descr: '<i8', ctor: BigInt64Array },
  uint64: { descr: '<u8', ctor: BigUint64Array },
};

/**
 * Encode as .npy v1.0 (v2.0 if the header is huge), C order, little endian.
 * float16 arrays (Float32Array data) are rounded to float16; bfloat16 is written as float32.
 */
export function encodeNpy(a: NdArray): Uint8Array {
  const d = DESCR[a.dtype];
  if (!d) throw new MedsamError(`cannot write dtype ${a.dtype} to .npy`, 'convert the array to a numpy dtype first');
  if (!(a.data instanceof d.ctor))
    throw new MedsamError(
      `cannot write ${a.dtype} array held in a ${a.data.constructor.name} to .npy`,
      `store ${a.dtype} data in a ${d.ctor.name}`,
    );
  if (a.data.length !== numel(a.shape))
    throw new MedsamError(
      `cannot write .npy: shape (${a.shape.join(',')}) needs ${numel(a.shape)} elements but data has ${a.data.length}`,
      'fix the array shape',
    );
  let body: Uint8Array;
  if (a.dtype === 'float16') {
    const h = new Uint16Array(a.data.length);
    const src = a.data as Float32Array;
    for (let i = 0; i < h.length; i++) h[i] = float32ToFloat16Round(src[i]);
    body = new Uint8Array(h.buffer);
  } else {
    body = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
  }
  const header = npyHeaderBytes(d.descr, a.shape);
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

/**
 * A .npy's magic and header dict for C-order data of `descr` and `shape`, padded with spaces as numpy
 * does so the data starts on a 64-byte boundary (version 2 when the dict outgrows v1's 16-bit length).
 */
export function npyHeaderBytes(descr: string, shape: readonly number[]): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let version = 1;
  let prefix = 10;
  let total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  if (total - prefix > 0xffff) {
    version = 2;
    prefix = 12;
    total = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  }
  dict = `${dict.padEnd(total - prefix - 1, ' ')}\n`;
  const out = new Uint8Array(total);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (version === 1) dv.setUint16(8, dict.length, true);
  else dv.setUint32(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[prefix + i] = dict.charCodeAt(i);
  return out;
}

/** Whether a .npy dtype descr is numpy's fixed-width text ('<U<n>'), read by npyText.ts. */
export function isNpyTextDescr(descr: string): boolean {
  return /^[<>=|]U\d+$/.test(descr);
}
