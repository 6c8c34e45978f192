import { HttpError } from './httpError.js';

/**
 * Masks on the wire: COCO-style *uncompressed* RLE, but in ROW-MAJOR order (x fastest, as the
 * slice arrays are stored; COCO itself is column-major). `size` is [rows, cols]; `counts`
 * alternate runs of 0 and 1 starting with a run of 0 (which may be 0 long) and sum to rows*cols.
 * Example: a 2x3 mask [[0,1,1],[1,0,0]] is { size: [2, 3], counts: [1, 3, 2] }.
 */
export interface Rle {
  size: [number, number];
  counts: number[];
}

export function encodeRle(mask: ArrayLike<number>, rows: number, cols: number): Rle {
  const counts: number[] = [];
  let cur = 0;
  let run = 0;
  for (let i = 0; i < rows * cols; i++) {
    const v = mask[i] ? 1 : 0;
    if (v !== cur) {
      counts.push(run);
      run = 0;
      cur = v;
    }
    run++;
  }
  counts.push(run);
  return { size: [rows, cols], counts };
}

/** Decodes a client's RLE for a rows x cols slice; anything inconsistent is a 400. */
export function decodeRle(rle: Rle, rows: number, cols: number, what = 'mask'): Uint8Array {
  if (rle.size[0] !== rows || rle.size[1] !== cols) {
    throw new HttpError(
      400,
      `${what} has size [${rle.size.join(', ')}] but the slice is [${rows}, ${cols}] (rows, cols)`,
      'encode the mask on the slice grid',
    );
  }
  const out = new Uint8Array(rows * cols);
  let p = 0;
  for (let i = 0; i < rle.counts.length; i++) {
    const n = rle.counts[i]!;
    if (p + n > out.length) throw new HttpError(400, `${what} counts sum past rows*cols = ${out.length}`, 'counts must sum to rows*cols');
    if (i % 2 === 1) out.fill(1, p, p + n);
    p += n;
  }
  if (p !== out.length)
    throw new HttpError(400, `${what} counts sum to ${p}, not rows*cols = ${out.length}`, 'counts must sum to rows*cols');
  return out;
}
