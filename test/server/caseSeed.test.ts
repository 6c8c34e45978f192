import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readNpzBytes } from '../../src/io/npz.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { dice } from '../../src/metrics/dice.js';
import { encodeRle } from '../../src/server/rle.js';
import { call, croppedLesion, SHARED_SKIP, startTestServer } from './harness.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

/**
 * A project case's session starts from the case's latest label version (issue #12): on a real
 * server, a 3-slice CT-lesion crop gets a version saved from its reference; the case session's
 * label map equals that version voxel for voxel, saving it unchanged makes an identical version,
 * a negative click inside the saved mask on a seeded slice shrinks that mask (a correction, not a
 * fresh prompt), and undo never goes below the seed — also after the session is rebuilt from its log.
 */

test('a case session is seeded with the latest version', { skip: SHARED_SKIP, timeout: 600_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-seed-'));
  const s = await startTestServer();
  try {
    const boss = await s.user('boss', 'admin');
    const alice = await s.user('alice', 'annotator');
    const ok = async <T = any>(token: string, method: string, path: string, body?: unknown, status = 200): Promise<T> => {
      const r = await call<T>(s.url, method, path, { token, body });
      assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body).slice(0, 300)}`);
      return r.body;
    };
    const crop = await croppedLesion(dir, 1);
    const c = await readNpzCase(crop.path);
    const [nx, ny, nz] = c.image.dims;
    const plane = nx * ny;
    const ref = Uint8Array.from(c.label!.data as ArrayLike<number>, (v) => (v ? 1 : 0));
    const P = '/projects/seed';
    await ok(boss, 'POST', '/projects', { name: 'seed', labels: [{ value: 1, name: 'lesion' }] }, 201);
    await ok(boss, 'PUT', `${P}/members/alice`, { role: 'annotator' });
    const up = await call(s.url, 'POST', '/uploads?name=lesion.npz', { token: boss, body: new Uint8Array(readFileSync(crop.path)) });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const [kase] = await ok<any[]>(boss, 'POST', `${P}/cases`, { uploadIds: [(up.body as { id: string }).id] }, 201);
    const job = await ok(boss, 'POST', `${P}/pre-annotate`, { source: 'recist' }, 202);
    for (let i = 0; ; i++) {
      const j = await ok(boss, 'GET', `/jobs/${job.jobId}`);
      if (j.status === 'done') break;
      assert.notEqual(j.status, 'failed', j.error);
      assert.ok(i < 1200, 'pre-annotation did not finish');
      await new Promise((r) => setTimeout(r, 250));
    }
    const C = `${P}/cases/${kase.name}`;
    await ok(alice, 'POST', `${C}/claim`);
    // Version 1: the reference (on every slice of the crop that has lesion).
    const v1 = await ok(
      alice,
      'POST',
      `${C}/versions`,
      { baseVersion: 0, labelsRle: { dims: [nx, ny, nz], rle: encodeRle(ref, nz * ny, nx) } },
      201,
    );
    assert.equal(v1.version, 1);
    const labelMap = async (path: string) => {
      const r = await call(s.url, 'GET', path, { token: alice });
      assert.equal(r.status, 200);
      return Uint8Array.from(readNpzBytes(r.body as Uint8Array).segs!.data as ArrayLike<number>);
    };
    const refSlices = [...Array(nz).keys()].filter((z) => ref.subarray(z * plane, (z + 1) * plane).some((v) => v));
    assert.ok(refSlices.length >= 2, `the crop has lesion on ${refSlices.length} slices`);

    // The session holds the version as its own masks: object 1 (= label 1) on each of its slices.
    const { sessionId, baseVersion } = await ok(alice, 'POST', `${C}/session`, {}, 201);
    assert.equal(baseVersion, 1);
    const view = await ok(alice, 'GET', `/sessions/${sessionId}`);
    assert.deepEqual(
      view.objects.map((o: any) => [o.objId, o.keys, o.slices]),
      [[1, refSlices, refSlices]],
    );
    assert.deepEqual(await labelMap(`/sessions/${sessionId}/labelmap?format=npz`), ref);
    // The seed is the starting state: nothing to undo, and no annotator interaction in the project's log.
    assert.deepEqual(await ok(alice, 'POST', `/sessions/${sessionId}/undo`), { undone: false });
    assert.equal((await ok(alice, 'GET', C)).interactions.count, 0);

    // Saved unchanged, the new version equals the base voxel for voxel.
    const v2 = await ok(alice, 'POST', `${C}/versions`, { baseVersion: 1, sessionId }, 201);
    assert.deepEqual(await labelMap(`${C}/versions/${v2.version}/labelmap?format=npz`), ref);

    // A negative click on the saved mask's edge on a seeded slice corrects that mask (SAM's iterative
    // refinement of it: the clicked pixel goes, the rest stays close, not exactly — the model redraws
    // the outline); a fresh prompt from one negative click would be nothing like it.
    const z = crop.key;
    const sl = ref.subarray(z * plane, (z + 1) * plane);
    const seeded = sl.reduce((a, b) => a + b, 0);
    const edge = sl.findIndex((v, i) => v > 0 && !sl[i - nx]);
    const r = await ok(alice, 'POST', `/sessions/${sessionId}/prompts`, {
      objId: 1,
      slice: z,
      points: [{ x: edge % nx, y: Math.floor(edge / nx), label: 0 }],
    });
    const after = (await labelMap(`/sessions/${sessionId}/labelmap?format=npz`)).subarray(z * plane, (z + 1) * plane);
    const dsc = dice(after, sl);
    console.log(`# slice ${z}: ${seeded} px seeded, ${r.area} px after a negative click at its edge, DSC ${dsc.toFixed(3)}`);
    assert.ok(r.area > 0 && dsc > 0.8, `slice ${z}: DSC ${dsc} to the seeded mask: the click started a fresh prompt instead of correcting`);
    assert.equal(after[edge], 0, `slice ${z}: the negative click's pixel is still in the mask`);

    // Undo brings back the seed, and not further — also once the session is rebuilt from its log.
    assert.deepEqual(await ok(alice, 'POST', `/sessions/${sessionId}/undo`), { undone: true });
    assert.deepEqual(await labelMap(`/sessions/${sessionId}/labelmap?format=npz`), ref);
    assert.ok((await s.sessions.sweepIdle(Date.now() + 1e9)) >= 1, 'the session left memory');
    assert.deepEqual(await ok(alice, 'POST', `/sessions/${sessionId}/undo`), { undone: false });
    assert.deepEqual(await labelMap(`/sessions/${sessionId}/labelmap?format=npz`), ref);
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
