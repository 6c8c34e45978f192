/**
 * GET /sessions/{id}/slices/{k} reads one slice of the session's label map, which is built once
 * per change (not once per request). On the cropped CT-lesion case with the default model, after
 * a box + propagation, an undo and a redo, every slice read equals that slice of the label map
 * downloaded at the same moment (largest 3D component and all), the undo empties the propagated
 * slices, the redo brings back exactly the same masks, and reading every slice and downloading
 * costs at most one label-map build per change (a second pass: none).
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { readNpzBytes } from '../../src/io/npz.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { decodeRle } from '../../src/server/rle.js';
import { SHARED_SKIP, call, croppedLesion } from './harness.js';
import { serverPerFile } from '../helpers/serverHooks.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

const fx = serverPerFile('medsam2-slice-reads-', SHARED_SKIP);

describe('slice reads of a live session', { skip: SHARED_SKIP }, () => {
  it('every slice equals the downloaded label map after a prompt + propagation, an undo and a redo; one build per change', async () => {
    const crop = await croppedLesion(fx.dir);
    const c = await readNpzCase(crop.path);
    const [nx, ny, nz] = c.image.dims;
    const key = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims });
    const up = await call(fx.server.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const ses = await call(fx.server.url, 'POST', '/sessions', { body: { uploadId: up.body.id } });
    const id = ses.body.id as string;

    /** All slices as GET …/slices/{k} gives them (label values per pixel), and the label map downloaded after them. */
    const readOnce = async (): Promise<{ slices: Uint8Array; download: Uint8Array }> => {
      const slices = new Uint8Array(nx * ny * nz);
      for (let k = 0; k < nz; k++) {
        const r = await call(fx.server.url, 'GET', `/sessions/${id}/slices/${k}`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.deepEqual([r.body.rows, r.body.cols], [ny, nx]);
        for (const o of r.body.objects as { objId: number; area: number; mask: any }[]) {
          const m = decodeRle(o.mask, ny, nx);
          assert.equal(
            m.reduce((a, b) => a + b, 0),
            o.area,
          );
          for (let i = 0; i < m.length; i++) if (m[i]) slices[k * nx * ny + i] = o.objId;
        }
      }
      const d = await call(fx.server.url, 'GET', `/sessions/${id}/labelmap?format=npz`);
      assert.equal(d.status, 200);
      return { slices, download: Uint8Array.from(readNpzBytes(d.body as Uint8Array).segs!.data as ArrayLike<number>) };
    };
    /**
     * Reads everything twice: the first pass builds the label map at most once (none when the
     * debounced save built it first), the second builds nothing; both passes agree.
     */
    const readAll = async (what: string): Promise<{ slices: Uint8Array; download: Uint8Array }> => {
      const b0 = fx.server.sessions.labelMapBuilds;
      const first = await readOnce();
      const b1 = fx.server.sessions.labelMapBuilds;
      assert.ok(b1 - b0 <= 1, `${what}: ${nz} slice reads and a download built the label map ${b1 - b0} times`);
      const second = await readOnce();
      assert.equal(fx.server.sessions.labelMapBuilds, b1, `${what}: reading again rebuilt the label map`);
      assert.deepEqual(second, first);
      assert.deepEqual(first.slices, first.download, `${what}: the slices are the downloaded label map's`);
      return first;
    };
    const area = (a: Uint8Array, k: number) => a.subarray(k * nx * ny, (k + 1) * nx * ny).reduce((x, v) => x + (v ? 1 : 0), 0);

    const p = await call(fx.server.url, 'POST', `/sessions/${id}/prompts`, { body: { objId: 1, slice: key.slice, box: key.box } });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    const pr = await call(fx.server.url, 'POST', `/sessions/${id}/propagate`, { body: {} });
    assert.equal(pr.status, 200, JSON.stringify(pr.body));
    const propagated = await readAll('after the propagation');
    const reached = [...Array(nz).keys()].filter((k) => area(propagated.slices, k) > 0);
    assert.ok(reached.length >= 3, `propagated to slices ${reached}`);

    assert.deepEqual((await call(fx.server.url, 'POST', `/sessions/${id}/undo`)).body, { undone: true });
    const undone = await readAll('after the undo');
    assert.deepEqual(
      [...Array(nz).keys()].filter((k) => area(undone.slices, k) > 0),
      [key.slice],
      'the undo took the propagation back: only the prompted slice has a mask',
    );

    assert.deepEqual((await call(fx.server.url, 'POST', `/sessions/${id}/redo`)).body, { redone: true });
    const redone = await readAll('after the redo');
    assert.deepEqual(redone.slices, propagated.slices, 'the redo brought back the same masks');
  });

  it('reads a coronal or sagittal plane with ?axis=: a coronal prompt reads back as drawn; a bad axis or an unknown parameter is a 400', async () => {
    const crop = await croppedLesion(fx.dir);
    const c = await readNpzCase(crop.path);
    const dims = c.image.dims;
    const [nx, ny, nz] = dims;
    const ref = Uint8Array.from(c.label!.data as ArrayLike<number>, (v) => (v ? 1 : 0));
    // The coronal plane through the lesion's middle row, and the lesion's tight box there (x = column, z = row).
    const rows = [...Array(ny).keys()].filter((y) => extractSlice(ref, dims, 1, y).some((v) => v));
    const Y = rows[rows.length >> 1]!;
    const plane = extractSlice(ref, dims, 1, Y);
    let [x0, z0, x1, z1] = [nx, nz, -1, -1];
    plane.forEach((v, i) => {
      if (!v) return;
      const [x, z] = [i % nx, Math.floor(i / nx)];
      [x0, z0, x1, z1] = [Math.min(x0, x), Math.min(z0, z), Math.max(x1, x), Math.max(z1, z)];
    });
    const up = await call(fx.server.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
    const id = (await call(fx.server.url, 'POST', '/sessions', { body: { uploadId: up.body.id } })).body.id as string;
    const p = await call(fx.server.url, 'POST', `/sessions/${id}/prompts`, {
      body: { objId: 1, slice: Y, axis: 1, box: [x0, z0, x1, z1] },
    });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.ok(p.body.area > 0, 'the coronal box segmented something');
    const download = async () =>
      Uint8Array.from(
        readNpzBytes((await call(fx.server.url, 'GET', `/sessions/${id}/labelmap?format=npz`)).body as Uint8Array).segs!
          .data as ArrayLike<number>,
      );
    const labels = await download();

    // The coronal plane Y (it counts along y: it may exceed the axial slice count).
    const r = await call(fx.server.url, 'GET', `/sessions/${id}/slices/${Y}?axis=1`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual([r.body.slice, r.body.axis, r.body.rows, r.body.cols], [Y, 1, nz, nx]);
    assert.equal(r.body.objects.length, 1);
    assert.deepEqual(r.body.objects[0].mask, p.body.mask, 'the plane reads back as the prompt answered it');
    assert.deepEqual(decodeRle(r.body.objects[0].mask, nz, nx), extractSlice(labels, dims, 1, Y), "the label map's coronal plane");
    // A sagittal plane through the box, and the session's own axis (the default) named or not.
    const X = (x0 + x1) >> 1;
    const sag = await call(fx.server.url, 'GET', `/sessions/${id}/slices/${X}?axis=0`);
    assert.equal(sag.status, 200, JSON.stringify(sag.body));
    assert.deepEqual([sag.body.axis, sag.body.rows, sag.body.cols], [0, nz, ny]);
    const sagMask = new Uint8Array(nz * ny);
    for (const o of sag.body.objects) decodeRle(o.mask, nz, ny).forEach((v: number, i: number) => v && (sagMask[i] = o.objId));
    assert.deepEqual(sagMask, extractSlice(labels, dims, 0, X));
    assert.ok(
      sagMask.some((v) => v),
      'the sagittal plane crosses the coronal mask',
    );
    const k = z0;
    assert.deepEqual(
      (await call(fx.server.url, 'GET', `/sessions/${id}/slices/${k}?axis=2`)).body,
      (await call(fx.server.url, 'GET', `/sessions/${id}/slices/${k}`)).body,
    );
    // Refused, not ignored: an axis that is not one, an unknown parameter, a slice past that axis.
    for (const q of ['axis=3', 'axis=x', 'plane=1'])
      assert.equal((await call(fx.server.url, 'GET', `/sessions/${id}/slices/0?${q}`)).status, 400, q);
    const past = await call(fx.server.url, 'GET', `/sessions/${id}/slices/${nx}?axis=0`);
    assert.equal(past.status, 400);
    assert.match(past.body.error, new RegExp(`outside the volume along axis 0 \\(0\\.\\.${nx - 1}\\)`));
  });
});
