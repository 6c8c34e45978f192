import { MedsamError } from '../../common/errors.js';
import { bfloat16ArrayToFloat32, float16ArrayToFloat32 } from '../../common/halfFloat.js';
import { numel, type DType, type NdArray, type NumericArray } from '../../io/ndarray.js';

/**
 * Turning raw little/big-endian element bytes plus (offset, shape, stride) into a dense C-order
 * NdArray. Shared by the .pt and .safetensors readers. float16/bfloat16 are upcast to Float32Array
 * (exact); int64 stays BigInt64Array (exact), the NdArray dtype keeps the stored type.
 */
export interface ElementType {
  dtype: DType;
  size: number;
}

export const TORCH_STORAGE_TYPES: Record<string, ElementType> = {
  FloatStorage: { dtype: 'float32', size: 4 },
  HalfStorage: { dtype: 'float16', size: 2 },
  BFloat16Storage: { dtype: 'bfloat16', size: 2 },
  DoubleStorage: { dtype: 'float64', size: 8 },
  LongStorage: { dtype: 'int64', size: 8 },
  IntStorage: { dtype: 'int32', size: 4 },
  ShortStorage: { dtype: 'int16', size: 2 },
  CharStorage: { dtype: 'int8', size: 1 },
  ByteStorage: { dtype: 'uint8', size: 1 },
  BoolStorage: { dtype: 'bool', size: 1 },
};

function typedView(dtype: DType, buf: ArrayBuffer, n: number): NumericArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf, 0, n);
    case 'float64':
      return new Float64Array(buf, 0, n);
    case 'float16':
      return float16ArrayToFloat32(new Uint16Array(buf, 0, n));
    case 'bfloat16':
      return bfloat16ArrayToFloat32(new Uint16Array(buf, 0, n));
    case 'int64':
      return new BigInt64Array(buf, 0, n);
    case 'uint64':
      return new BigUint64Array(buf, 0, n);
    case 'int32':
      return new Int32Array(buf, 0, n);
    case 'uint32':
      return new Uint32Array(buf, 0, n);
    case 'int16':
      return new Int16Array(buf, 0, n);
    case 'uint16':
      return new Uint16Array(buf, 0, n);
    case 'int8':
      return new Int8Array(buf, 0, n);
    case 'uint8':
    case 'bool':
      return new Uint8Array(buf, 0, n);
  }
}

/**
 * Gather the elements of a strided view of `storage` (raw bytes) into a dense C-order array.
 * `offset` and `stride` are in elements, as torch stores them.
 */
export function gatherTensor(
  storage: Uint8Array,
  type: ElementType,
  offset: number,
  shape: number[],
  stride: number[],
  bigEndian: boolean,
  what: string,
): NdArray {
  const n = numel(shape);
  const size = type.size;
  // The furthest element the view touches must lie inside the storage.
  let last = offset;
  for (let k = 0; k < shape.length; k++) if (shape[k] > 0) last += (shape[k] - 1) * stride[k];
  if (n > 0 && (offset < 0 || stride.some((s) => s < 0) || (last + 1) * size > storage.length)) {
    throw new MedsamError(
      `${what} reaches past the end of its storage (needs ${(last + 1) * size} bytes, storage has ${storage.length})`,
      'the checkpoint is corrupt; re-download it',
    );
  }
  const out = new Uint8Array(n * size);
  let contiguous = true;
  for (let k = shape.length - 1, s = 1; k >= 0; k--) {
    if (shape[k] !== 1 && stride[k] !== s) contiguous = false;
    s *= shape[k];
  }
  if (contiguous) {
    out.set(storage.subarray(offset * size, (offset + n) * size));
  } else {
    const nd = shape.length;
    const idx = new Array<number>(nd).fill(0);
    let src = offset;
    for (let i = 0; i < n; i++) {
      out.set(storage.subarray(src * size, src * size + size), i * size);
      for (let k = nd - 1; k >= 0; k--) {
        idx[k]++;
        src += stride[k];
        if (idx[k] < shape[k]) break;
        src -= stride[k] * shape[k];
        idx[k] = 0;
      }
    }
  }
  if (bigEndian && size > 1) {
    for (let i = 0; i < out.length; i += size) out.subarray(i, i + size).reverse();
  }
  return { dtype: type.dtype, shape: [...shape], data: typedView(type.dtype, out.buffer, n) };
}
