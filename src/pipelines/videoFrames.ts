import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { readImage2D } from '../io/imageFile.js';
import { readVideo } from '../io/video.js';
import { pilResizeBicubicU8 } from '../preprocess/pilResize.js';

/** RGB frames of a video or of a folder of pictures, in display order. */
export interface LoadedFrames {
  width: number;
  height: number;
  fps: number;
  /** Interleaved RGB, row-major height × width × 3, one per frame. */
  frames: Uint8Array[];
  /** Frame names: the picture file names for a folder, `00000`, `00001`, … for a video. */
  names: string[];
  kind: 'video' | 'folder';
  source: string;
}

export const FRAME_EXTENSIONS = ['.png', '.jpg', '.jpeg'] as const;

/** Frame rate given to a folder of pictures (it has none of its own). */
export const DEFAULT_FOLDER_FPS = 25;

// Natural order: frame2.jpg before frame10.jpg (plain sort would put 10 first).
const naturalOrder = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** The PNG/JPEG files of a folder in natural sort order (hidden files skipped). */
export function listFrameFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => !f.startsWith('.') && (FRAME_EXTENSIONS as readonly string[]).includes(extname(f).toLowerCase()))
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort((a, b) => naturalOrder.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0));
}

export interface LoadFramesOptions {
  maxFrames?: number;
  fps?: number;
  /** Told what was adjusted (resized frames, renamed masks); default: a `note:` line on stderr. */
  onNote?: (message: string) => void;
}

/**
 * Reads a video file (through the bundled ffmpeg) or a folder of PNG/JPEG frames. Folder frames
 * of another size than the first are resized to the first frame's size (bicubic, per channel),
 * with one note naming how many and the first odd one.
 */
export async function loadFrames(source: string, opts: LoadFramesOptions = {}): Promise<LoadedFrames> {
  if (opts.maxFrames !== undefined && !(Number.isInteger(opts.maxFrames) && opts.maxFrames >= 1)) {
    throw new MedsamError(`maxFrames ${opts.maxFrames} must be a whole number >= 1`, 'e.g. 100');
  }
  if (!existsSync(source))
    throw new MedsamError(`video ${source} does not exist`, 'check the path (a video file or a folder of PNG/JPEG frames)');
  if (statSync(source).isDirectory()) return loadFrameFolder(source, opts);
  const v = await readVideo(source, { maxFrames: opts.maxFrames });
  return {
    width: v.width,
    height: v.height,
    fps: opts.fps ?? v.fps,
    frames: v.frames,
    names: v.frames.map((_, i) => String(i).padStart(5, '0')),
    kind: 'video',
    source,
  };
}

function loadFrameFolder(dir: string, opts: LoadFramesOptions): LoadedFrames {
  const note = opts.onNote ?? ((m: string) => process.stderr.write(`note: ${m}\n`));
  let files = listFrameFiles(dir);
  if (files.length === 0) {
    throw new MedsamError(
      `folder ${dir} has no PNG or JPEG frames`,
      `put the frames in it as ${FRAME_EXTENSIONS.join('/')} files, or pass a video file`,
    );
  }
  if (opts.maxFrames !== undefined) files = files.slice(0, opts.maxFrames);
  const frames: Uint8Array[] = [];
  let width = 0,
    height = 0;
  const resized: string[] = [];
  for (const [i, f] of files.entries()) {
    const img = readImage2D(join(dir, f), { rgb: true });
    if (i === 0) {
      ({ width, height } = img);
      frames.push(img.data);
    } else if (img.width !== width || img.height !== height) {
      resized.push(`${f} (${img.width}x${img.height})`);
      frames.push(resizeRgb(img.data, img.width, img.height, width, height));
    } else {
      frames.push(img.data);
    }
  }
  if (resized.length) {
    note(
      `${resized.length} of ${files.length} frames in ${dir} differ in size from the first (${files[0]}, ${width}x${height}) and were resized to it, e.g. ${resized[0]}`,
    );
  }
  let names = files.map((f) => basename(f, extname(f)));
  if (new Set(names).size !== names.length) {
    names = files.map((_, i) => String(i).padStart(5, '0'));
    note(`frames in ${dir} share names across extensions (e.g. x.png and x.jpg); masks are named by frame index (00000.png, …) instead`);
  }
  return { width, height, fps: opts.fps ?? DEFAULT_FOLDER_FPS, frames, names, kind: 'folder', source: dir };
}

/** Interleaved RGB resized channel by channel (Pillow-exact bicubic). */
function resizeRgb(rgb: Uint8Array, w: number, h: number, outW: number, outH: number): Uint8Array {
  const out = new Uint8Array(outW * outH * 3);
  const plane = new Uint8Array(w * h);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < w * h; i++) plane[i] = rgb[3 * i + c]!;
    const r = pilResizeBicubicU8(plane, w, h, outW, outH);
    for (let i = 0; i < outW * outH; i++) out[3 * i + c] = r[i]!;
  }
  return out;
}
