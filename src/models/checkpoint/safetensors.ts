import { MedsamError } from '../../common/errors.js';
import { float32ToBfloat16Round, float32ToFloat16Round } from '../../common/halfFloat.js';
import { numel, type DType, type NdArray } from '../../io/ndarray.js';
import { gatherTensor, type ElementType } from './storage.js';
import type { StateDict } from './torchZip.js';

/**
 * The .safetensors format: u64 little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`, then the raw little-endian
 * tensor bytes. Small enough that a hand-written reader beats a dependency (the npm packages
 * either target browsers/tfjs or pull in native code).
 */
const DTYPES: Record<string, ElementType> = {
  F64: { dtype: 'float64', size: 8 },
  F32: { dtype: 'float32', size: 4 },
  F16: { dtype: 'float16', size: 2 },
  BF16: { dtype: 'bfloat16', size: 2 },
  I64: { dtype: 'int64', size: 8 },
  U64: { dtype: 'uint64', size: 8 },
  I32: { dtype: 'int32', size: 4 },
  U32: { dtype: 'uint32', size: 4 },
  I16: { dtype: 'int16', size: 2 },
  U16: { dtype: 'uint16', size: 2 },
  I8: { dtype: 'int8', size: 1 },
  U8: { dtype: 'uint8', size: 1 },
  BOOL: { dtype: 'bool', size: 1 },
};

const FIX = 're-download or re-export the .safetensors file';

/** Cheap sniff: a plausible header length followed by a JSON object. */
export function looksLikeSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  return n >= 2 && n <= 100_000_000 && bytes[8] === 0x7b; // '{'
}

export function readSafetensors(bytes: Uint8Array, label: string): StateDict {
  if (bytes.length < 8) throw new MedsamError(`${label} is not a valid .safetensors file: only ${bytes.length} bytes`, FIX);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (8 + n > bytes.length)
    throw new MedsamError(
      `${label} is not a valid .safetensors file: header needs ${n} bytes but the file has ${bytes.length - 8} (truncated)`,
      FIX,
    );
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  } catch {
    throw new MedsamError(`${label} is not a valid .safetensors file: the JSON header is corrupt`, FIX);
  }
  const data = bytes.subarray(8 + n);
  const tensors = new Map<string, NdArray>();
  const sourceDtypes = new Map<string, DType>();
  for (const [key, raw] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const type = DTYPES[info?.dtype ?? ''];
    if (!type)
      throw new MedsamError(
        `${label}: tensor '${key}' has unsupported dtype ${String(info?.dtype)}`,
        'convert the tensors to F32/F16/BF16/F64/I64/I32/U8/BOOL',
      );
    const shape = info.shape;
    const off = info.data_offsets;
    if (!Array.isArray(shape) || !Array.isArray(off) || off.length !== 2)
      throw new MedsamError(`${label}: tensor '${key}' has a malformed header entry`, FIX);
    const [b, e] = off;
    if (e - b !== numel(shape) * type.size || b < 0 || e > data.length) {
      throw new MedsamError(
        `${label}: tensor '${key}' data [${b}, ${e}) does not fit its shape [${shape}] or the file (${data.length} data bytes; truncated?)`,
        FIX,
      );
    }
    const stride = shape.map((_, k) => shape.slice(k + 1).reduce((x, y) => x * y, 1));
    tensors.set(key, gatherTensor(data.subarray(b, e), type, 0, shape, stride, false, `${label}: tensor '${key}'`));
    sourceDtypes.set(key, type.dtype);
  }
  return { tensors, sourceDtypes };
}

const TAG: Record<DType, string> = {
  float64: 'F64',
  float32: 'F32',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  uint64: 'U64',
  int32: 'I32',
  uint32: 'U32',
  int16: 'I16',
  uint16: 'U16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

/**
 * Encode tensors as .safetensors. float16/bfloat16 tensors (Float32Array data) are rounded to
 * their 16-bit type (nearest-even); everything else is written as is.
 */
export function encodeSafetensors(tensors: Map<string, NdArray> | Record<string, NdArray>, metadata?: Record<string, string>): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const bodies: Uint8Array[] = [];
  let pos = 0;
  for (const [key, t] of entries) {
    let body: Uint8Array;
    if (t.dtype === 'float16' || t.dtype === 'bfloat16') {
      const src = t.data as Float32Array;
      const h = new Uint16Array(src.length);
      const conv = t.dtype === 'float16' ? float32ToFloat16Round : float32ToBfloat16Round;
      for (let i = 0; i < src.length; i++) h[i] = conv(src[i]);
      body = new Uint8Array(h.buffer);
    } else {
      body = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    }
    header[key] = { dtype: TAG[t.dtype], shape: t.shape, data_offsets: [pos, pos + body.length] };
    bodies.push(body);
    pos += body.length;
  }
  const jsonBytes = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = new Uint8Array(Math.ceil(jsonBytes.length / 8) * 8).fill(0x20); // space-padded: data stays 8-byte aligned
  headerBytes.set(jsonBytes);
  const out = new Uint8Array(8 + headerBytes.length + pos);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const b of bodies) {
    out.set(b, p);
    p += b.length;
  }
  return out;
}
