import type { UploadRow } from '../store/repository.js';
import { isVideoFormat, uploadFps } from './readUploadedVideo.js';

/** What the upload view adds for a video: kind, frames and fps (a volume: kind only). */
export function uploadKind(u: Pick<UploadRow, 'format' | 'dims' | 'spacing'>): { kind: 'volume' | 'video'; frames?: number; fps?: number } {
  if (!isVideoFormat(u.format)) return { kind: 'volume' };
  return { kind: 'video', frames: u.dims[2], fps: uploadFps(u.spacing) };
}
