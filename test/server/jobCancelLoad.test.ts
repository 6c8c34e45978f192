/**
 * A batch job cancelled over HTTP while its model loads (real server on 127.0.0.1, real data).
 * The load is made observable with a latch, not a sleep: the job's model pool acquire (the load)
 * starts, and the DELETE is sent and answered before the load's result is handed back to the
 * job, so the cancel lands inside the load however busy the machine is. The job then ends
 * `cancelled` with no result and no checkpoint folder, /metrics counts not one ONNX Runtime run
 * (nothing was encoded after the load), and the next job on the same server runs to `done`.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readNpzCase } from '../../src/io/npzFile.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { JobCheckpoints } from '../../src/server/store/jobCheckpoints.js';
import { ModelPool } from '../../src/session/modelPool.js';
import { serverPerFile } from '../helpers/serverHooks.js';
import { SHARED_SKIP, call, croppedLesion } from './harness.js';

/** Generous: under load a slice of the default model takes a few seconds. */
const WAIT_MS = 180_000;

const fx = serverPerFile('medsam2-job-cancel-load-', SHARED_SKIP);

async function ended(id: string): Promise<any> {
  const t0 = Date.now();
  for (;;) {
    const j = (await call(fx.server.url, 'GET', `/jobs/${id}`)).body;
    if (!['queued', 'running'].includes(j.status)) return j;
    if (Date.now() - t0 > WAIT_MS) throw new Error(`job ${id} still ${j.status} after ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Every ORT run of this server, from /metrics (all modules of the default model). */
async function ortRuns(): Promise<number> {
  const text = await (await fetch(`${fx.server.url}/metrics`)).text();
  let n = 0;
  for (const m of text.matchAll(/^medsam2_ort_run_seconds_count\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
  return n;
}

describe('a batch job cancelled during its model load', { skip: SHARED_SKIP }, () => {
  it('ends cancelled with no result, no checkpoint and no ORT run; the next job runs', async () => {
    const crop = await croppedLesion(fx.dir, 1);
    const c = await readNpzCase(crop.path);
    const box = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims }).box!;
    const up = await call(fx.server.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const submit = async () => {
      const r = await call(fx.server.url, 'POST', '/jobs', {
        body: {
          uploadId: up.body.id,
          prompts: [
            { objId: 1, slice: crop.key, box },
            { objId: 2, slice: crop.key + 1, box },
          ],
        },
      });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      return r.body.id as string;
    };

    // The latch: the first model load this test sees cancels job A over HTTP and waits for the
    // answer before handing the loaded model back.
    // The job may start loading before the POST's answer reaches this test (a busy machine), so
    // the latch waits for A's id rather than skipping a load that comes first.
    const acquire = ModelPool.prototype.acquire;
    let A = '';
    let knowA: (id: string) => void = () => {};
    const aKnown = new Promise<string>((r) => {
      knowA = r;
    });
    let cancelA: Promise<{ status: number; body: any }> | undefined;
    let loadsSeen = 0;
    ModelPool.prototype.acquire = async function (this: ModelPool, ...args: Parameters<ModelPool['acquire']>) {
      const loading = acquire.apply(this, args);
      loading.catch(() => {}); // awaited below; no unhandled rejection while the cancel is answered
      loadsSeen++;
      if (!cancelA) {
        cancelA = aKnown.then((id) => call(fx.server.url, 'DELETE', `/jobs/${id}`));
        await cancelA;
      }
      return loading;
    };
    let before = 0;
    let job: any;
    try {
      before = await ortRuns();
      A = await submit();
      knowA(A);
      job = await ended(A);
    } finally {
      ModelPool.prototype.acquire = acquire;
    }
    assert.ok(cancelA, `job A loaded a model (${loadsSeen} load(s) seen) and was cancelled during it`);
    const del = await cancelA;
    assert.equal(del.status, 200, JSON.stringify(del.body));
    assert.equal(del.body.status, 'cancelled', 'the DELETE answered while the model loaded says cancelled');
    assert.equal(job.status, 'cancelled', JSON.stringify(job));
    assert.equal(job.result, null);
    assert.equal(job.resultUrl, null);
    assert.equal(await ortRuns(), before, 'no ONNX Runtime run after a cancel during the load');
    const row = (await fx.server.repo.job(A))!;
    assert.equal(row.resultSha, null, 'no result stored');
    assert.equal(row.result, null, 'no checkpoint list kept');
    assert.equal((await call(fx.server.url, 'GET', `/jobs/${A}/result`)).status, 409);
    assert.deepEqual(new JobCheckpoints(fx.server.dataDir).jobs(), [], 'no checkpoint folder');

    // The worker was given back: the next job on the same server runs to the end.
    const B = await submit();
    const b = await ended(B);
    assert.equal(b.status, 'done', JSON.stringify(b));
    assert.ok((await ortRuns()) > before, 'job B ran the model');
    const res = await call(fx.server.url, 'GET', `/jobs/${B}/result`);
    assert.equal(res.status, 200);
    assert.ok((res.body as Uint8Array).length > 0);
    assert.deepEqual(new JobCheckpoints(fx.server.dataDir).jobs(), [], 'the done job dropped its checkpoints');
  });
});
