import type { Volume } from '../../io/volume.js';
import type { BlobStore } from '../store/blobStore.js';
import type { UploadRow } from '../store/repository.js';
import type { ServerLimits } from '../config.js';
import { readUploadedVolume, type UploadFormat } from './readUploadedVolume.js';

/**
 * Parsed upload volumes kept in memory, least recently used dropped first, so a session that is
 * rebuilt or a second session on the same scan does not parse it again. Keyed by content hash.
 */
export class VolumeCache {
  private readonly entries = new Map<string, Promise<Volume>>();

  constructor(
    private readonly blobs: BlobStore,
    private readonly limits: ServerLimits,
    private readonly capacity = 4,
  ) {}

  get(upload: Pick<UploadRow, 'sha256' | 'name' | 'format'>): Promise<Volume> {
    const key = `${upload.sha256}:${upload.format}`;
    let p = this.entries.get(key);
    if (p) {
      this.entries.delete(key);
      this.entries.set(key, p);
      return p;
    }
    p = readUploadedVolume(
      this.blobs.path(upload.sha256),
      upload.name,
      upload.format as UploadFormat,
      this.limits,
      this.blobs.tempPath('-dicom'),
    );
    this.entries.set(key, p);
    p.catch(() => this.entries.delete(key));
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return p;
  }

  /** Seeds the cache with a volume just read (the upload request already parsed it). */
  put(upload: Pick<UploadRow, 'sha256' | 'format'>, v: Volume): void {
    this.entries.set(`${upload.sha256}:${upload.format}`, Promise.resolve(v));
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
  }
}
