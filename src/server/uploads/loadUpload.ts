import type { Volume } from '../../io/volume.js';
import type { LoadedFrames } from '../../pipelines/videoFrames.js';
import { chooseWindow, parseWindow, toUint8 } from '../../preprocess/intensity.js';
import { HttpError } from '../httpError.js';
import type { Repository, UploadRow } from '../store/repository.js';
import { frameGrid, isVideoFormat } from '../video/readUploadedVideo.js';
import type { VolumeCache } from './volumeCache.js';

/**
 * The one "upload → what the model runs on" step that sessions and batch jobs share: the upload
 * row (410 when it is gone), its parsed volume, or for a video its decoded frames plus the frame
 * grid (a voxel-less Volume [width, height, frames]) that label maps are stored on.
 */
export interface LoadedUpload {
  upload: UploadRow;
  /** The source volume, or a video's frame grid. */
  volume: Volume;
  /** A video's RGB frames (undefined for a volume). */
  frames?: LoadedFrames;
}

export async function loadUpload(repo: Repository, volumes: VolumeCache, uploadId: string, user: string): Promise<LoadedUpload> {
  const upload = await repo.upload(uploadId);
  if (!upload) throw new HttpError(410, `the upload of ${user} is gone`, 'upload the image again and start over');
  if (!isVideoFormat(upload.format)) return { upload, volume: await volumes.get(upload) };
  const frames = await volumes.video(upload);
  return {
    upload,
    frames,
    volume: frameGrid({ width: frames.width, height: frames.height, fps: frames.fps, frameCount: frames.frames.length }, upload.name),
  };
}

/** The intensity mapping of a window spec (null/undefined/'auto' = the automatic window), as `medsam2 segment --window`. */
export function intensityFor(window: string | null | undefined): (v: Volume) => Uint8Array {
  const spec = window === null || window === undefined ? 'auto' : parseWindow(window);
  return (v) => toUint8(v, { window: spec === 'auto' ? chooseWindow(v).window : spec });
}
