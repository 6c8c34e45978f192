import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { MedsamError } from '../common/errors.js';
import { runFfmpeg } from './ffmpeg.js';
import { limitsFromEnv } from './fileBytes.js';
import type { ReadLimits } from './readLimits.js';

/** Decoded video: RGB frames (H,W,3 uint8 each) in display order. */
export interface VideoFrames {
  width: number;
  height: number;
  fps: number;
  frames: Uint8Array[];
  source: string;
}

/** Parse "Stream #0:0…: Video: h264 …, 640x480 …, 25 fps" from ffmpeg's banner. */
export function parseVideoStreamInfo(stderr: string): { width: number; height: number; fps: number } | undefined {
  const line = stderr.split('\n').find((l) => /Stream #\d+:\d+.*Video:/.test(l));
  if (!line) return undefined;
  const size = /,\s*(\d{2,5})x(\d{2,5})[\s,[]/.exec(line);
  if (!size) return undefined;
  const fps = /([\d.]+)\s*fps/.exec(line) ?? /([\d.]+)\s*tbr/.exec(line);
  return { width: Number(size[1]), height: Number(size[2]), fps: fps ? Number(fps[1]) : 25 };
}

/**
 * Decode every frame of a video file to RGB through the bundled ffmpeg. At most `limits.maxVoxels`
 * pixels (frames × width × height; default MEDSAM2_MAX_VOXELS or 2^29) are decoded: a file that
 * holds more is refused once ffmpeg has written that much, so a damaged header cannot exhaust memory.
 */
export async function readVideo(path: string, opts: { maxFrames?: number; limits?: ReadLimits } = {}): Promise<VideoFrames> {
  const maxPixels = limitsFromEnv(opts.limits).maxVoxels!;
  if (!existsSync(path)) throw new MedsamError(`video ${path} does not exist`, 'check the path');
  if (statSync(path).size === 0) throw new MedsamError(`video ${path} is empty (0 bytes)`, 'export the video again');
  const args = ['-v', 'info', '-i', path, '-map', '0:v:0'];
  if (opts.maxFrames) args.push('-frames:v', String(opts.maxFrames));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const { stdout, stderr } = await runFfmpeg(args, {
    what: path,
    maxStdout: {
      bytes: maxPixels * 3,
      error: () =>
        new MedsamError(
          `video ${path} decodes to more than ${maxPixels} pixels (frames × width × height)`,
          'read fewer frames, or raise the limit with MEDSAM2_MAX_VOXELS',
        ),
    },
  });
  const info = parseVideoStreamInfo(stderr);
  if (!info) throw new MedsamError(`ffmpeg found no video stream in ${path}`, 'pass a video file with a video track');
  if (info.width < 1 || info.height < 1)
    throw new MedsamError(`video ${path} declares a ${info.width}x${info.height} frame`, 'the file may be damaged; export it again');
  if (!(info.fps > 0) || !Number.isFinite(info.fps))
    throw new MedsamError(`video ${path} declares ${info.fps} frames per second`, 'the file may be damaged; export it again');
  const frameBytes = info.width * info.height * 3;
  const n = Math.floor(stdout.length / frameBytes);
  if (n === 0) throw new MedsamError(`video ${path} decoded to no frames`, 'the file may be truncated; export it again');
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) frames.push(new Uint8Array(stdout.buffer, stdout.byteOffset + i * frameBytes, frameBytes));
  return { ...info, frames, source: path };
}

/**
 * Encode RGB frames as H.264 MP4 (yuv420p, so every player opens it). Written to a temp file
 * beside the target and renamed, so a failure leaves no partial video.
 */
export async function writeVideo(path: string, frames: readonly Uint8Array[], width: number, height: number, fps = 25): Promise<void> {
  if (frames.length === 0) throw new MedsamError(`no frames to write to ${path}`, 'segment at least one frame');
  const dir = dirname(path);
  if (!existsSync(dir))
    throw new MedsamError(`cannot write ${path}: folder ${dir} does not exist`, 'create the folder or choose another output path');
  const ext = extname(path) || '.mp4';
  const tmp = join(dir, `.${basename(path, ext)}.tmp-${process.pid}${ext}`);
  try {
    await runFfmpeg(
      [
        '-v',
        'error',
        '-y',
        '-f',
        'rawvideo',
        '-pix_fmt',
        'rgb24',
        '-s',
        `${width}x${height}`,
        '-r',
        String(fps),
        '-i',
        'pipe:0',
        // yuv420p needs even sizes: pad by one pixel when odd.
        '-vf',
        'pad=ceil(iw/2)*2:ceil(ih/2)*2',
        '-c:v',
        'libx264',
        '-preset',
        'veryfast',
        '-crf',
        '18',
        '-pix_fmt',
        'yuv420p',
        tmp,
      ],
      { input: frames, what: path },
    );
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
