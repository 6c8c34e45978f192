import type { NumericArray } from './ndarray.js';

/** Scalar voxel types the volume readers decode. */
export type VoxelType = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

export const VOXEL_BYTES: Record<VoxelType, number> = {
  uint8: 1,
  int8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  float32: 4,
  float64: 8,
};

/**
 * Decode `count` voxels of `type` starting at `offset`. The bytes are copied (the result never
 * aliases the file buffer) and swapped when the file is big-endian. 64-bit integers become
 * Int32Array when every value fits, else Float64Array, because nothing downstream does BigInt math.
 */
export function decodeVoxels(bytes: Uint8Array, offset: number, count: number, type: VoxelType, littleEndian = true): NumericArray {
  const size = VOXEL_BYTES[type];
  const raw = new Uint8Array(count * size);
  raw.set(bytes.subarray(offset, offset + count * size));
  if (!littleEndian && size > 1) {
    for (let i = 0; i < raw.length; i += size) raw.subarray(i, i + size).reverse();
  }
  const buf = raw.buffer;
  switch (type) {
    case 'uint8':
      return new Uint8Array(buf);
    case 'int8':
      return new Int8Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'uint16':
      return new Uint16Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'uint32':
      return new Uint32Array(buf);
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
    case 'int64':
    case 'uint64': {
      const big = type === 'int64' ? new BigInt64Array(buf) : new BigUint64Array(buf);
      let fits32 = true;
      for (let i = 0; i < big.length && fits32; i++) fits32 = big[i] >= -2147483648n && big[i] <= 2147483647n;
      const out = fits32 ? new Int32Array(count) : new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(big[i]);
      return out;
    }
  }
}

/** Apply value = raw * slope + inter into a new Float32Array (the NIfTI/DICOM intensity scaling). */
export function rescaleToFloat32(data: NumericArray, slope: number, inter: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Number(data[i]) * slope + inter;
  return out;
}

/** Name of a typed array's element type, for messages and descriptions. */
export function dataTypeName(a: NumericArray): string {
  const n = a.constructor.name.replace(/Array$/, '').toLowerCase();
  return n.replace('bigint64', 'int64').replace('biguint64', 'uint64');
}
