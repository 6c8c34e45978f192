import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readNpzCase } from '../../src/io/npzFile.js';
import { readVolume } from '../../src/io/readVolume.js';
import { dice } from '../../src/metrics/dice.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import { buildZip } from '../../src/io/zip.js';
import { readNatural } from '../../src/io/dicom/dcmjs.js';
import { readSeg } from '../../src/io/dicom/segRead.js';
import { decodeRle } from '../../src/server/rle.js';
import { ROOT } from '../helpers/cli.js';
import { SHARED_SKIP, call, croppedLesion, errorShape, startTestServer, type TestServer } from './harness.js';
import { readSse } from './sse.js';

describe('medsam2 serve: an interactive session on the CT-lesion volume (default model)', { skip: SHARED_SKIP }, () => {
  let s: TestServer;
  let dir: string;
  let crop: Awaited<ReturnType<typeof croppedLesion>>;
  let uploadId: string;
  let sid: string;
  let ref: Uint8Array;
  let dims: [number, number, number];
  let box: [number, number, number, number];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medsam2-session-'));
    crop = await croppedLesion(dir);
    const c = await readNpzCase(crop.path);
    ref = c.label!.data as Uint8Array;
    dims = c.image.dims;
    const p = promptFromReference('key-box', { reference: ref, dims });
    assert.equal(p.slice, crop.key);
    box = p.box!;
    s = await startTestServer({ limits: { maxSessionsPerUser: 1 } });
  });
  after(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function labelMap(): Promise<Uint8Array> {
    const r = await call(s.url, 'GET', `/sessions/${sid}/labelmap?format=nii.gz`);
    assert.equal(r.status, 200);
    const f = join(dir, `lm-${Date.now()}.nii.gz`);
    writeFileSync(f, r.body as Uint8Array);
    const v = await readVolume(f);
    assert.deepEqual(v.dims, dims);
    return Uint8Array.from(v.data as ArrayLike<number>);
  }

  it("upload, session, box → that slice's mask at once", async () => {
    const up = await call(s.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
    assert.equal(up.status, 201);
    uploadId = up.body.id;
    const ses = await call(s.url, 'POST', '/sessions', { body: { uploadId } });
    assert.equal(ses.status, 201, JSON.stringify(ses.body));
    sid = ses.body.id;
    assert.equal(ses.body.numSlices, crop.slices);
    const second = await call(s.url, 'POST', '/sessions', { body: { uploadId } });
    assert.equal(second.status, 429, 'per-user session limit');
    assert.match(errorShape(second), /open sessions \(limit 1\)/);

    const r = await call(s.url, 'POST', `/sessions/${sid}/prompts`, { body: { objId: 1, slice: crop.key, box } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const m = decodeRle(r.body.mask, dims[1], dims[0]);
    assert.equal(
      r.body.area,
      m.reduce((a, b) => a + b, 0),
    );
    const d = dice(m, extractSlice(ref, dims, 2, crop.key));
    assert.ok(d > 0.7, `key-slice DSC ${d}`);
    const outside = await call(s.url, 'POST', `/sessions/${sid}/prompts`, { body: { objId: 1, slice: crop.key, box: [0, 0, 9999, 10] } });
    assert.equal(outside.status, 400);
    assert.match(errorShape(outside), /outside the image/);
    const badSlice = await call(s.url, 'POST', `/sessions/${sid}/prompts`, { body: { objId: 1, slice: 99, box } });
    assert.equal(badSlice.status, 400);
    errorShape(badSlice);
  });

  it('cancel mid-propagation leaves the session as it was; propagation streams progress and masks (SSE)', async () => {
    const res = await fetch(`${s.url}/sessions/${sid}/propagate`, {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    let cancelled: unknown;
    const first = await readSse(res, async (event) => {
      if (event === 'progress' && cancelled === undefined) cancelled = (await call(s.url, 'POST', `/sessions/${sid}/cancel`)).body;
    });
    assert.deepEqual(cancelled, { cancelled: true });
    assert.equal(first.at(-1)!.event, 'cancelled', JSON.stringify(first.map((e) => e.event)));
    const after1 = await call(s.url, 'GET', `/sessions/${sid}`);
    assert.deepEqual(after1.body.objects, [{ objId: 1, keys: [crop.key], slices: [crop.key] }]);
    assert.equal(after1.body.propagating, false);

    const res2 = await fetch(`${s.url}/sessions/${sid}/propagate`, {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
      body: '{}',
    });
    const events = await readSse(res2);
    const kinds = events.map((e) => e.event);
    assert.ok(kinds.includes('progress'), kinds.join(','));
    assert.equal(kinds.at(-1), 'done', JSON.stringify(events.at(-1)));
    const masks = events.filter((e) => e.event === 'mask');
    assert.ok(masks.length >= 3, `${masks.length} slice masks streamed`);
    // Streamed as each slice is decided: masks interleave with progress, not all after it.
    const firstMask = kinds.indexOf('mask');
    assert.ok(kinds.lastIndexOf('progress') > firstMask, `a progress event follows the first mask: ${kinds.join(',')}`);
    // The last mask streamed per slice is that slice of the downloaded label map (area 0 = absent).
    const last = new Map<number, { area: number; mask: { size: [number, number]; counts: number[] } }>();
    for (const e of masks) {
      assert.equal(e.data.objId, 1);
      last.set(e.data.slice, e.data);
    }
    const labels = await labelMap();
    for (const [k, e] of last) {
      const m = decodeRle(e.mask, dims[1], dims[0]);
      assert.equal(
        e.area,
        m.reduce((a, b) => a + b, 0),
      );
      assert.deepEqual(
        m,
        Uint8Array.from(extractSlice(labels, dims, 2, k), (v) => (v === 1 ? 1 : 0)),
        `slice ${k}`,
      );
    }
    assert.ok([...last.values()].filter((e) => e.area > 0).length >= 3);
    // Every slice of the label map with the object was streamed.
    for (let k = 0; k < crop.slices; k++)
      if (extractSlice(labels, dims, 2, k).some((v) => v === 1)) assert.ok(last.has(k), `slice ${k} streamed`);
  });

  it("the downloaded label map is on the source grid and scores at least the CLI's DSC for the same box", async () => {
    const labels = await labelMap();
    const c = await readNpzCase(crop.path);
    const cli = await segmentVolume(c.image, [{ slice: crop.key, box }], { threads: 2 });
    const dServer = dice(labels, ref);
    const dCli = dice(cli.mask.data as ArrayLike<number>, ref);
    assert.ok(dServer >= dCli - 1e-9, `server DSC ${dServer} vs CLI ${dCli}`);
    assert.ok(dServer > 0.7, `DSC ${dServer}`);
    for (const f of ['nrrd', 'npz']) assert.equal((await call(s.url, 'GET', `/sessions/${sid}/labelmap?format=${f}`)).status, 200, f);
    const seg = await call(s.url, 'GET', `/sessions/${sid}/labelmap?format=seg.dcm`);
    assert.equal(seg.status, 400);
    assert.match(errorShape(seg), /session-.*\.seg\.dcm: a DICOM SEG\/RTSTRUCT must reference a DICOM image series/);
    assert.ok(!seg.body.error.includes(s.dataDir), seg.body.error);
    assert.equal((await call(s.url, 'GET', `/sessions/${sid}/labelmap?format=exe`)).status, 400);
  });

  it('a correction changes its slice, undo restores the label map exactly; a second object can be removed', async () => {
    const before = await labelMap();
    const other = crop.key > 0 ? crop.key - 1 : crop.key + 1;
    const fg = extractSlice(ref, dims, 2, other);
    // A background click on an object pixel of the neighbouring slice.
    let px = -1;
    for (let i = 0; i < fg.length; i++)
      if (fg[i]) {
        px = i;
        break;
      }
    assert.ok(px >= 0);
    const corr = await call(s.url, 'POST', `/sessions/${sid}/prompts`, {
      body: { objId: 1, slice: other, points: [{ x: px % dims[0], y: Math.floor(px / dims[0]), label: 0 }], correction: true },
    });
    assert.equal(corr.status, 200, JSON.stringify(corr.body));
    const undo = await call(s.url, 'POST', `/sessions/${sid}/undo`);
    assert.deepEqual(undo.body, { undone: true });
    assert.deepEqual(await labelMap(), before, 'undo restores the label map');

    const two = await call(s.url, 'POST', `/sessions/${sid}/prompts`, { body: { objId: 2, slice: crop.key, box: [10, 10, 60, 60] } });
    assert.equal(two.status, 200);
    assert.deepEqual(
      (await call(s.url, 'GET', `/sessions/${sid}`)).body.objects.map((o: { objId: number }) => o.objId),
      [1, 2],
    );
    const rm = await call(s.url, 'DELETE', `/sessions/${sid}/objects/2`);
    assert.equal(rm.status, 200);
    assert.deepEqual(
      rm.body.objects.map((o: { objId: number }) => o.objId),
      [1],
    );
    assert.equal((await call(s.url, 'DELETE', `/sessions/${sid}/objects/7`)).status, 404);
    assert.deepEqual(await labelMap(), before);
  });

  it('an idle session leaves memory and comes back from its history with the same masks', async () => {
    const before = await labelMap();
    const view = (await call(s.url, 'GET', `/sessions/${sid}`)).body;
    const evicted = await s.sessions.sweepIdle(Date.now() + 10 * 24 * 3600 * 1000);
    assert.equal(evicted, 1);
    const back = (await call(s.url, 'GET', `/sessions/${sid}`)).body;
    assert.equal(back.live, false);
    assert.deepEqual(back.objects, view.objects);
    assert.deepEqual(await labelMap(), before, 'served from the stored label map');
    // A new interaction rebuilds the Session by replaying the log.
    const r = await call(s.url, 'POST', `/sessions/${sid}/prompts`, { body: { objId: 1, slice: crop.key, box, replace: true } });
    assert.equal(r.status, 200);
    assert.equal((await call(s.url, 'GET', `/sessions/${sid}`)).body.live, true);
    await call(s.url, 'POST', `/sessions/${sid}/undo`);
    assert.deepEqual(await labelMap(), before, 'replayed session has the same masks');
    const closed = await call(s.url, 'DELETE', `/sessions/${sid}`);
    assert.equal(closed.body.status, 'closed');
    assert.equal((await call(s.url, 'POST', `/sessions/${sid}/prompts`, { body: { objId: 1, slice: crop.key, box } })).status, 409);
  });
});

/** 3 CT slices with full DICOM identity (the other shared series is anonymised without SOP UIDs). */
const SERIES = join(ROOT, '../shared/data/dicom/seg-ct-3slice');

describe('medsam2 serve: a zipped DICOM series in, a DICOM SEG out', { skip: existsSync(SERIES) ? false : `needs ${SERIES}` }, () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer();
  });
  after(async () => {
    await s?.stop();
  });

  it('uploads the series as a zip, prompts one slice and downloads the label map as DICOM SEG', async () => {
    const files = readdirSync(SERIES).filter((f) => /^\d+\.dcm$/.test(f));
    const zip = buildZip(
      Object.fromEntries(files.map((f, i) => [`../../evil/${i}/${f}`, new Uint8Array(readFileSync(join(SERIES, f)))])),
      false,
    );
    const up = await call(s.url, 'POST', '/uploads?name=series.zip', { body: zip });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal(up.body.format, 'dicom-zip');
    assert.equal(up.body.dims[2], files.length);
    assert.equal(existsSync(join(s.dataDir, '..', 'evil')), false);
    const [nx, ny, nz] = up.body.dims as number[];
    const ses = await call(s.url, 'POST', '/sessions', { body: { uploadId: up.body.id, window: 'abdomen' } });
    assert.equal(ses.status, 201, JSON.stringify(ses.body));
    const k = Math.floor(nz! / 2);
    const r = await call(s.url, 'POST', `/sessions/${ses.body.id}/prompts`, {
      body: { objId: 1, slice: k, box: [Math.floor(nx! / 3), Math.floor(ny! / 3), Math.floor((2 * nx!) / 3), Math.floor((2 * ny!) / 3)] },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const seg = await call(s.url, 'GET', `/sessions/${ses.body.id}/labelmap?format=seg.dcm`);
    assert.equal(seg.status, 200, JSON.stringify(seg.body));
    const bytes = seg.body as Uint8Array;
    assert.equal(String.fromCharCode(...bytes.subarray(128, 132)), 'DICM');
    assert.ok(Buffer.from(bytes).includes('1.2.840.10008.5.1.4.1.1.66.4'), 'Segmentation Storage SOP class');
    const nii = await call(s.url, 'GET', `/sessions/${ses.body.id}/labelmap?format=nii.gz`);
    assert.equal(nii.status, 200);
    // Unnamed, the segment has its default name; once renamed, both DICOM exports carry the name
    // (one beyond Latin-1, written as UTF-8) and the NIfTI, with no field for it, is byte-identical.
    assert.deepEqual(
      readSeg({ name: 'a.seg.dcm', bytes }).segments.map((x) => x.label),
      ['object 1'],
    );
    const name = 'liver Leber 肝臓';
    const renamed = await call(s.url, 'PATCH', `/sessions/${ses.body.id}/objects/1`, { body: { name } });
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    const named = await call(s.url, 'GET', `/sessions/${ses.body.id}/labelmap?format=seg.dcm`);
    assert.equal(named.status, 200);
    const seg2 = readSeg({ name: 'b.seg.dcm', bytes: named.body as Uint8Array });
    assert.deepEqual(
      seg2.segments.map((x) => x.label),
      [name],
    );
    assert.deepEqual(seg2.labelMap().data, readSeg({ name: 'a.seg.dcm', bytes }).labelMap().data, 'same voxels, only the name differs');
    const rt = await call(s.url, 'GET', `/sessions/${ses.body.id}/labelmap?format=rtstruct.dcm`);
    assert.equal(rt.status, 200, JSON.stringify(rt.body));
    const rois = readNatural(rt.body as Uint8Array).StructureSetROISequence as { ROIName: string } | { ROIName: string }[];
    assert.deepEqual(
      [rois].flat().map((r) => r.ROIName),
      [name],
    );
    const nii2 = await call(s.url, 'GET', `/sessions/${ses.body.id}/labelmap?format=nii.gz`);
    assert.deepEqual(nii2.body, nii.body, 'NIfTI has no name field: unchanged');
  });
});
