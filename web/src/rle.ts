import type { Rle } from './api.js';

/** Decodes the server's row-major RLE (runs of 0 and 1, starting with 0) into a rows*cols mask. */
export function decodeRle(rle: Rle): Uint8Array {
  const [rows, cols] = rle.size;
  const out = new Uint8Array(rows * cols);
  let p = 0;
  for (let i = 0; i < rle.counts.length; i++) {
    const n = rle.counts[i]!;
    if (i % 2 === 1) out.fill(1, p, Math.min(out.length, p + n));
    p += n;
  }
  return out;
}
