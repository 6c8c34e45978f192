// Node-free: PNG (fast-png, MIT) and JPEG (jpeg-js, BSD-3; its decoder needs no Buffer with
// useTArray) from and to bytes. The path forms are in imageFile.ts.
import { convertIndexedToRgb, decode as decodePng, encode as encodePng, type DecodedPng } from 'fast-png';
import * as jpeg from 'jpeg-js';
import { MedsamError, errorMessage } from '../common/errors.js';
import { inflateLimited, inflateSlack } from './inflateLimited.js';
import { checkMaskShape, toLabelArray } from './maskLabels.js';
import { maxVoxelsOf, type ReadLimits } from './readLimits.js';
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

export interface DecodeImageOptions extends ReadLimits {
  /** Always return 3 channels (2D models want RGB). */
  rgb?: boolean;
}

/**
 * Decode PNG or JPEG bytes (`name` labels messages). Gray pictures (including RGB files whose
 * channels are all equal) come back with 1 channel unless `rgb` is set. 16-bit and 1/2/4-bit
 * samples are scaled to 8 bits (round(v * 255 / max)), as pngjs did before.
 */
export function decodeImage2D(bytes: Uint8Array, name: string, opts: DecodeImageOptions = {}): Image2D {
  const path = name;
  let width: number;
  let height: number;
  let rgba: Uint8Array;
  let format: 'png' | 'jpeg';
  const maxPixels = maxVoxelsOf(opts);
  if (isPngBytes(bytes)) {
    format = 'png';
    checkPngSize(bytes, path, maxPixels, opts);
    try {
      ({ width, height, rgba } = pngToRgba(decodePng(bytes)));
    } catch (e) {
      throw new MedsamError(`image ${path} is corrupt or truncated (${errorMessage(e)})`, 're-export the image');
    }
  } else if (isJpegBytes(bytes)) {
    format = 'jpeg';
    try {
      const img = jpeg.decode(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: maxPixels / 1e6,
        maxMemoryUsageInMB: Math.ceil((maxPixels * 8) / 2 ** 20),
      });
      ({ width, height } = img);
      rgba = img.data;
    } catch (e) {
      const msg = errorMessage(e);
      if (/maxResolutionInMP|maxMemoryUsageInMB/.test(msg)) {
        throw new MedsamError(
          `image ${path} is larger than the limit of ${maxPixels} pixels (${msg})`,
          'if the image is real, raise the limit with --max-voxels N (or MEDSAM2_MAX_VOXELS=N)',
        );
      }
      throw new MedsamError(`image ${path} is corrupt or truncated (${msg})`, 're-export the image');
    }
  } else {
    throw new MedsamError(`${path} is neither a PNG nor a JPEG file`, 'pass a .png or .jpg image');
  }
  if (!(width > 0 && height > 0) || rgba.length < width * height * 4) {
    throw new MedsamError(
      `image ${path} decoded to ${width}x${height} with ${rgba.length} bytes`,
      'the file is truncated; re-export the image',
    );
  }
  const n = width * height;
  let gray = !opts.rgb;
  for (let i = 0; gray && i < n; i++) gray = rgba[4 * i] === rgba[4 * i + 1] && rgba[4 * i] === rgba[4 * i + 2];
  const channels = gray ? 1 : 3;
  const data = new Uint8Array(n * channels);
  if (gray) for (let i = 0; i < n; i++) data[i] = rgba[4 * i];
  else
    for (let i = 0, o = 0, k = 0; i < n; i++, o += 3, k += 4) {
      data[o] = rgba[k];
      data[o + 1] = rgba[k + 1];
      data[o + 2] = rgba[k + 2];
    }
  return { width, height, channels, data, source: { format, path } };
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Before decoding: the IHDR size must be within the pixel limit, and the IDAT stream must not
 * inflate past what that size needs (a PNG bomb is stopped here, with bounded memory).
 */
function checkPngSize(bytes: Uint8Array, path: string, maxPixels: number, limits?: ReadLimits): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 33 || String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') {
    throw new MedsamError(`image ${path} is corrupt or truncated (no PNG IHDR header)`, 're-export the image');
  }
  const width = dv.getUint32(16),
    height = dv.getUint32(20),
    depth = bytes[24],
    colorType = bytes[25],
    interlace = bytes[28];
  if (!(width > 0 && height > 0)) throw new MedsamError(`image ${path} is corrupt (PNG size ${width}x${height})`, 're-export the image');
  if (width * height > maxPixels) {
    throw new MedsamError(
      `image ${path} declares ${width}x${height} = ${width * height} pixels, above the limit of ${maxPixels}`,
      'if the image is real, raise the limit with --max-voxels N (or MEDSAM2_MAX_VOXELS=N)',
    );
  }
  const ch = CHANNELS[colorType];
  if (!ch || ![1, 2, 4, 8, 16].includes(depth)) return; // the decoder names the problem
  const rowBytes = Math.ceil((width * ch * depth) / 8);
  const need = height * (1 + rowBytes) + (interlace ? 16 * height + 7 * 8 : 0);
  const idat: Uint8Array[] = [];
  for (let p = 8; p + 8 <= bytes.length; ) {
    const len = dv.getUint32(p);
    const type = String.fromCharCode(...bytes.subarray(p + 4, p + 8));
    if (type === 'IDAT') idat.push(bytes.subarray(p + 8, Math.min(bytes.length, p + 8 + len)));
    if (type === 'IEND') break;
    p += 12 + len;
  }
  if (idat.length === 0) return;
  const total = idat.reduce((a, b) => a + b.length, 0);
  const z = new Uint8Array(total);
  let o = 0;
  for (const part of idat) {
    z.set(part, o);
    o += part.length;
  }
  try {
    inflateLimited(z, {
      format: 'zlib',
      limit: need + inflateSlack(need),
      label: `image ${path}`,
      declared: `${width}x${height} pixels = ${need} bytes`,
      inflater: limits?.inflate,
    });
  } catch (e) {
    // Only a bomb is decided here; a merely corrupt stream is left to the decoder's message.
    if (e instanceof MedsamError && /inflates past/.test(e.message)) throw e;
  }
}

