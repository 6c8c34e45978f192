import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { readImage2D } from '../../src/io/imageFile.js';
import type { NdArray } from '../../src/io/ndarray.js';
import { readNpz } from '../../src/io/npzFile.js';
import { writeVideo } from '../../src/io/video.js';
import { dice } from '../../src/metrics/dice.js';
import { ROOT } from '../helpers/cli.js';

/**
 * A synthetic colonoscopy clip from ONE real Kvasir-SEG frame: a fixed-size window slides over
 * the picture a few pixels per frame (simulated camera motion, no invented borders), and the
 * polyp mask is cropped with the same window, so every frame has an exact reference.
 */
export interface SyntheticVideo {
  width: number;
  height: number;
  /** RGB frames and binary reference masks, row-major. */
  frames: Uint8Array[];
  masks: Uint8Array[];
}

export function slidingWindowVideo(
  imagePath: string,
  maskPath: string,
  opts: { frames: number; width: number; height: number; dx: number; dy: number },
): SyntheticVideo {
  const img = readImage2D(imagePath, { rgb: true });
  const ref = readImage2D(maskPath);
  const { width: W, height: H } = opts;
  if (img.width < W + opts.dx * (opts.frames - 1) || img.height < H + opts.dy * (opts.frames - 1))
    throw new Error('window slides off the picture');
  const frames: Uint8Array[] = [];
  const masks: Uint8Array[] = [];
  for (let k = 0; k < opts.frames; k++) {
    const ox = k * opts.dx,
      oy = k * opts.dy;
    const f = new Uint8Array(W * H * 3);
    const m = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const s = (oy + y) * img.width + ox + x;
        f.set(img.data.subarray(3 * s, 3 * s + 3), 3 * (y * W + x));
        // The reference is a JPEG: threshold away its compression noise.
        m[y * W + x] = ref.data[s * ref.channels]! > 127 ? 1 : 0;
      }
    }
    frames.push(f);
    masks.push(m);
  }
  return { width: W, height: H, frames, masks };
}

/** Writes the frames as f1.png, f2.png, … f10.png (natural order differs from plain sort past 9). */
export function writeFrameFolder(dir: string, v: SyntheticVideo): void {
  mkdirSync(dir, { recursive: true });
  v.frames.forEach((f, i) => {
    const png = new PNG({ width: v.width, height: v.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
    png.data = Buffer.from(f);
    writeFileSync(join(dir, `f${i + 1}.png`), PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
  });
}

export async function writeMp4(path: string, v: SyntheticVideo, fps = 10): Promise<void> {
  await writeVideo(path, v.frames, v.width, v.height, fps);
}

/** Bounding box [x0, y0, x1, y1] of a binary mask. */
export function maskBox(m: Uint8Array, w: number): [number, number, number, number] {
  let x0 = Infinity,
    y0 = Infinity,
    x1 = -1,
    y1 = -1;
  for (let i = 0; i < m.length; i++) {
    if (!m[i]) continue;
    const x = i % w,
      y = Math.floor(i / w);
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  return [x0, y0, x1, y1];
}

/** The Kvasir-SEG polyp the server video tests slide a 560x480 window across (6 px right, 4 down per frame). */
export const KVASIR_POLYP = {
  image: join(ROOT, '../shared/data/endoscopy/kvasir/images/cju0qkwl35piu0993l0dewei2.jpg'),
  mask: join(ROOT, '../shared/data/endoscopy/kvasir/masks/cju0qkwl35piu0993l0dewei2.jpg'),
};
/** Why a test of the polyp clip is skipped, or false when ../shared has it. */
export const KVASIR_SKIP = !existsSync(KVASIR_POLYP.image) && `needs ../shared/data/endoscopy/kvasir (${KVASIR_POLYP.image})`;

/** The polyp clip of `frames` frames: the 560x480 window slides 6 px right and 4 px down per frame. */
export function polypClip(frames: number): SyntheticVideo {
  return slidingWindowVideo(KVASIR_POLYP.image, KVASIR_POLYP.mask, { frames, width: 560, height: 480, dx: 6, dy: 4 });
}

/** The polyp clip of `frames` frames written as an mp4 at 10 fps into `dir`. */
export async function polypClipMp4(dir: string, frames: number): Promise<{ clip: SyntheticVideo; mp4: string }> {
  const clip = polypClip(frames);
  const mp4 = join(dir, 'clip.mp4');
  await writeMp4(mp4, clip, 10);
  return { clip, mp4 };
}

/**
 * A masks.npz of the clip (`segs`, frames × height × width, as the server, the app and `medsam2
 * video` write it): its shape asserted, each frame's mask, and the DSC of each against the clip's own.
 */
export async function readClipMasksNpz(
  bytes: Uint8Array,
  clip: SyntheticVideo,
): Promise<{ segs: NdArray; frameMask: (k: number) => Uint8Array; dsc: number[] }> {
  const segs = (await readNpz(bytes)).segs!;
  assert.deepEqual(segs.shape, [clip.masks.length, clip.height, clip.width]);
  const px = clip.width * clip.height;
  const frameMask = (k: number) => (segs.data as Uint8Array).subarray(k * px, (k + 1) * px);
  return { segs, frameMask, dsc: clip.masks.map((m, k) => dice(frameMask(k), m)) };
}
