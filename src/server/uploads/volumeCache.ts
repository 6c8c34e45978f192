import type { Volume } from '../../io/volume.js';
import type { LoadedFrames } from '../../pipelines/videoFrames.js';
import type { BlobStore } from '../store/blobStore.js';
import type { UploadRow } from '../store/repository.js';
import type { ServerLimits } from '../config.js';
import { HttpError } from '../httpError.js';
import { isVideoFormat, readUploadedVideo } from '../video/readUploadedVideo.js';
import { readUploadedVolume, type UploadFormat } from './readUploadedVolume.js';

type Upload = Pick<UploadRow, 'sha256' | 'name' | 'format'>;

/**
 * Parsed uploads (volumes, and the RGB frames of videos) kept in memory, least recently used
 * dropped first, so a session that is rebuilt or a second session on the same upload does not
 * parse or decode it again. Keyed by content hash and format.
 */
export class VolumeCache {
  private readonly entries = new Map<string, Promise<Volume | LoadedFrames>>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly limits: ServerLimits,
    private readonly capacity = 4,
  ) {}

  private cached<T extends Volume | LoadedFrames>(upload: Upload, read: () => Promise<T>): Promise<T> {
    const key = `${upload.sha256}:${upload.format}`;
    let p = this.entries.get(key);
    if (p) {
      this.entries.delete(key);
      this.entries.set(key, p);
      return p as Promise<T>;
    }
    p = read();
    this.entries.set(key, p);
    p.catch(() => this.entries.delete(key));
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return p as Promise<T>;
  }

  /** The volume of a volume upload (a video upload is a 400: it has frames, not a volume). */
  get(upload: Upload): Promise<Volume> {
    if (isVideoFormat(upload.format))
      return Promise.reject(
        new HttpError(400, `upload '${upload.name}' is a video, not a volume`, 'segment videos in a session (POST /sessions)'),
      );
    return this.cached(upload, () =>
      readUploadedVolume(
        this.blobs.path(upload.sha256),
        upload.name,
        upload.format as UploadFormat,
        this.limits,
        this.blobs.tempPath('-dicom'),
      ),
    );
  }

  /** The RGB frames of a video upload. */
  video(upload: Upload): Promise<LoadedFrames> {
    if (!isVideoFormat(upload.format))
      return Promise.reject(new HttpError(400, `upload '${upload.name}' is a ${upload.format} volume, not a video`, 'upload a video'));
    return this.cached(upload, () =>
      readUploadedVideo(this.blobs.path(upload.sha256), upload.name, upload.format as 'video', this.limits, this.blobs.tempPath('-frames')),
    );
  }

  /** Seeds the cache with what the upload request already parsed. */
  put(upload: Pick<UploadRow, 'sha256' | 'format'>, v: Volume | LoadedFrames): void {
    this.entries.set(`${upload.sha256}:${upload.format}`, Promise.resolve(v));
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}
