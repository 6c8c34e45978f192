import { MedsamError } from '../common/errors.js';

export interface SamNormalisation {
  mean: [number, number, number];
  std: [number, number, number];
  scale: '0-255' | '0-1';
}

/**
 * How a slice of (h, w) maps into the square S×S encoder input.
 * 'longest-side' (SAM1 ResizeLongestSide): scale = S / max(h, w), pad bottom/right with zeros.
 * 'square' (SAM2): stretch to S×S.
 */
export interface SamFrame {
  size: number;
  srcH: number;
  srcW: number;
  /** Size of the resized image inside the S×S frame (before padding). */
  resizedH: number;
  resizedW: number;
}

export function samFrame(h: number, w: number, size: number, mode: 'longest-side' | 'square' = 'longest-side'): SamFrame {
  if (mode === 'square') return { size, srcH: h, srcW: w, resizedH: size, resizedW: size };
  const s = size / Math.max(h, w);
  // Same rounding as segment_anything's ResizeLongestSide.get_preprocess_shape (int(x + 0.5)).
  return { size, srcH: h, srcW: w, resizedH: Math.floor(h * s + 0.5), resizedW: Math.floor(w * s + 0.5) };
}

/** Slice pixel coordinates (x = column, y = row) → the S frame. */
export function toModelCoords(f: SamFrame, x: number, y: number): [number, number] {
  return [x * (f.resizedW / f.srcW), y * (f.resizedH / f.srcH)];
}

/** The S frame → slice pixel coordinates. */
export function fromModelCoords(f: SamFrame, x: number, y: number): [number, number] {
  return [x * (f.srcW / f.resizedW), y * (f.srcH / f.resizedH)];
}

/**
 * A uint8 gray slice (row-major h×w) → normalised float [1,3,S,S] encoder input: the gray value is
 * repeated on R, G, B, resized (PIL-style bilinear, see resizeBilinearU8), rounded back to uint8 as
 * SAM's PIL pipeline does, normalised, and zero-padded bottom/right AFTER normalising (SAM pads the
 * normalised tensor, so padding is 0, not the normalised value of black).
 */
export function samImageTensor(
  gray: Uint8Array,
  h: number,
  w: number,
  size: number,
  norm: SamNormalisation,
  mode: 'longest-side' | 'square' = 'longest-side',
): { data: Float32Array; dims: [1, 3, number, number]; frame: SamFrame } {
  if (gray.length !== h * w) {
    throw new MedsamError(
      `slice buffer has ${gray.length} values but ${h}x${w} needs ${h * w}`,
      'this is a bug in the caller; please report it',
    );
  }
  const frame = samFrame(h, w, size, mode);
  const resized = resizeBilinearU8(gray, h, w, frame.resizedH, frame.resizedW);
  return { data: normalisedPadded(() => resized, frame, size, norm), dims: [1, 3, size, size], frame };
}

/**
 * [3,S,S] float tensor: channel c = lut_c(resized channel c) in the top-left resizedH×resizedW
 * corner, zeros elsewhere (SAM pads after normalising).
 */
function normalisedPadded(channel: (c: number) => Uint8Array, frame: SamFrame, size: number, norm: SamNormalisation): Float32Array {
  const plane = size * size;
  const out = new Float32Array(3 * plane);
  const k = norm.scale === '0-1' ? 1 / 255 : 1;
  for (let c = 0; c < 3; c++) {
    const resized = channel(c);
    // Lookup table: 256 possible inputs per channel.
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = (v * k - norm.mean[c]!) / norm.std[c]!;
    const base = c * plane;
    for (let y = 0; y < frame.resizedH; y++) {
      const row = y * frame.resizedW;
      const o = base + y * size;
      for (let x = 0; x < frame.resizedW; x++) out[o + x] = lut[resized[row + x]!]!;
    }
  }
  return out;
}

/**
 * Same as samImageTensor for an interleaved RGB picture (row-major h×w×3), so colour frames
 * (endoscopy, video) reach the encoder in colour: each channel is resized like the gray path.
 */
export function samImageTensorRgb(
  rgb: Uint8Array,
  h: number,
  w: number,
  size: number,
  norm: SamNormalisation,
  mode: 'longest-side' | 'square' = 'longest-side',
): { data: Float32Array; dims: [1, 3, number, number]; frame: SamFrame } {
  if (rgb.length !== h * w * 3) {
    throw new MedsamError(
      `RGB buffer has ${rgb.length} values but ${h}x${w}x3 needs ${h * w * 3}`,
      'this is a bug in the caller; please report it',
    );
  }
  const frame = samFrame(h, w, size, mode);
  const channel = new Uint8Array(h * w);
  const resizedChannel = (c: number): Uint8Array => {
    for (let i = 0; i < channel.length; i++) channel[i] = rgb[3 * i + c]!;
    return resizeBilinearU8(channel, h, w, frame.resizedH, frame.resizedW);
  };
  return { data: normalisedPadded(resizedChannel, frame, size, norm), dims: [1, 3, size, size], frame };
}

/**
 * Separable triangle-filter resize with pixel-centre alignment, matching PIL's BILINEAR (which
 * SAM's ResizeLongestSide uses through torchvision on PIL images): plain bilinear when upscaling,
 * antialiased (filter support widened by the scale) when downscaling. Written by hand because no
 * npm image library exposes PIL-exact resampling on raw gray buffers without native deps.
 */
export function resizeBilinearU8(src: Uint8Array, h: number, w: number, outH: number, outW: number): Uint8Array {
  if (outH === h && outW === w) return src.slice();
  const cx = triangleWeights(w, outW);
  const cy = triangleWeights(h, outH);
  const tmp = new Float32Array(h * outW);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < outW; x++) {
      const { start, weights } = cx[x]!;
      let s = 0;
      for (let i = 0; i < weights.length; i++) s += weights[i]! * src[row + start + i]!;
      tmp[y * outW + x] = s;
    }
  }
  const out = new Uint8Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const { start, weights } = cy[y]!;
    for (let x = 0; x < outW; x++) {
      let s = 0;
      for (let i = 0; i < weights.length; i++) s += weights[i]! * tmp[(start + i) * outW + x]!;
      out[y * outW + x] = s <= 0 ? 0 : s >= 255 ? 255 : Math.round(s);
    }
  }
  return out;
}

function triangleWeights(inSize: number, outSize: number): { start: number; weights: Float32Array }[] {
  const scale = inSize / outSize;
  const support = Math.max(1, scale);
  const res: { start: number; weights: Float32Array }[] = [];
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    const lo = Math.max(0, Math.floor(centre - support + 0.5));
    const hi = Math.min(inSize, Math.floor(centre + support + 0.5));
    const ws = new Float32Array(Math.max(1, hi - lo));
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const t = Math.abs((i + 0.5 - centre) / support);
      const wgt = t < 1 ? 1 - t : 0;
      ws[i - lo] = wgt;
      total += wgt;
    }
    if (total > 0) for (let i = 0; i < ws.length; i++) ws[i]! /= total;
    else ws[0] = 1;
    res.push({ start: lo, weights: ws });
  }
  return res;
}
