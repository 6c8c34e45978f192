import { MedsamError } from '../../common/errors.js';
import { pilResizeBicubicU8 } from '../../preprocess/pilResize.js';
import type { Sam2FrameSource } from './inferenceState.js';

/**
 * MedSAM2's frame preprocessing (medsam2_infer_CT_lesion_npz_recist.py): 8-bit slice → Pillow
 * BICUBIC resize to S×S when it is not already S×S → gray repeated to 3 channels → /255 in float64
 * → minus ImageNet mean, divided by std (float32 constants promoted to float64) → float32.
 * Because the input is 8-bit, the normalisation is a 3×256 lookup table.
 */
const MEAN = [0.485, 0.456, 0.406].map(Math.fround);
const STD = [0.229, 0.224, 0.225].map(Math.fround);

/** [3·256] float32: lut[c·256 + v] = float32((v/255 − mean_c)/std_c) computed in float64. */
export function medsam2NormalizationLut(): Float32Array {
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - MEAN[c]!) / STD[c]!;
  return lut;
}

/** One [1,3,S,S] model input from an S×S 8-bit slice. */
export function normaliseSlice(u8: Uint8Array, lut: Float32Array): Float32Array {
  const n = u8.length;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const base = c * 256;
    const off = c * n;
    for (let i = 0; i < n; i++) out[off + i] = lut[base + u8[i]!]!;
  }
  return out;
}

/**
 * Frames from N stacked 8-bit [H,W] slices (row-major), resized and normalised on demand (the
 * predictor's feature cache holds what it needs, so frames are not kept).
 */
export function framesFromU8(
  slices: Uint8Array,
  numFrames: number,
  height: number,
  width: number,
  imageSize: number,
  lut = medsam2NormalizationLut(),
): Sam2FrameSource {
  if (slices.length !== numFrames * height * width) {
    throw new MedsamError(
      `slice data has ${slices.length} values, expected ${numFrames}×${height}×${width}`,
      'pass N row-major 8-bit slices',
    );
  }
  if (lut.length !== 3 * 256) throw new MedsamError(`normalisation table has ${lut.length} entries, expected 768`, 'pass a [3,256] table');
  const px = height * width;
  return {
    numFrames,
    frame(i: number): Float32Array {
      if (!Number.isInteger(i) || i < 0 || i >= numFrames)
        throw new MedsamError(`frame ${i} is outside 0..${numFrames - 1}`, 'pass a valid frame index');
      let s = slices.subarray(i * px, (i + 1) * px);
      if (height !== imageSize || width !== imageSize) s = pilResizeBicubicU8(s, width, height, imageSize, imageSize);
      return normaliseSlice(s, lut);
    },
  };
}
