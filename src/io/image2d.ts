import * as jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { MedsamError, errorMessage } from '../common/errors.js';
import { writeFileAtomic } from './atomicWrite.js';
import { readFileBytes } from './fileBytes.js';
import { checkMaskShape, toLabelArray } from './maskLabels.js';
import { IDENTITY_DIRECTION, type Volume, type VolumeFormat } from './volume.js';

/** A decoded 8-bit picture, row-major, channels interleaved (alpha dropped). */
export interface Image2D {
  width: number;
  height: number;
  channels: 1 | 3;
  data: Uint8Array;
  source: { format: 'png' | 'jpeg'; path: string };
}

export function isPngBytes(b: Uint8Array): boolean {
  return b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
}

export function isJpegBytes(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff;
}

/**
 * Read a PNG or JPEG. Gray pictures (including RGB files whose channels are all equal) come back
 * with 1 channel unless `rgb` is set; 2D models pass `rgb: true` to always get 3 channels.
 * 16-bit PNGs are reduced to 8 bits (pngjs does this).
 */
export function readImage2D(path: string, opts: { rgb?: boolean } = {}): Image2D {
  const bytes = readFileBytes(path, 'image');
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  let format: 'png' | 'jpeg';
  try {
    if (isPngBytes(bytes)) {
      format = 'png';
      const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      ({ width, height } = png);
      rgba = new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength);
    } else if (isJpegBytes(bytes)) {
      format = 'jpeg';
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 400, maxMemoryUsageInMB: 2048 });
      ({ width, height } = img);
      rgba = img.data;
    } else {
      throw new MedsamError(`${path} is neither a PNG nor a JPEG file`, 'pass a .png or .jpg image');
    }
  } catch (e) {
    if (e instanceof MedsamError) throw e;
    throw new MedsamError(`image ${path} is corrupt or truncated (${errorMessage(e)})`, 're-export the image');
  }
  if (!(width > 0 && height > 0) || rgba.length < width * height * 4) {
    throw new MedsamError(`image ${path} decoded to ${width}x${height} with ${rgba.length} bytes`, 'the file is truncated; re-export the image');
  }
  const n = width * height;
  let gray = !opts.rgb;
  for (let i = 0; gray && i < n; i++) gray = rgba[4 * i] === rgba[4 * i + 1] && rgba[4 * i] === rgba[4 * i + 2];
  const channels = gray ? 1 : 3;
  const data = new Uint8Array(n * channels);
  for (let i = 0; i < n; i++) for (let c = 0; c < channels; c++) data[i * channels + c] = rgba[4 * i + c];
  return { width, height, channels, data, source: { format, path } };
}

/** ITU-R BT.601 luma, as PIL's convert('L') computes it. */
export function toLuminance(img: Image2D): Uint8Array {
  if (img.channels === 1) return img.data;
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = img.data[3 * i], g = img.data[3 * i + 1], b = img.data[3 * i + 2];
    out[i] = Math.round((r * 299 + g * 587 + b * 114) / 1000);
  }
  return out;
}

/** A picture as a one-slice volume (unit spacing, identity direction); RGB becomes luminance. */
export function readImageVolume(path: string): Volume {
  const img = readImage2D(path);
  const format: VolumeFormat = img.source.format;
  return {
    data: toLuminance(img),
    dims: [img.width, img.height, 1],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [...IDENTITY_DIRECTION],
    source: { format, path },
  };
}

/** A one-slice label mask as an 8-bit grayscale PNG (labels stored as-is, not scaled). */
export function writePngMask(path: string, mask: Volume): void {
  checkMaskShape(mask, path);
  if (mask.dims[2] !== 1) throw new MedsamError(`cannot write ${path}: PNG holds one slice, the mask has ${mask.dims[2]}`, 'write .nii.gz or .nrrd for 3D masks');
  const labels = toLabelArray(mask, path);
  if (!(labels instanceof Uint8Array)) throw new MedsamError(`cannot write ${path}: labels above 255 do not fit an 8-bit PNG`, 'write .nii.gz or .nrrd instead');
  const png = new PNG({ width: mask.dims[0], height: mask.dims[1], colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength);
  writeFileAtomic(path, PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false }));
}
