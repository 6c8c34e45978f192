import { readNpzCase } from '../../io/npzFile.js';
import { MedsamError } from '../../common/errors.js';
import type { LoadedCase } from '../../pipelines/loadCase.js';
import type { ServerLimits } from '../config.js';
import type { BlobStore } from '../store/blobStore.js';
import type { Repository } from '../store/repository.js';
import type { VolumeCache } from '../uploads/volumeCache.js';

/**
 * Project cases made on the server point at an upload (`upload:<id>`), never at a client path:
 * the image is read from the content-addressed store as sessions read it (the volume cache), and
 * a MedSAM2 .npz upload also gives its reference label and RECIST marks (pre-annotation prompts).
 */

const PREFIX = 'upload:';

export function uploadSource(uploadId: string): string {
  return `${PREFIX}${uploadId}`;
}

/** The upload id of a server case's source, or null for a file case (made by the CLI). */
export function uploadIdOf(source: string): string | null {
  return source.startsWith(PREFIX) ? source.slice(PREFIX.length) : null;
}

export function uploadCaseLoader(
  repo: Repository,
  blobs: BlobStore,
  volumes: VolumeCache,
  limits: ServerLimits,
): (source: string) => Promise<LoadedCase> {
  return async (source) => {
    const id = uploadIdOf(source);
    if (id === null)
      throw new MedsamError(
        'this case was added from a file, which the server does not read',
        'open it with the CLI, or add it from an upload',
      );
    const u = await repo.upload(id);
    if (!u || !blobs.has(u.sha256))
      throw new MedsamError(`the upload ${id} of this case is gone`, 'upload the image again and add it as a new case');
    const image = await volumes.get(u);
    if (u.format !== 'npz') return { image };
    const c = await readNpzCase(blobs.path(u.sha256), { maxVoxels: limits.maxVoxels });
    return { image, label: c.label, recist: c.recist };
  };
}
