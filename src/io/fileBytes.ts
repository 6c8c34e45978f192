import { existsSync, readFileSync, statSync } from 'node:fs';
import { gunzipSync, inflateSync } from 'node:zlib';
import { MedsamError, errorMessage } from '../common/errors.js';

/** Read a whole input file, turning the usual filesystem failures into one-line MedsamErrors. */
export function readFileBytes(path: string, what = 'file'): Uint8Array {
  if (!existsSync(path)) throw new MedsamError(`${what} ${path} does not exist`, 'check the path');
  const st = statSync(path);
  if (st.isDirectory()) throw new MedsamError(`${what} ${path} is a folder, not a file`, 'pass a file path');
  if (st.size === 0) throw new MedsamError(`${what} ${path} is empty (0 bytes)`, 're-export the file');
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new MedsamError(`cannot read ${what} ${path}: ${errorMessage(e)}`, 'check the file permissions');
  }
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Node's native zlib: faster than fflate on multi-MB volumes and it reports truncation precisely. */
export function gunzipBytes(bytes: Uint8Array, path: string): Uint8Array {
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new MedsamError(`${path} is not valid gzip data (${errorMessage(e)}); the file is truncated or corrupt`, 're-export or re-download the file');
  }
}

/** zlib stream (RFC 1950) as MetaImage CompressedData uses; falls back to gzip framing. */
export function inflateBytes(bytes: Uint8Array, path: string): Uint8Array {
  if (isGzip(bytes)) return gunzipBytes(bytes, path);
  try {
    const out = inflateSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (e) {
    throw new MedsamError(`${path}: compressed voxel data is corrupt (${errorMessage(e)})`, 're-export the file');
  }
}

/** Copy bytes into a fresh, aligned ArrayBuffer (typed-array views need element alignment). */
export function alignedCopy(bytes: Uint8Array, offset: number, length: number): ArrayBuffer {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(offset, offset + length));
  return out.buffer;
}
