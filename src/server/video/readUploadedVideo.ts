import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MedsamError } from '../../common/errors.js';
import { runFfmpeg } from '../../io/ffmpeg.js';
import { parseVideoStreamInfo, readVideo } from '../../io/video.js';
import { IDENTITY_DIRECTION, type Volume } from '../../io/volume.js';
import { ZipArchive } from '../../io/zip.js';
import { FRAME_NAME, zipMembers } from '../../io/frameZip.js';
import { loadFrames, type LoadedFrames } from '../../pipelines/videoFrames.js';
import { HttpError, fromMedsamError } from '../httpError.js';
import type { VolumeLimits } from '../uploads/readUploadedVolume.js';

/**
 * Turns a stored video upload (an mp4/avi/mov/mkv/webm file, or a zip of PNG/JPEG frames) into RGB
 * frames within the server's limits. Nothing is decoded before its size is known: a video file is
 * first demuxed by the bundled ffmpeg without decoding (`-c copy -f null`), which gives the stream's
 * size and its exact frame count; a zip's members are counted by name and each picture's size is
 * read from its PNG/JPEG header. The limits reuse the volume ones: frames and each side ≤
 * maxSlices, frames × width × height ≤ maxVoxels (the frames are held as RGB, 3 bytes a pixel).
 * The decode is still capped at maxSlices + 1 frames, in case the demuxer's count was wrong.
 */

export type VideoUploadFormat = 'video' | 'frames-zip';
export const VIDEO_UPLOAD_FORMATS: readonly VideoUploadFormat[] = ['video', 'frames-zip'];

export function isVideoFormat(format: string): format is VideoUploadFormat {
  return (VIDEO_UPLOAD_FORMATS as readonly string[]).includes(format);
}

const VIDEO_NAME = /\.(mp4|m4v|mov|avi|mkv|webm)$/i;

/** 'video' by extension or by container magic (ISO BMFF 'ftyp', RIFF AVI, Matroska/WebM EBML); else undefined. */
export function videoFormatOf(name: string, head: Uint8Array): VideoUploadFormat | undefined {
  if (VIDEO_NAME.test(name)) return 'video';
  const ascii = (a: number, b: number) => String.fromCharCode(...head.subarray(a, b));
  if (head.length >= 12 && ascii(4, 8) === 'ftyp') return 'video';
  if (head.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 11) === 'AVI') return 'video';
  if (head.length >= 4 && head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'video';
  return undefined;
}

function tooBig(what: string, limit: number, flag: string): HttpError {
  return new HttpError(
    413,
    `${what} exceeds the server's limit of ${limit}`,
    `send a shorter or smaller video or ask the admin to raise ${flag}`,
  );
}

function checkSize(name: string, width: number, height: number, frames: number, limits: VolumeLimits): void {
  if (frames > limits.maxSlices) throw tooBig(`upload '${name}' has ${frames} frames, which`, limits.maxSlices, '--max-slices');
  if (Math.max(width, height) > limits.maxSlices)
    throw tooBig(`upload '${name}' has ${width}x${height} frames, whose longest side`, limits.maxSlices, '--max-slices');
  const px = width * height * frames;
  if (px > limits.maxVoxels)
    throw tooBig(`upload '${name}' has ${frames} frames of ${width}x${height} = ${px} pixels, which`, limits.maxVoxels, '--max-voxels');
}

/** Width × height of a PNG (IHDR) or baseline/progressive JPEG (first SOFn) from its header bytes. */
export function pictureSize(b: Uint8Array): { width: number; height: number } | undefined {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47)
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return undefined;
      const marker = b[i + 1]!;
      if (marker === 0xff) {
        i++;
        continue;
      }
      const len = dv.getUint16(i + 2);
      // SOF0..SOF15 except DHT (C4), JPG (C8), DAC (CC): height then width.
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
        return { height: dv.getUint16(i + 5), width: dv.getUint16(i + 7) };
      i += 2 + len;
    }
  }
  return undefined;
}

/** Stream size, fps and frame count of a video file by demuxing it without decoding. */
async function probeVideo(path: string, name: string): Promise<{ width: number; height: number; fps: number; frames: number }> {
  const { stderr } = await runFfmpeg(['-v', 'info', '-i', path, '-map', '0:v:0', '-c', 'copy', '-f', 'null', '-'], {
    what: `upload '${name}'`,
  });
  const info = parseVideoStreamInfo(stderr);
  if (!info)
    throw new HttpError(400, `upload '${name}' has no video stream`, 'upload a video file with a video track (mp4, avi, mov, mkv)');
  const counts = [...stderr.matchAll(/frame=\s*(\d+)/g)];
  const frames = counts.length ? Number(counts[counts.length - 1]![1]) : 0;
  if (frames === 0) throw new HttpError(400, `upload '${name}' holds no video frames`, 'the file may be truncated; export it again');
  return { ...info, frames };
}

