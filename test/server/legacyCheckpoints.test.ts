/**
 * Checkpoints an older server left in the shared blob store (before checkpoints/<job>/): a data
 * folder is built the old way — done jobs whose objects' masks stayed in blobs/, a failed job and a
 * running job whose rows still list theirs, a cancelled job whose list was cleared — beside user
 * things that must stay: uploads, a session's label map with the very bytes of a listed
 * checkpoint, a one-object job whose checkpoint is its result, an unlisted mask blob, a listed sha
 * whose blob is not a mask of the job's volume. The sweep removes exactly the provable checkpoints,
 * moves the running job's into its own folder (so it resumes from them), is idempotent, and a real
 * server started on such a folder (127.0.0.1) does it before it serves. No model, no shared data.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { queuedJob } from '../../src/server/jobs/queuedJob.js';
import { BlobStore } from '../../src/server/store/blobStore.js';
import { JobCheckpoints } from '../../src/server/store/jobCheckpoints.js';
import { LEGACY_SWEEP_MARKER, sweepLegacyCheckpoints } from '../../src/server/store/legacyCheckpoints.js';
import type { JobRow } from '../../src/server/store/repository.js';
import { SqliteRepository } from '../../src/server/store/sqliteRepository.js';
import { call, startTestServer } from './harness.js';

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-legacy-ckpt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const DIMS: [number, number, number] = [8, 8, 3];
const N = 8 * 8 * 3;

/** A 0/1 mask with voxels [from, to). */
function mask(from: number, to: number): Uint8Array {
  const m = new Uint8Array(N);
  m.fill(1, from, to);
  return m;
}
/** The old server's bytes for a mask or label map. */
const gz = (m: Uint8Array) => new Uint8Array(gzipSync(m, { level: 1 }));

/** Everything in blobs/. */
function blobNames(dataDir: string): string[] {
  const root = join(dataDir, 'blobs');
  return readdirSync(root)
    .flatMap((d) => readdirSync(join(root, d)))
    .sort();
}

/** An old-layout data folder; returns what must go, what must stay, and the running job's checkpoint. */
async function buildOldStore(dataDir: string, withRunning: boolean) {
  mkdirSync(dataDir);
  const repo = new SqliteRepository(join(dataDir, 'medsam2.sqlite'));
  const blobs = new BlobStore(dataDir);
  const now = new Date().toISOString();
  const uploadSha = blobs.putBytes(new TextEncoder().encode('the uploaded image bytes'));
  await repo.addUpload({
    id: 'u1',
    owner: 'local',
    sha256: uploadSha,
    name: 'ct.nii.gz',
    format: 'nifti',
    bytes: 24,
    dims: DIMS,
    spacing: [1, 1, 1],
    modality: null,
    createdAt: now,
  });
  const job = async (status: JobRow['status'], patch: Partial<JobRow>, request: object = { uploadId: 'u1' }) => {
    const j: JobRow = { ...queuedJob('local', request), kind: 'segment', uploadId: 'u1', model: 'minisam' };
    await repo.addJob(j);
    await repo.updateJob(j.id, { status, ...patch });
    return j.id;
  };
  const objects = (ids: number[]) => ({ slicesSegmented: 3, objects: ids.map((objId) => ({ objId, slices: 1 })), resumedObjects: 0 });

  // Done, two objects (no overlap): both objects' masks stayed in blobs/.
  const [a1, a2] = [mask(0, 20), mask(40, 60)];
  const doneLabels = Uint8Array.from(a1, (v, i) => (v ? 1 : a2[i] ? 2 : 0));
  const goneDone = [blobs.putBytes(gz(a1)), blobs.putBytes(gz(a2))];
  await job('done', { resultSha: blobs.putBytes(gz(doneLabels)), result: objects([1, 2]) });
  // Done, one object 1: its checkpoint has the bytes of its result, which stays.
  const single = mask(100, 130);
  const singleSha = blobs.putBytes(gz(single));
  await job('done', { resultSha: singleSha, result: objects([1]) });
  // Failed: the row still lists its checkpoint.
  const goneFailed = blobs.putBytes(gz(mask(5, 9)));
  await job('failed', { error: 'x', result: { checkpoints: [{ objId: 1, sha: goneFailed, slices: [0], seconds: 1 }] } });
  // A failed job's listed checkpoint with the bytes of a session's stored label map: stays.
  const sessionMask = mask(70, 80);
  const sessionSha = blobs.putBytes(gz(sessionMask));
  await repo.addSession({
    id: 's1',
    owner: 'local',
    uploadId: 'u1',
    model: 'minisam',
    axis: 2,
    window: null,
    status: 'open',
    labelsSha: null,
    labelsAt: 0,
    createdAt: now,
    updatedAt: now,
  });
  await repo.updateSession('s1', { labelsSha: sessionSha, labelsAt: 1 });
  await job('failed', { error: 'x', result: { checkpoints: [{ objId: 1, sha: sessionSha, slices: [1], seconds: 1 }] } });
  // A listed sha whose blob is not a 0/1 mask of the job's volume (another size): stays.
  const otherSize = blobs.putBytes(gz(new Uint8Array(N + 1).fill(1)));
  await job('failed', { error: 'x', result: { checkpoints: [{ objId: 1, sha: otherSize, slices: [0], seconds: 1 }] } });
  // Cancelled by the old server (its list was cleared): its checkpoint cannot be told, so it stays.
  const cancelledLeft = blobs.putBytes(gz(mask(150, 160)));
  await job('cancelled', { error: 'cancelled by local', result: null });
  // A mask blob no row lists: stays.
  const unlisted = blobs.putBytes(gz(mask(1, 2)));
  // Running when the old server stopped: its checkpoint moves to checkpoints/<job>/.
  let running: { id: string; sha: string } | undefined;
  if (withRunning) {
    const sha = blobs.putBytes(gz(mask(30, 35)));
    running = { id: await job('running', { result: { checkpoints: [{ objId: 1, sha, slices: [0], seconds: 1 }] } }), sha };
  }
  await repo.close();
  return {
    gone: [...goneDone, goneFailed, ...(running ? [running.sha] : [])].sort(),
    kept: [uploadSha, singleSha, sessionSha, otherSize, cancelledLeft, unlisted, blobs.putBytes(gz(doneLabels))].sort(),
    running,
  };
}

