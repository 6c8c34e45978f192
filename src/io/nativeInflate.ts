// Node layer: native zlib as the limited inflater the Node path layer injects into the parsers.
import { gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import type { Inflater } from './inflateLimited.js';

/**
 * zlib with maxOutputLength = limit + 1: a bomb stops inside zlib as soon as the output passes
 * the limit (RangeError ERR_BUFFER_TOO_LARGE → null), corrupt data throws zlib's own message.
 */
export const nativeInflate: Inflater = (data, format, limit) => {
  const fn = format === 'gzip' ? gunzipSync : format === 'zlib' ? inflateSync : inflateRawSync;
  try {
    const b = fn(data, { maxOutputLength: limit + 1 });
    if (b.length > limit) return null;
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return null;
    throw e;
  }
};
