import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { writeFileAtomic } from '../../io/atomicWrite.js';
import type { ObjectCheckpoint } from '../jobs/segmentByObject.js';
import { BlobStore } from './blobStore.js';
import type { JobCheckpoints } from './jobCheckpoints.js';
import type { JobRow, Repository } from './repository.js';

/**
 * Job checkpoints a server older than checkpoints/<job>/ (JobCheckpoints) left in the shared blob
 * store. That server stored each object a job finished as gzip (level 1) of its 0/1 mask in blobs/,
 * listed in the job's row (result.checkpoints) while the job ran; when the job ended done, the row's
 * result became the summary, and the blobs stayed, referred to by nothing. Two kinds are provably
 * such checkpoints, and only they are touched:
 *  - a sha listed in a job row's checkpoint list (jobs left queued, running or failed by that
 *    server) whose blob is gzip of a 0/1 mask of exactly the job's upload's voxel count;
 *  - for a done volume job, each object's mask as the old server wrote it, recomputed from the
 *    job's own label map (label == object, 0/1, gzip level 1: exact for every object no later
 *    object overlaps); its blob is found by that sha, so its bytes are that mask.
 * A candidate that any row refers to (an upload, a session's label map, a job's or a project job's
 * result: the store is content-addressed, so a one-object job's checkpoint can be its result) is
 * kept. A job that will be resumed (queued, running) gets its checkpoints moved into its own folder
 * first, so it resumes from them instead of running those objects again. What cannot be recognised
 * is left: checkpoints of jobs the old server cancelled (their list was cleared), and objects whose
 * mask a later object overlapped.
 *
 * Each step is atomic (a checkpoint is stored in the job's folder by temp + rename before its blob
 * is unlinked) and the sweep is idempotent: after a crash part-way it runs again at the next
 * start-up and finds what is left; once it has finished, a marker file in the data folder says so
 * and later start-ups skip it (the new layout never writes checkpoints to blobs/). It runs at
 * start-up before jobs are resumed and before the server listens: one server per data folder.
 */

export const LEGACY_SWEEP_MARKER = 'legacy-checkpoints-swept.json';

export interface LegacySweepResult {
  /** Blobs unlinked from the shared store. */
  removed: string[];
  /** Checkpoints of jobs to be resumed, moved into checkpoints/<job>/. */
  moved: { jobId: string; sha: string }[];
  /** True when a previous start-up had already finished the sweep (nothing was read). */
  skipped: boolean;
}

/** gzip of a 0/1 mask of exactly `voxels` voxels (what the old server wrote as a checkpoint). */
function isMaskOf(bytes: Uint8Array, voxels: number): boolean {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return false;
  let m: Uint8Array;
  try {
    m = gunzipSync(bytes, { maxOutputLength: voxels + 1 });
  } catch {
    return false;
  }
  if (m.length !== voxels) return false;
  for (let i = 0; i < m.length; i++) if (m[i]! > 1) return false;
  return true;
}

function checkpointList(j: JobRow): ObjectCheckpoint[] {
  const list = (j.result as { checkpoints?: unknown } | null)?.checkpoints;
  return Array.isArray(list) ? list.filter((c): c is ObjectCheckpoint => typeof c?.sha === 'string' && BlobStore.isSha256(c.sha)) : [];
}

/**
 * Removes the old layout's checkpoints from `blobs` (see above). `otherReferences` are the shas
 * rows outside `repo` refer to (project jobs' results).
 */
export async function sweepLegacyCheckpoints(
  dataDir: string,
  repo: Repository,
  blobs: BlobStore,
  checkpoints: JobCheckpoints,
  otherReferences: Iterable<string> = [],
): Promise<LegacySweepResult> {
  const marker = join(dataDir, LEGACY_SWEEP_MARKER);
  if (existsSync(marker)) return { removed: [], moved: [], skipped: true };
  const jobs = await repo.listJobs();
  const uploads = await repo.listUploads();
  const referenced = new Set<string>(otherReferences);
  for (const u of uploads) referenced.add(u.sha256);
  for (const s of await repo.listSessions()) if (s.labelsSha) referenced.add(s.labelsSha);
  for (const j of jobs) if (j.resultSha) referenced.add(j.resultSha);
  const voxelsOf = new Map(uploads.map((u) => [u.id, u.dims[0] * u.dims[1] * u.dims[2]]));
  // A blob that cannot be read is left as it is (housekeeping never stops the server starting).
  const read = (sha: string): Uint8Array | undefined => {
    try {
      return new Uint8Array(readFileSync(blobs.path(sha)));
    } catch {
      return undefined;
    }
  };

  const removed: string[] = [];
  const moved: { jobId: string; sha: string }[] = [];
  const unlink = (sha: string) => {
    if (referenced.has(sha) || !blobs.has(sha)) return;
    blobs.remove(sha);
    removed.push(sha);
  };
  for (const j of jobs) {
    if ((j.request as { video?: boolean } | null)?.video) continue; // video jobs never had checkpoints
    const voxels = voxelsOf.get(j.uploadId);
    if (voxels === undefined) continue;
    // Listed checkpoints (a job the old server left queued, running or failed).
    for (const c of checkpointList(j)) {
      if (referenced.has(c.sha) || !blobs.has(c.sha)) continue;
      const bytes = read(c.sha);
      if (!bytes || !isMaskOf(bytes, voxels)) continue;
      if (j.status === 'queued' || j.status === 'running') {
        if (!checkpoints.has(j.id, c.sha) && checkpoints.put(j.id, bytes) !== c.sha) continue;
        moved.push({ jobId: j.id, sha: c.sha });
      }
      unlink(c.sha);
    }
    // A done job's objects, recomputed from its label map.
    const objects = (j.result as { objects?: { objId?: unknown }[] } | null)?.objects;
    if (j.status !== 'done' || !j.resultSha || !Array.isArray(objects) || !blobs.has(j.resultSha)) continue;
    let labels: Uint8Array;
    try {
      labels = gunzipSync(read(j.resultSha) ?? new Uint8Array(), { maxOutputLength: voxels + 1 });
    } catch {
      continue;
    }
    if (labels.length !== voxels) continue; // (an unreadable result gunzips to nothing)
    for (const o of objects) {
      if (typeof o?.objId !== 'number') continue;
      const mask = Uint8Array.from(labels, (v) => (v === o.objId ? 1 : 0));
      unlink(BlobStore.sha256(gzipSync(mask, { level: 1 })));
    }
  }
  writeFileAtomic(
    marker,
    new TextEncoder().encode(`${JSON.stringify({ sweptAt: new Date().toISOString(), removed: removed.length, moved: moved.length })}\n`),
  );
  return { removed, moved, skipped: false };
}
