import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeNifti } from '../../src/io/niftiWrite.js';
import { decodeRle } from '../../src/server/rle.js';
import { Session } from '../../src/session/index.js';
import { editEntry, volume } from '../session/editFamily.js';
import { call, errorShape, startTestServer, type TestServer } from './harness.js';

/**
 * POST /sessions/:id/redo and /sessions/:id/edits on a real listening server, with a fake model
 * family (no ORT: the Session, the log and its replay are what is under test): redo after undo,
 * a brush stroke and an eraser stroke as literal edits, and the log replayed after the session
 * leaves memory (what a restart after kill -9 does) giving back the same masks and redo stack.
 */
describe('medsam2 serve: redo and brush/eraser edits', () => {
  let s: TestServer;
  let dir: string;
  let sid: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medsam2-redo-'));
    s = await startTestServer({}, (v, opts) => Session.open(v, { ...opts, model: editEntry }));
    const nii = encodeNifti(volume(), join(dir, 'tiny.nii'));
    const up = await call(s.url, 'POST', '/uploads?name=tiny.nii', { body: nii });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const ss = await call(s.url, 'POST', '/sessions', { body: { uploadId: up.body.id } });
    assert.equal(ss.status, 201, JSON.stringify(ss.body));
    sid = ss.body.id;
  });
  after(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const slice = async (z: number) => {
    const r = await call(s.url, 'GET', `/sessions/${sid}/slices/${z}`);
    assert.equal(r.status, 200);
    const o = (r.body.objects as { objId: number; mask: { size: [number, number]; counts: number[] } }[]).find((x) => x.objId === 1);
    return o ? [...decodeRle(o.mask, 6, 8)] : Array(48).fill(0);
  };

  it('undo then redo; a stroke paints and erases literally; replay after eviction keeps masks and redo', async () => {
    let r = await call(s.url, 'POST', `/sessions/${sid}/prompts`, { body: { objId: 1, slice: 2, box: [0, 0, 7, 5] } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.area, 6);
    r = await call(s.url, 'POST', `/sessions/${sid}/propagate`, { body: {} });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const propagated = await slice(3);

    // Redo with nothing undone: false.
    assert.deepEqual((await call(s.url, 'POST', `/sessions/${sid}/redo`)).body, { redone: false });
    assert.deepEqual((await call(s.url, 'POST', `/sessions/${sid}/undo`)).body, { undone: true });
    assert.equal(
      (await slice(3)).some((v) => v),
      false,
      'undo took the propagation back',
    );
    assert.equal((await call(s.url, 'GET', `/sessions/${sid}`)).body.redoable, 1);
    assert.deepEqual((await call(s.url, 'POST', `/sessions/${sid}/redo`)).body, { redone: true });
    assert.deepEqual(await slice(3), propagated, 'redo brought it back');
    assert.equal((await call(s.url, 'GET', `/sessions/${sid}`)).body.redoable, 0);

    // Brush: a 1-px line along row 4 of slice 3; eraser: one dab on the block.
    r = await call(s.url, 'POST', `/sessions/${sid}/edits`, {
      body: {
        objId: 1,
        slice: 3,
        stroke: {
          points: [
            { x: 0, y: 4 },
            { x: 7, y: 4 },
          ],
          radius: 0,
          mode: 'paint',
        },
      },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.area, 6 + 8);
    r = await call(s.url, 'POST', `/sessions/${sid}/edits`, {
      body: { objId: 1, slice: 3, stroke: { points: [{ x: 2, y: 1 }], radius: 0, mode: 'erase' } },
    });
    assert.equal(r.body.area, 6 + 8 - 1);
    const edited = await slice(3);
    assert.equal(edited[4 * 8 + 0], 1, 'painted pixel');
    assert.equal(edited[1 * 8 + 2], 0, 'erased pixel');
    assert.equal(edited[1 * 8 + 3], 1, 'untouched pixel');

    // Bad edits are 400 with one line.
    for (const body of [
      { objId: 1, slice: 3 },
      { objId: 1, slice: 99, stroke: { points: [{ x: 1, y: 1 }], radius: 1, mode: 'paint' } },
      { objId: 1, slice: 3, stroke: { points: [{ x: 1, y: 1 }], radius: 1, mode: 'smudge' } },
      { objId: 1, slice: 3, mask: { size: [2, 2], counts: [4] } },
    ]) {
      const bad = await call(s.url, 'POST', `/sessions/${sid}/edits`, { body });
      assert.equal(bad.status, 400, `${JSON.stringify(body)} -> ${bad.status} ${JSON.stringify(bad.body)}`);
      errorShape(bad);
    }

    // Undo the erase: redoable 1. Then the session leaves memory and is rebuilt from its log.
    assert.deepEqual((await call(s.url, 'POST', `/sessions/${sid}/undo`)).body, { undone: true });
    const beforeEvict = await slice(3);
    assert.equal(beforeEvict[1 * 8 + 2], 1, 'undo put the erased pixel back');
    assert.equal(await s.sessions.sweepIdle(Date.now() + 1e9), 1, 'evicted');
    const view = await call(s.url, 'GET', `/sessions/${sid}`);
    assert.equal(view.body.redoable, 1, 'the redo stack is in the log');
    assert.deepEqual(view.body.objects[0].keys, [2, 3]);
    assert.deepEqual((await call(s.url, 'POST', `/sessions/${sid}/redo`)).body, { redone: true }, 'redo after the rebuild');
    assert.deepEqual(await slice(3), edited);
    const stored = readFileSync(join(s.dataDir, 'medsam2.sqlite'));
    assert.ok(stored.length > 0);
  });
});