function pngToRgba(png: DecodedPng): { width: number; height: number; rgba: Uint8Array } {
  const { width, height } = png;
  const n = width * height;
  const rgba = new Uint8Array(n * 4);
  if (png.palette) {
    const rgb = convertIndexedToRgb(png);
    const c = rgb.length / n;
    for (let i = 0, o = 0, k = 0; i < n; i++, o += 4, k += c) {
      rgba[o] = rgb[k];
      rgba[o + 1] = rgb[k + 1];
      rgba[o + 2] = rgb[k + 2];
      rgba[o + 3] = 255;
    }
    return { width, height, rgba };
  }
  const ch = png.channels;
  const depth = png.depth;
  const d = png.data;
  if (depth === 8) {
    // The common case, without per-sample calls: gray, gray+alpha, RGB, RGBA bytes.
    if (ch >= 3) {
      for (let i = 0, o = 0, k = 0; i < n; i++, o += 4, k += ch) {
        rgba[o] = d[k];
        rgba[o + 1] = d[k + 1];
        rgba[o + 2] = d[k + 2];
        rgba[o + 3] = 255;
      }
    } else {
      for (let i = 0, o = 0, k = 0; i < n; i++, o += 4, k += ch) {
        const g = d[k];
        rgba[o] = g;
        rgba[o + 1] = g;
        rgba[o + 2] = g;
        rgba[o + 3] = 255;
      }
    }
    return { width, height, rgba };
  }
  const max = 2 ** depth - 1;
  const sample = samples(png, ch, depth);
  const to8 = (v: number): number => Math.floor((v * 255) / max + 0.5);
  for (let i = 0; i < n; i++) {
    if (ch <= 2) {
      const g = to8(sample(i * ch));
      rgba[4 * i] = g;
      rgba[4 * i + 1] = g;
      rgba[4 * i + 2] = g;
    } else {
      rgba[4 * i] = to8(sample(i * ch));
      rgba[4 * i + 1] = to8(sample(i * ch + 1));
      rgba[4 * i + 2] = to8(sample(i * ch + 2));
    }
    rgba[4 * i + 3] = 255;
  }
  return { width, height, rgba };
}

/** Sample k (row-major, channels interleaved) of a decoded PNG, unpacking 1/2/4-bit rows. */
function samples(png: DecodedPng, ch: number, depth: number): (k: number) => number {
  const d = png.data;
  if (depth >= 8) return (k) => d[k];
  const perRow = png.width * ch;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const mask = (1 << depth) - 1;
  return (k) => {
    const row = Math.floor(k / perRow),
      col = k % perRow;
    const bit = col * depth;
    return (d[row * rowBytes + (bit >> 3)] >> (8 - depth - (bit & 7))) & mask;
  };
}

/** ITU-R BT.601 luma, as PIL's convert('L') computes it. */
export function toLuminance(img: Image2D): Uint8Array {
  if (img.channels === 1) return img.data;
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = img.data[3 * i],
      g = img.data[3 * i + 1],
      b = img.data[3 * i + 2];
    out[i] = Math.round((r * 299 + g * 587 + b * 114) / 1000);
  }
  return out;
}

/** Whether a volume's spacing is nominal: a PNG or JPEG carries none, so imageToVolume's 1 mm is made up (no mm, mm² or mL from it). */
export function hasNominalSpacing(v: Pick<Volume, 'source'>): boolean {
  return v.source.format === 'png' || v.source.format === 'jpeg';
}

/** A picture as a one-slice volume (unit spacing, identity direction); RGB becomes luminance. */
export function imageToVolume(img: Image2D): Volume {
  const format: VolumeFormat = img.source.format;
  return {
    data: toLuminance(img),
    dims: [img.width, img.height, 1],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [...IDENTITY_DIRECTION],
    source: { format, path: img.source.path },
  };
}

/** Written as the PNG tEXt "Software" of every mask, so medsam2 can tell its own files from the user's. */
export const PNG_SOFTWARE_TAG = 'medsam2.js';

/** A one-slice label mask as 8-bit grayscale PNG bytes (labels stored as-is, not scaled); `path` names it in messages. */
export function encodePngMask(mask: Volume, path: string): Uint8Array {
  checkMaskShape(mask, path);
  if (mask.dims[2] !== 1)
    throw new MedsamError(`cannot write ${path}: PNG holds one slice, the mask has ${mask.dims[2]}`, 'write .nii.gz or .nrrd for 3D masks');
  const labels = toLabelArray(mask, path);
  if (!(labels instanceof Uint8Array))
    throw new MedsamError(`cannot write ${path}: labels above 255 do not fit an 8-bit PNG`, 'write .nii.gz or .nrrd instead');
  return encodePng({
    width: mask.dims[0],
    height: mask.dims[1],
    data: labels,
    channels: 1,
    depth: 8,
    text: { Software: PNG_SOFTWARE_TAG },
  });
}
