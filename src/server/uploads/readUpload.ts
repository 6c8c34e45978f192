import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { Volume } from '../../io/volume.js';
import type { LoadedFrames } from '../../pipelines/videoFrames.js';
import type { BlobStore } from '../store/blobStore.js';
import type { UploadRow } from '../store/repository.js';
import { isFrameZip } from '../../io/frameZip.js';
import { frameGrid, readUploadedVideo, videoFormatOf, type VideoUploadFormat } from '../video/readUploadedVideo.js';
import { readUploadedVolume, uploadFormat, type UploadFormat, type VolumeLimits } from './readUploadedVolume.js';

/** Every format an upload can have: a volume's, or a video's. */
export type AnyUploadFormat = UploadFormat | VideoUploadFormat;

export type ReadUpload =
  | { kind: 'volume'; format: UploadFormat; volume: Volume }
  | { kind: 'video'; format: VideoUploadFormat; video: LoadedFrames };

function head(path: string): Uint8Array {
  const b = new Uint8Array(512);
  const fd = openSync(path, 'r');
  try {
    return b.subarray(0, readSync(fd, b, 0, 512, 0));
  } finally {
    closeSync(fd);
  }
}

/** The format of a stored upload: the client's choice, else a video by name/magic, else a volume's, a zip of pictures being frames. */
export function detectFormat(path: string, name: string, explicit?: AnyUploadFormat): AnyUploadFormat {
  if (explicit) return explicit;
  const h = head(path);
  const video = videoFormatOf(name, h);
  if (video) return video;
  const f = uploadFormat(name, h);
  if (f === 'dicom-zip' && isFrameZip(new Uint8Array(readFileSync(path)))) return 'frames-zip';
  return f;
}

/** Reads a stored upload (volume or video) within the limits; 4xx HttpErrors for anything else. */
export async function readUpload(
  blobs: BlobStore,
  sha256: string,
  name: string,
  limits: VolumeLimits,
  explicit?: AnyUploadFormat,
): Promise<ReadUpload> {
  const path = blobs.path(sha256);
  const format = detectFormat(path, name, explicit);
  if (format === 'video' || format === 'frames-zip')
    return { kind: 'video', format, video: await readUploadedVideo(path, name, format, limits, blobs.tempPath('-frames')) };
  return { kind: 'volume', format, volume: await readUploadedVolume(path, name, format, limits, blobs.tempPath('-dicom')) };
}

/** The geometry fields of an upload row: a volume's, or a video's frame grid (dims W,H,frames; spacing z = 1/fps). */
export function uploadGeometry(r: ReadUpload, name: string): Pick<UploadRow, 'format' | 'dims' | 'spacing' | 'modality'> {
  if (r.kind === 'video') {
    const g = frameGrid({ width: r.video.width, height: r.video.height, fps: r.video.fps, frameCount: r.video.frames.length }, name);
    return { format: r.format, dims: [...g.dims], spacing: [...g.spacing], modality: null };
  }
  return { format: r.format, dims: [...r.volume.dims], spacing: [...r.volume.spacing], modality: r.volume.modality ?? null };
}