async function readVideoFile(path: string, name: string, limits: VolumeLimits): Promise<LoadedFrames> {
  const p = await probeVideo(path, name);
  checkSize(name, p.width, p.height, p.frames, limits);
  const v = await readVideo(path, { maxFrames: limits.maxSlices + 1, limits: { maxVoxels: limits.maxVoxels } });
  checkSize(name, v.width, v.height, v.frames.length, limits);
  return {
    width: v.width,
    height: v.height,
    fps: v.fps,
    frames: v.frames,
    names: v.frames.map((_, i) => String(i).padStart(5, '0')),
    kind: 'video',
    source: name,
  };
}

// Natural order, as a folder of frames is read (frame2 before frame10).
const naturalOrder = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

async function readFrameZip(path: string, name: string, limits: VolumeLimits, scratch: string): Promise<LoadedFrames> {
  let zip: ZipArchive;
  try {
    zip = ZipArchive.open(new Uint8Array(readFileSync(path)), `upload '${name}'`);
  } catch (e) {
    throw e instanceof MedsamError ? fromMedsamError(e) : e;
  }
  const files = zipMembers(zip).sort((a, b) => naturalOrder.compare(a, b) || (a < b ? -1 : 1));
  if (files.length === 0) throw new HttpError(400, `upload '${name}' holds no PNG/JPEG frames`, 'zip the frames of one video');
  if (files.length > limits.maxSlices) throw tooBig(`upload '${name}' has ${files.length} frames, which`, limits.maxSlices, '--max-slices');
  let declared = 0;
  for (const f of files) {
    declared += zip.entries.get(f)!.size;
    if (declared > limits.maxDecompressedBytes)
      throw tooBig(
        `upload '${name}' decompresses to more than ${limits.maxDecompressedBytes} bytes, which`,
        limits.maxDecompressedBytes,
        '--max-decompressed-bytes',
      );
  }
  mkdirSync(scratch, { recursive: true });
  try {
    // Generated file names only: no member name becomes a path. Every picture's header is checked
    // before any is decoded (each is decoded at its own size, then resized to the first's).
    let first: { width: number; height: number } | undefined;
    files.forEach((f, i) => {
      const bytes = zip.read(f);
      const size = pictureSize(bytes);
      if (!size) throw new HttpError(400, `frame '${f}' of upload '${name}' is not a readable PNG or JPEG`, 'zip PNG/JPEG frames only');
      checkSize(name, size.width, size.height, 1, limits);
      first ??= size;
      writeFileSync(join(scratch, `${String(i).padStart(6, '0')}${f.toLowerCase().endsWith('.png') ? '.png' : '.jpg'}`), bytes);
    });
    checkSize(name, first!.width, first!.height, files.length, limits);
    const v = await loadFrames(scratch, { onNote: () => {} });
    const base = files.map((f) => f.split('/').pop()!.replace(FRAME_NAME, ''));
    const names = new Set(base).size === base.length ? base : v.names;
    return { ...v, names, source: name };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * Reads a stored video upload. `blobPath` (and `scratch`) never appear in what a client sees:
 * library errors naming them are rewritten to name the upload.
 */
export async function readUploadedVideo(
  blobPath: string,
  name: string,
  format: VideoUploadFormat,
  limits: VolumeLimits,
  scratch: string,
): Promise<LoadedFrames> {
  const hide = (m: string) => m.split(scratch).join(`upload '${name}'`).split(blobPath).join(`upload '${name}'`);
  try {
    return format === 'video' ? await readVideoFile(blobPath, name, limits) : await readFrameZip(blobPath, name, limits, scratch);
  } catch (e) {
    if (e instanceof HttpError) throw new HttpError(e.status, hide(e.message), e.fix);
    if (e instanceof MedsamError) {
      const h = fromMedsamError(e);
      throw new HttpError(400, hide(h.message), h.fix);
    }
    throw new HttpError(400, `upload '${name}' cannot be read as ${format}: ${hide((e as Error).message ?? String(e))}`, 'check the file');
  }
}

/** A video's frame grid as a Volume (x = column, y = row, z = frame, no voxels): what its label maps are stored on. */
export function frameGrid(v: { width: number; height: number; fps: number; frameCount: number }, name: string): Volume {
  return {
    data: new Uint8Array(0),
    dims: [v.width, v.height, v.frameCount],
    // z spacing = seconds per frame: the upload row keeps the frame rate without a new column.
    spacing: [1, 1, 1 / v.fps],
    origin: [0, 0, 0],
    direction: [...IDENTITY_DIRECTION],
    source: { format: 'png', path: name },
  };
}

/** Frames per second of a video upload row (see frameGrid). */
export function uploadFps(spacing: readonly number[]): number {
  return Math.round((1 / spacing[2]!) * 1000) / 1000;
}
