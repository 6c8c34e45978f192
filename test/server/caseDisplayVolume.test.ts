/**
 * GET /projects/{p}/cases/{c}/volume.nii.gz: what the project pages draw for a case whose upload
 * is a DICOM series zip (the shared ct-series, JPEG 2000) — the server's reading of it as a
 * NIfTI, voxel for voxel and with the geometry the CLI's reader gives the folder, the same bytes
 * as the upload's own display route, ETag/304, 404 for a member of another project and for an
 * unknown case, 401 without a token. A label version saved on the case comes back (label map
 * route) on that same grid.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { zipSync } from 'fflate';
import { readVolume } from '../../src/io/readVolume.js';
import type { Volume } from '../../src/io/volume.js';
import { encodeRle } from '../../src/server/rle.js';
import { ROOT } from '../helpers/cli.js';
import { call, startTestServer } from './harness.js';

const SERIES = join(ROOT, '../shared/data/dicom/ct-series');
const skip = existsSync(SERIES) ? false : `../shared/data/dicom is absent (${SERIES})`;
if (skip) process.stdout.write(`# skipping the case display volume test: ${skip}\n`);

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-casedisplay-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function volumeOf(bytes: Uint8Array, name: string): Promise<Volume> {
  const path = join(tmp, `${name}.nii.gz`);
  writeFileSync(path, bytes);
  return readVolume(path);
}

test("a DICOM-zip case's display volume: the server's reading, members only, ETag/304; its label map on that grid", {
  skip,
  timeout: 300_000,
}, async () => {
  const s = await startTestServer({ requireAuth: true });
  try {
    const boss = await s.user('boss', 'admin');
    const ann = await s.user('ann', 'annotator');
    const eve = await s.user('eve', 'annotator');
    const members: Record<string, Uint8Array> = {};
    for (const f of readdirSync(SERIES)) members[`ct-series/${f}`] = readFileSync(join(SERIES, f));
    const up = await call(s.url, 'POST', '/uploads?name=ct-series.zip', { body: zipSync(members, { level: 1 }), token: boss });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal(up.body.format, 'dicom-zip');
    for (const [name, who] of [
      ['liver', 'ann'],
      ['other', 'eve'],
    ] as const) {
      const created = await call(s.url, 'POST', '/projects', { token: boss, body: { name, labels: [{ value: 1, name: 'liver' }] } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(
        (await call(s.url, 'PUT', `/projects/${name}/members/${who}`, { token: boss, body: { role: 'annotator' } })).status,
        200,
      );
    }
    const added = await call(s.url, 'POST', '/projects/liver/cases', { token: boss, body: { uploadIds: [up.body.id], mode: 'manual' } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const c = encodeURIComponent(added.body[0].name as string);
    const route = `/projects/liver/cases/${c}/volume.nii.gz`;

    const r = await call<Uint8Array>(s.url, 'GET', route, { token: ann });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/gzip');
    const shown = await volumeOf(r.body, 'shown');
    const folder = await readVolume(SERIES);
    assert.deepEqual(shown.dims, folder.dims);
    assert.deepEqual(shown.dims, [512, 512, 20]);
    for (const k of ['spacing', 'origin', 'direction'] as const)
      folder[k].forEach((x, i) =>
        assert.ok(Math.abs(shown[k][i]! - x) < 1e-4 * Math.max(1, Math.abs(x)), `${k}: ${shown[k]} vs ${folder[k]}`),
      );
    let differ = 0;
    for (let i = 0; i < folder.data.length; i++) if (Number(shown.data[i]) !== Number(folder.data[i])) differ++;
    assert.equal(differ, 0, `${differ} voxels differ from the folder as the CLI reads it`);
    // One builder: the upload's own display route gives the same bytes and ETag.
    const own = await call<Uint8Array>(s.url, 'GET', `/uploads/${up.body.id}/volume.nii.gz`, { token: boss });
    assert.equal(own.status, 200);
    assert.ok(Buffer.from(own.body).equals(Buffer.from(r.body)), 'the same bytes as GET /uploads/{id}/volume.nii.gz');
    const etag = r.headers.get('etag')!;
    assert.equal(own.headers.get('etag'), etag);
    const again = await call(s.url, 'GET', route, { token: ann, headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);

    // Who may not see it: a member of another project (404, not 403), an unknown case, no token.
    const other = await call(s.url, 'GET', route, { token: eve });
    assert.equal(other.status, 404, JSON.stringify(other.body));
    assert.match(other.body.error, /no project 'liver'/);
    assert.equal((await call(s.url, 'GET', '/projects/liver/cases/nope/volume.nii.gz', { token: ann })).status, 404);
    assert.equal((await call(s.url, 'GET', route)).status, 401);

    // A version saved on the case (a block on slice 16) comes back on the display volume's grid.
    const [nx, ny, nz] = shown.dims;
    const labels = new Uint8Array(nx * ny * nz);
    for (let y = 199; y <= 374; y++) for (let x = 107; x <= 278; x++) labels[16 * nx * ny + y * nx + x] = 1;
    const claimed = await call(s.url, 'POST', `/projects/liver/cases/${c}/claim`, { token: ann });
    assert.equal(claimed.status, 200, JSON.stringify(claimed.body));
    const saved = await call(s.url, 'POST', `/projects/liver/cases/${c}/versions`, {
      token: ann,
      body: { baseVersion: -1, labelsRle: { dims: shown.dims, rle: encodeRle(labels, nz * ny, nx) } },
    });
    assert.equal(saved.status, 201, JSON.stringify(saved.body));
    const map = await call<Uint8Array>(s.url, 'GET', `/projects/liver/cases/${c}/versions/0/labelmap?format=nifti`, { token: ann });
    assert.equal(map.status, 200);
    const mask = await volumeOf(map.body, 'mask');
    assert.deepEqual(mask.dims, shown.dims);
    for (const k of ['spacing', 'origin', 'direction'] as const)
      shown[k].forEach((x, i) =>
        assert.ok(Math.abs(mask[k][i]! - x) < 1e-4 * Math.max(1, Math.abs(x)), `mask ${k}: ${mask[k]} vs ${shown[k]}`),
      );
    let wrong = 0;
    for (let i = 0; i < labels.length; i++) if (Number(mask.data[i]) !== labels[i]) wrong++;
    assert.equal(wrong, 0, `${wrong} label voxels moved`);
  } finally {
    await s.stop();
  }
});
