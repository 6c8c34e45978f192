/**
 * Running batch jobs cancel cooperatively (real server on 127.0.0.1, real data): a video job on
 * the Kvasir polyp clip and a volume job on the CT-lesion case are queued in one model lane with
 * a small volume job behind them. Each is cancelled once it runs: it ends `cancelled` within a
 * bounded wait, the next job then runs (the worker was freed), the cancelled jobs have no result
 * (409 on their downloads) and the blob store holds nothing but the upload(s) and the last job's
 * label map — no partial output, no checkpoint of a cancelled job.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readNpzCase } from '../../src/io/npzFile.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { KVASIR_SKIP, maskBox, polypClipMp4 } from '../pipelines/syntheticVideo.js';
import { SHARED_SKIP, call, croppedLesion } from './harness.js';
import { serverPerFile } from '../helpers/serverHooks.js';

const SKIP = SHARED_SKIP || KVASIR_SKIP;
if (SKIP) process.stdout.write(`# skipping the job cancel test: ${SKIP}\n`);

/** Generous: under load a slice (frame) of the default model takes a few seconds. */
const WAIT_MS = 120_000;

const fx = serverPerFile('medsam2-job-cancel-', SKIP);

async function waitFor(id: string, done: (status: string) => boolean): Promise<any> {
  const t0 = Date.now();
  let j: any;
  while (Date.now() - t0 < WAIT_MS) {
    j = (await call(fx.server.url, 'GET', `/jobs/${id}`)).body;
    if (done(j.status)) return j;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`job ${id} stayed ${j?.status} for ${WAIT_MS} ms: ${JSON.stringify(j)}`);
}

function blobs(): string[] {
  const root = join(fx.server.dataDir, 'blobs');
  return readdirSync(root).flatMap((d) => readdirSync(join(root, d)));
}

describe('cancelling running batch jobs', { skip: SKIP }, () => {
  it('video and volume jobs stop while running, end cancelled with no output, and the queue goes on', async () => {
    const { clip, mp4 } = await polypClipMp4(fx.dir, 11);
    const video = await call(fx.server.url, 'POST', '/uploads?name=clip.mp4', { body: new Uint8Array(readFileSync(mp4)) });
    assert.equal(video.status, 201, JSON.stringify(video.body));
    const crop = await croppedLesion(fx.dir, 6);
    const c = await readNpzCase(crop.path);
    const key = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims });
    const vol = await call(fx.server.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
    assert.equal(vol.status, 201, JSON.stringify(vol.body));
    mkdirSync(join(fx.dir, 'small'));
    const small = await croppedLesion(join(fx.dir, 'small'), 1);
    const up3 = await call(fx.server.url, 'POST', '/uploads?name=small.npz', { body: new Uint8Array(readFileSync(small.path)) });
    assert.equal(up3.status, 201, JSON.stringify(up3.body));

    const submit = async (body: object) => {
      const r = await call(fx.server.url, 'POST', '/jobs', { body });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.id as string;
    };
    const V = await submit({ uploadId: video.body.id, prompts: [{ objId: 1, slice: 0, box: maskBox(clip.masks[0]!, clip.width) }] });
    const A = await submit({ uploadId: vol.body.id, prompts: [{ objId: 1, slice: crop.key, box: key.box }] });
    const B = await submit({ uploadId: up3.body.id, prompts: [{ objId: 1, slice: small.key, box: key.box }] });

    for (const [id, next] of [
      [V, A],
      [A, B],
    ] as const) {
      await waitFor(id, (st) => st === 'running');
      const t0 = Date.now();
      const del = await call(fx.server.url, 'DELETE', `/jobs/${id}`);
      assert.equal(del.status, 200, JSON.stringify(del.body));
      assert.equal(del.body.status, 'cancelled');
      assert.equal(del.body.error, 'cancelled by local');
      // The next job in the lane starts only when the cancelled one has given its worker back.
      const n = await waitFor(next, (st) => st !== 'queued');
      console.log(`# job ${id === V ? 'video' : 'volume'} cancelled while running; the next job started ${Date.now() - t0} ms later`);
      assert.notEqual(n.status, 'failed', JSON.stringify(n));
    }
    const b = await waitFor(B, (st) => st !== 'queued' && st !== 'running');
    assert.equal(b.status, 'done', JSON.stringify(b));

    for (const [id, path] of [
      [V, `/jobs/${V}/video/masks.npz`],
      [A, `/jobs/${A}/result`],
    ]) {
      const j = (await call(fx.server.url, 'GET', `/jobs/${id}`)).body;
      assert.equal(j.status, 'cancelled', 'a cancelled job stays cancelled after its worker stopped');
      assert.equal(j.resultUrl, null);
      assert.equal((await call(fx.server.url, 'GET', path!)).status, 409);
      const row = (await fx.server.repo.job(id!))!;
      assert.equal(row.resultSha, null);
      assert.equal(row.result, null, 'no checkpoints are kept for a cancelled job');
    }
    const kept = new Set<string | null>([(await fx.server.repo.job(B))!.resultSha]);
    for (const u of [video, vol, up3]) kept.add((await fx.server.repo.upload(u.body.id))!.sha256);
    assert.deepEqual(
      blobs().filter((x) => !kept.has(x)),
      [],
      'the store holds the uploads and the finished job’s label map only',
    );
    // Cancelling a finished job changes nothing.
    assert.equal((await call(fx.server.url, 'DELETE', `/jobs/${B}`)).body.status, 'done');
  });
});
