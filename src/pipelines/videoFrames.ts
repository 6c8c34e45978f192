import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { readImage2D } from '../io/imageFile.js';
import { readVideo } from '../io/video.js';

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

/**
 * Reads a video file (through the bundled ffmpeg) or a folder of PNG/JPEG frames. All folder
 * frames must have the same size; the first odd one is named in the error.
 */
export async function loadFrames(source: string, opts: { maxFrames?: number; fps?: number } = {}): Promise<LoadedFrames> {
  if (opts.maxFrames !== undefined && !(Number.isInteger(opts.maxFrames) && opts.maxFrames >= 1)) {
    throw new MedsamError(`maxFrames ${opts.maxFrames} must be a whole number >= 1`, 'e.g. 100');
  }
  if (!existsSync(source)) throw new MedsamError(`video ${source} does not exist`, 'check the path (a video file or a folder of PNG/JPEG frames)');
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

function loadFrameFolder(dir: string, opts: { maxFrames?: number; fps?: number }): LoadedFrames {
  let files = listFrameFiles(dir);
  if (files.length === 0) {
    throw new MedsamError(`folder ${dir} has no PNG or JPEG frames`, `put the frames in it as ${FRAME_EXTENSIONS.join('/')} files, or pass a video file`);
  }
  if (opts.maxFrames !== undefined) files = files.slice(0, opts.maxFrames);
  const frames: Uint8Array[] = [];
  let width = 0, height = 0;
  for (const [i, f] of files.entries()) {
    const img = readImage2D(join(dir, f), { rgb: true });
    if (i === 0) {
      ({ width, height } = img);
    } else if (img.width !== width || img.height !== height) {
      throw new MedsamError(`frame ${f} in ${dir} is ${img.width}x${img.height}, but ${files[0]} is ${width}x${height}`,
        'all frames of a video must have the same size; remove or resize the odd file');
    }
    frames.push(img.data);
  }
  return {
    width, height, fps: opts.fps ?? DEFAULT_FOLDER_FPS, frames,
    names: files.map((f) => basename(f, extname(f))), kind: 'folder', source: dir,
  };
}
