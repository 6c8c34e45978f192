/**
 * Batch jobs leave nothing behind that no row refers to (real server on 127.0.0.1, real data): a
 * two-object job on the cropped CT-lesion case is cancelled over HTTP once its first object is
 * checkpointed, a job queued behind it is cancelled while it waits, and a two-object job after
 * them runs to the end. Then the data folder holds the uploads and the finished job's label map,
 * and no checkpoint at all: the cancelled job's finished object and the done job's two objects
 * are gone with their jobs.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readNpzCase } from '../../src/io/npzFile.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import type { Box } from '../../src/predictor/prompts.js';
import { JobCheckpoints } from '../../src/server/store/jobCheckpoints.js';
import { serverPerFile } from '../helpers/serverHooks.js';
import { SHARED_SKIP, call, croppedLesion } from './harness.js';

/** Generous: under load a slice of the default model takes a few seconds. */
const WAIT_MS = 180_000;

const fx = serverPerFile('medsam2-job-orphans-', SHARED_SKIP);

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const t0 = Date.now();
  let v = await get();
  while (!ok(v)) {
    if (Date.now() - t0 > WAIT_MS) throw new Error(`${what}: still ${JSON.stringify(v)} after ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
    v = await get();
  }
  return v;
}

describe('batch jobs leave no orphan', { skip: SHARED_SKIP }, () => {
  it('cancelled mid-run, cancelled while queued, done: only uploads and the result remain', async () => {
    const crop = await croppedLesion(fx.dir, 3);
    mkdirSync(join(fx.dir, 'small'));
    const small = await croppedLesion(join(fx.dir, 'small'), 1);
    const c = await readNpzCase(crop.path);
    const b = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims }).box!;
    const w = b[2] - b[0];
    const other: Box = [Math.max(0, b[0] - w - 20), b[1], Math.max(w, b[0] - 20), b[3]];
    const upload = async (path: string) => {
      const r = await call(fx.server.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(path)) });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id as string;
    };
    const [u1, u2] = [await upload(crop.path), await upload(small.path)];
    const submit = async (uploadId: string, key: number, objects: Box[]) => {
      const prompts = objects.map((box, i) => ({ objId: i + 1, slice: key, box }));
      const r = await call(fx.server.url, 'POST', '/jobs', { body: { uploadId, prompts } });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.id as string;
    };
    // Job A is cancelled over HTTP from its first checkpoint write (the job waits for that write),
    // so the cancel lands between its two objects however busy the machine is.
    const repo = fx.server.repo;
    const updateJob = repo.updateJob.bind(repo);
    let A = '';
    let cancelA: Promise<{ status: number; body: any }> | undefined;
    const statuses = new Map<string, string[]>();
    repo.updateJob = async (id, patch, whileStatus) => {
      const changed = await updateJob(id, patch, whileStatus);
      if (changed && patch.status) statuses.set(id, [...(statuses.get(id) ?? []), patch.status]);
      if (id === A && !cancelA && (patch.result as { checkpoints?: unknown[] } | null)?.checkpoints?.length === 1) {
        cancelA = call(fx.server.url, 'DELETE', `/jobs/${A}`);
        await cancelA;
      }
      return changed;
    };
    let Q = '';
    let C = '';
    try {
      A = await submit(u1, crop.key, [b, other]);
      Q = await submit(u1, crop.key, [b]);
      C = await submit(u2, small.key, [b, other]);
      const delQ = await call(fx.server.url, 'DELETE', `/jobs/${Q}`);
      assert.equal(delQ.body.status, 'cancelled', 'Q is cancelled while it waits behind A');
      // C runs after A and Q in the one model lane: when it has ended, both gave their worker back.
      await until(
        'job C ends',
        () => repo.job(C),
        (j) => !['queued', 'running'].includes(j!.status),
      );
    } finally {
      repo.updateJob = updateJob;
    }
    assert.ok(cancelA, 'job A checkpointed its first object');
    const delA = await cancelA;
    assert.equal(delA.status, 200, JSON.stringify(delA.body));
    assert.equal(delA.body.status, 'cancelled');
    const row = (id: string) => repo.job(id);
    const done = await row(C);
    assert.equal(done!.status, 'done', JSON.stringify(done));

    assert.deepEqual(statuses.get(Q), ['cancelled'], 'the job cancelled in the queue never ran');
    assert.deepEqual(statuses.get(A), ['running', 'cancelled']);
    for (const id of [A, Q]) {
      const j = (await row(id))!;
      assert.equal(j.status, 'cancelled');
      assert.equal(j.resultSha, null);
      assert.equal(j.result, null);
    }
    const kept = new Set([done!.resultSha]);
    for (const u of [u1, u2]) kept.add((await fx.server.repo.upload(u))!.sha256);
    const root = join(fx.server.dataDir, 'blobs');
    const blobs = readdirSync(root).flatMap((d) => readdirSync(join(root, d)));
    assert.deepEqual(
      blobs.filter((x) => !kept.has(x)),
      [],
      'every blob is an upload or the finished job’s label map',
    );
    const checkpoints = new JobCheckpoints(fx.server.dataDir);
    assert.deepEqual(checkpoints.jobs(), [], 'no job keeps checkpoints once it has ended');
    assert.deepEqual(readdirSync(join(fx.server.dataDir, 'tmp')), [], 'no temp file is left');
  });
});
