// Node layer: PNG/JPEG files by path (decoding and encoding are image2d.ts, node-free).
import { writeFileAtomic } from './atomicWrite.js';
import { limitsFromEnv, readFileBytes } from './fileBytes.js';
import { decodeImage2D, encodePngMask, imageToVolume, type DecodeImageOptions, type Image2D } from './image2d.js';
import type { Volume } from './volume.js';

/** Read a PNG or JPEG file (see decodeImage2D). */
export function readImage2D(path: string, opts: DecodeImageOptions = {}): Image2D {
  const o = { ...opts, ...limitsFromEnv(opts) };
  return decodeImage2D(readFileBytes(path, 'image', o), path, o);
}

/** A picture file as a one-slice volume (unit spacing, identity direction); RGB becomes luminance. */
export function readImageVolume(path: string, opts: DecodeImageOptions = {}): Volume {
  return imageToVolume(readImage2D(path, opts));
}

/** Write a one-slice label mask as an 8-bit grayscale PNG, atomically. */
export function writePngMask(path: string, mask: Volume): void {
  writeFileAtomic(path, encodePngMask(mask, path));
}
export * from './image2d.js';