describe('checkpoints left in the shared blob store by an older server', () => {
  it('go (or move to their running job) exactly; the rest stays; the sweep is idempotent', async () => {
    const dataDir = join(tmp, 'direct');
    const old = await buildOldStore(dataDir, true);
    assert.deepEqual(blobNames(dataDir), [...old.gone, ...old.kept].sort());
    const repo = new SqliteRepository(join(dataDir, 'medsam2.sqlite'));
    const blobs = new BlobStore(dataDir);
    const checkpoints = new JobCheckpoints(dataDir);
    try {
      const r = await sweepLegacyCheckpoints(dataDir, repo, blobs, checkpoints);
      assert.deepEqual([...r.removed].sort(), old.gone);
      assert.deepEqual(r.moved, [{ jobId: old.running!.id, sha: old.running!.sha }]);
      assert.deepEqual(blobNames(dataDir), old.kept, 'only the provable checkpoints left blobs/');
      assert.ok(checkpoints.has(old.running!.id, old.running!.sha), 'the running job resumes from its checkpoint');
      assert.deepEqual(readdirSync(join(dataDir, 'tmp')), [], 'no temp file left');
      assert.ok(existsSync(join(dataDir, LEGACY_SWEEP_MARKER)));
      // Again: skipped by the marker; and without it, nothing more to do.
      assert.deepEqual(await sweepLegacyCheckpoints(dataDir, repo, blobs, checkpoints), { removed: [], moved: [], skipped: true });
      rmSync(join(dataDir, LEGACY_SWEEP_MARKER));
      assert.deepEqual(await sweepLegacyCheckpoints(dataDir, repo, blobs, checkpoints), { removed: [], moved: [], skipped: false });
      assert.deepEqual(blobNames(dataDir), old.kept);
      assert.ok(checkpoints.has(old.running!.id, old.running!.sha));
    } finally {
      await repo.close();
    }
  });

  it('a real server started on an old data folder sweeps it before serving', async () => {
    const dataDir = join(tmp, 'server');
    const old = await buildOldStore(dataDir, false);
    const server = await startTestServer({ dataDir });
    try {
      assert.equal((await call(server.url, 'GET', '/healthz')).status, 200);
      assert.deepEqual(blobNames(dataDir), old.kept);
      assert.equal((await call(server.url, 'GET', '/jobs')).body.length, 6, 'every job row is still listed');
    } finally {
      await server.stop();
    }
  });
});
