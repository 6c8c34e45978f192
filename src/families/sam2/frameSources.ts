import { MedsamError } from '../../common/errors.js';
import { pilResizeBicubicU8 } from '../../preprocess/pilResize.js';
import { medsam2NormalizationLut, normaliseSlice } from '../../predictor/sam2/frameSource.js';
import type { Sam2FrameSource } from '../../predictor/sam2/inferenceState.js';
import type { FrameStack } from '../family.js';

/**
 * Model inputs of a frame stack, made on demand (the predictor's feature cache keeps what it needs):
 * volume slices the MedSAM2 3D way, video frames the upstream JPEG-frame way.
 */

const MEAN = [0.485, 0.456, 0.406].map(Math.fround);
const STD = [0.229, 0.224, 0.225].map(Math.fround);

/**
 * [3·256] lookup of upstream's frame normalisation for JPEG frames (sam2/utils/misc.py
 * _load_img_as_tensor + load_video_frames_from_jpg_images): uint8 / 255 in float64, stored as
 * float32, then `-= mean` and `/= std` in float32. Each step is rounded to float32 like torch does.
 */
export function videoNormalizationLut(): Float32Array {
  const f = Math.fround;
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = f(f(f(v / 255) - MEAN[c]!) / STD[c]!);
  return lut;
}

/**
 * Model input [1,3,S,S] of one RGB frame: Pillow `convert("RGB").resize((S, S))` (BICUBIC, the
 * default of Image.resize, applied per channel like Pillow does), then the normalisation table.
 */
export function sam2VideoFrameTensor(
  rgb: Uint8Array,
  width: number,
  height: number,
  size: number,
  lut = videoNormalizationLut(),
): Float32Array {
  if (rgb.length !== width * height * 3) {
    throw new MedsamError(
      `frame has ${rgb.length} values, ${width}x${height} RGB needs ${width * height * 3}`,
      'this is a bug; please report it',
    );
  }
  const n = width * height,
    plane = size * size;
  const out = new Float32Array(3 * plane);
  const channel = new Uint8Array(n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) channel[i] = rgb[3 * i + c]!;
    const r = width === size && height === size ? channel : pilResizeBicubicU8(channel, width, height, size, size);
    const base = c * 256,
      off = c * plane;
    for (let i = 0; i < plane; i++) out[off + i] = lut[base + r[i]!]!;
  }
  return out;
}

/**
 * The MedSAM2 3D workflow's slices (medsam2_infer_3D_CT.py, MedSAM2 @ 332f30d): 8-bit slice →
 * Pillow bicubic to the model size when needed → ×3 channels → /255 → ImageNet mean/std.
 * Video frames: sam2VideoFrameTensor.
 */
export function stackFrameSource(stack: FrameStack, imageSize: number): Sam2FrameSource {
  if (stack.channels === 3) {
    const lut = videoNormalizationLut();
    return { numFrames: stack.numFrames, frame: (i) => sam2VideoFrameTensor(stack.frame(i), stack.cols, stack.rows, imageSize, lut) };
  }
  const lut = medsam2NormalizationLut();
  return {
    numFrames: stack.numFrames,
    frame(i: number): Float32Array {
      let px = stack.frame(i);
      if (stack.rows !== imageSize || stack.cols !== imageSize) px = pilResizeBicubicU8(px, stack.cols, stack.rows, imageSize, imageSize);
      return normaliseSlice(px, lut);
    },
  };
}
