import { MedsamError } from '../common/errors.js';

/**
 * Pillow's `Image.resize(size)` with its default BICUBIC filter on an 8-bit single-channel image
 * (Resample.c: separable convolution, a = −0.5 cubic kernel with support 2 widened by the scale
 * when downscaling, double-precision coefficients quantised to 22-bit fixed point, horizontal pass
 * first into an 8-bit intermediate, round-half-up and clip to 0..255). MedSAM2 resizes every
 * non-512² slice this way (`Image.fromarray(u8).convert("RGB").resize((512, 512))`; the three
 * channels are identical), so matching it bit for bit keeps the model input exact. Written by
 * hand because no npm image library reproduces Pillow's fixed-point rounding.
 */

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 2 ** PRECISION_BITS;

function bicubic(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

interface Coeffs {
  ksize: number;
  /** [outSize] first source index and tap count. */
  start: Int32Array;
  count: Int32Array;
  /** [outSize, ksize] fixed-point weights. */
  k: Int32Array;
}

/** precompute_coeffs + normalize_coeffs_8bpc for the full box [0, inSize). */
function coefficients(inSize: number, outSize: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = 2 * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const c: Coeffs = { ksize, start: new Int32Array(outSize), count: new Int32Array(outSize), k: new Int32Array(outSize * ksize) };
  const ss = 1 / filterscale;
  const pre = new Float64Array(ksize);
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubic((x + xmin - center + 0.5) * ss);
      pre[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const v = ww !== 0 ? pre[x]! / ww : pre[x]!;
      c.k[xx * ksize + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    c.start[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

function clip8(v: number): number {
  if (v >= ONE * 256) return 255;
  if (v <= 0) return 0;
  return Math.floor(v / ONE);
}

/** Resize an 8-bit [inH, inW] image (row-major) to [outH, outW] exactly as Pillow 9's BICUBIC. */
export function pilResizeBicubicU8(src: Uint8Array, inW: number, inH: number, outW: number, outH: number): Uint8Array {
  for (const [n, v] of [
    ['input width', inW],
    ['input height', inH],
    ['output width', outW],
    ['output height', outH],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new MedsamError(`resize ${n} ${v} is not a positive integer`, 'pass whole pixel sizes');
  }
  if (src.length !== inW * inH)
    throw new MedsamError(`image has ${src.length} pixels, expected ${inW}×${inH}`, 'pass a row-major 8-bit slice');
  if (inW === outW && inH === outH) return src.slice();

  const needH = outW !== inW;
  const needV = outH !== inH;
  const cv = coefficients(inH, outH);
  // Rows the vertical pass reads (Pillow resamples only those horizontally).
  const yFirst = needV ? cv.start[0]! : 0;
  const yLast = needV ? cv.start[outH - 1]! + cv.count[outH - 1]! : inH;

  let img = src;
  let rows = inH;
  let rowOffset = 0;
  if (needH) {
    const ch = coefficients(inW, outW);
    rows = yLast - yFirst;
    const tmp = new Uint8Array(outW * rows);
    for (let y = 0; y < rows; y++) {
      const s = (y + yFirst) * inW;
      for (let xx = 0; xx < outW; xx++) {
        const st = s + ch.start[xx]!;
        const kb = xx * ch.ksize;
        let acc = ONE / 2;
        for (let x = 0, n = ch.count[xx]!; x < n; x++) acc += src[st + x]! * ch.k[kb + x]!;
        tmp[y * outW + xx] = clip8(acc);
      }
    }
    img = tmp;
    rowOffset = yFirst;
  }
  if (!needV) return img;
  const w = needH ? outW : inW;
  const out = new Uint8Array(w * outH);
  for (let yy = 0; yy < outH; yy++) {
    const st = cv.start[yy]! - rowOffset;
    const kb = yy * cv.ksize;
    const n = cv.count[yy]!;
    for (let x = 0; x < w; x++) {
      let acc = ONE / 2;
      for (let y = 0; y < n; y++) acc += img[(st + y) * w + x]! * cv.k[kb + y]!;
      out[yy * w + x] = clip8(acc);
    }
  }
  return out;
}
