import { MedsamError } from '../common/errors.js';

/**
 * torch.nn.functional.interpolate(mode="bilinear", align_corners=False) on float32 planes, with
 * and without `antialias=True`, following the arithmetic of PyTorch's CPU kernels (float32
 * weights and accumulation, source index rules, edge clamping) so that the SAM2 predictor's
 * resizes (low-res logits → video resolution, mask prompts → model size, mask-as-output
 * downsampling) match the reference to float rounding. Written by hand because no npm image
 * library reproduces torch's index/weight conventions.
 */

const f32 = Math.fround;

function checkPlane(src: Float32Array, inH: number, inW: number, outH: number, outW: number, planes: number): void {
  for (const [n, v] of [
    ['input height', inH],
    ['input width', inW],
    ['output height', outH],
    ['output width', outW],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new MedsamError(`resize ${n} ${v} is not a positive integer`, 'pass whole pixel sizes');
  }
  if (src.length !== planes * inH * inW) {
    throw new MedsamError(`resize input has ${src.length} values, expected ${planes}×${inH}×${inW}`, 'pass [planes,H,W] data in C order');
  }
}

interface LinearTaps {
  i0: Int32Array;
  i1: Int32Array;
  w0: Float32Array;
  w1: Float32Array;
}

/** compute_indices_weights_linear: src = scale·(dst+0.5) − 0.5 clamped at 0, scale = in/out in float32. */
function linearTaps(inSize: number, outSize: number): LinearTaps {
  const scale = f32(inSize / outSize);
  const t: LinearTaps = {
    i0: new Int32Array(outSize),
    i1: new Int32Array(outSize),
    w0: new Float32Array(outSize),
    w1: new Float32Array(outSize),
  };
  for (let o = 0; o < outSize; o++) {
    let real = f32(scale * (o + 0.5) - 0.5);
    if (real < 0) real = 0;
    const i0 = Math.trunc(real);
    const l1 = f32(real - i0);
    t.i0[o] = i0;
    t.i1[o] = i0 + (i0 < inSize - 1 ? 1 : 0);
    t.w1[o] = l1;
    t.w0[o] = f32(1 - l1);
  }
  return t;
}

/**
 * Bilinear resize (align_corners=False, no antialias) of `planes` stacked [inH,inW] planes.
 * Output = (x00·w0x + x01·w1x)·w0y + (x10·w0x + x11·w1x)·w1y in float32, as torch's CPU kernel.
 */
export function resizeBilinear(src: Float32Array, inH: number, inW: number, outH: number, outW: number, planes = 1): Float32Array {
  checkPlane(src, inH, inW, outH, outW, planes);
  if (inH === outH && inW === outW) return src.slice();
  const ty = linearTaps(inH, outH);
  const tx = linearTaps(inW, outW);
  const out = new Float32Array(planes * outH * outW);
  for (let p = 0; p < planes; p++) {
    const sOff = p * inH * inW;
    const oOff = p * outH * outW;
    for (let y = 0; y < outH; y++) {
      const r0 = sOff + ty.i0[y]! * inW;
      const r1 = sOff + ty.i1[y]! * inW;
      const wy0 = ty.w0[y]!;
      const wy1 = ty.w1[y]!;
      const row = oOff + y * outW;
      for (let x = 0; x < outW; x++) {
        const a = tx.i0[x]!;
        const b = tx.i1[x]!;
        const wx0 = tx.w0[x]!;
        const wx1 = tx.w1[x]!;
        const top = f32(f32(src[r0 + a]! * wx0) + f32(src[r0 + b]! * wx1));
        const bot = f32(f32(src[r1 + a]! * wx0) + f32(src[r1 + b]! * wx1));
        out[row + x] = f32(f32(top * wy0) + f32(bot * wy1));
      }
    }
  }
  return out;
}

interface AaTaps {
  start: Int32Array;
  size: Int32Array;
  /** Row-major [outSize, maxSize] normalised weights. */
  w: Float32Array;
  maxSize: number;
}

/** Triangle filter of torch's antialiased bilinear mode, evaluated in float32. */
function triangle(x: number): number {
  const a = x < 0 ? -x : x;
  return a < 1 ? f32(1 - a) : 0;
}

/**
 * _compute_weights_aa (UpSampleKernel.cpp): support = scale (downsampling) or 1 (upsampling),
 * window [center − support + 0.5, center + support + 0.5) truncated and clipped to the input,
 * weights normalised by their float32 sum.
 */
function aaTaps(inSize: number, outSize: number): AaTaps {
  const scale = f32(inSize / outSize);
  const support = scale >= 1 ? f32(1 * scale) : 1;
  const invscale = scale >= 1 ? f32(1 / scale) : 1;
  const maxSize = Math.ceil(support) * 2 + 1;
  const t: AaTaps = { start: new Int32Array(outSize), size: new Int32Array(outSize), w: new Float32Array(outSize * maxSize), maxSize };
  for (let o = 0; o < outSize; o++) {
    const center = f32(scale * (o + 0.5));
    const xmin = Math.max(Math.trunc(f32(center - support) + 0.5), 0);
    const xsize = Math.min(Math.trunc(f32(center + support) + 0.5), inSize) - xmin;
    let total = 0;
    const base = o * maxSize;
    for (let j = 0; j < xsize; j++) {
      const w = triangle(f32((f32(j + xmin - center) + 0.5) * invscale));
      t.w[base + j] = w;
      total = f32(total + w);
    }
    if (total !== 0) for (let j = 0; j < xsize; j++) t.w[base + j] = f32(t.w[base + j]! / total);
    t.start[o] = xmin;
    t.size[o] = xsize;
  }
  return t;
}

/**
 * Bilinear resize with antialias=True (torch's separable PIL-style filter): the width pass runs
 * first, then the height pass, each accumulating in float32. For upsampling this equals plain
 * bilinear up to rounding; for downsampling it averages over the footprint.
 */
export function resizeBilinearAntialias(src: Float32Array, inH: number, inW: number, outH: number, outW: number, planes = 1): Float32Array {
  checkPlane(src, inH, inW, outH, outW, planes);
  if (inH === outH && inW === outW) return src.slice();
  let cur = src;
  let curW = inW;
  if (outW !== inW) {
    const tx = aaTaps(inW, outW);
    const tmp = new Float32Array(planes * inH * outW);
    for (let r = 0; r < planes * inH; r++) {
      const s = r * inW;
      const d = r * outW;
      for (let x = 0; x < outW; x++) {
        const st = s + tx.start[x]!;
        const wb = x * tx.maxSize;
        const n = tx.size[x]!;
        let acc = f32(cur[st]! * tx.w[wb]!);
        for (let j = 1; j < n; j++) acc = f32(acc + f32(cur[st + j]! * tx.w[wb + j]!));
        tmp[d + x] = acc;
      }
    }
    cur = tmp;
    curW = outW;
  }
  if (outH !== inH) {
    const ty = aaTaps(inH, outH);
    const tmp = new Float32Array(planes * outH * curW);
    for (let p = 0; p < planes; p++) {
      const sp = p * inH * curW;
      const dp = p * outH * curW;
      for (let y = 0; y < outH; y++) {
        const st = ty.start[y]!;
        const wb = y * ty.maxSize;
        const n = ty.size[y]!;
        const d = dp + y * curW;
        for (let x = 0; x < curW; x++) {
          let acc = f32(cur[sp + st * curW + x]! * ty.w[wb]!);
          for (let j = 1; j < n; j++) acc = f32(acc + f32(cur[sp + (st + j) * curW + x]! * ty.w[wb + j]!));
          tmp[d + x] = acc;
        }
      }
    }
    cur = tmp;
  }
  return cur === src ? src.slice() : cur;
}
