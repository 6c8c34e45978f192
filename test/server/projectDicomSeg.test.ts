/**
 * A project's accepted labels as DICOM SEG (the clinic's format): a round with a DICOM-zip case
 * (the shared CT series with UIDs, made by dcmodify as the DICOM tests make it), the same series
 * anonymised without UIDs, and a PNG case. Label versions are written through the API (no model
 * run). The case JSON says which upload kind each case is; a version downloads as a SEG
 * (labelmap?format=dicom-seg, 409 for the PNG case); the round exports as dicom-seg → one
 * `<case>.seg.dcm` for the DICOM case that our SEG reader puts back on the series grid voxel for
 * voxel, referencing the series' SOP instances, segments = the project's labels (names, colours,
 * code), accepted by dciodvfy; the PNG and UID-less cases listed in the manifest as skipped with
 * why; a round with only the PNG case accepted is refused with a 409 naming it. The PNG case's
 * display volume is the picture's grey values on a 1-slice grid, and its version comes back on it.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { unzipSync, zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { readNatural } from '../../src/io/dicom/dcmjs.js';
import { readSeg } from '../../src/io/dicom/segRead.js';
import { rgbToDicomLab } from '../../src/io/dicom/segWrite.js';
import type { DicomHeader } from '../../src/io/dicom/series.js';
import { readVolume } from '../../src/io/readVolume.js';
import { projectSegments } from '../../src/projects/exportRound.js';
import { encodeRle } from '../../src/server/rle.js';
import { hasTool, seriesWithUids } from '../dicom/dicomTools.js';
import { ROOT } from '../helpers/cli.js';
import { call, type Res, startTestServer } from './harness.js';

const SERIES = join(ROOT, '../shared/data/dicom/ct-series');
const skip = !existsSync(SERIES)
  ? `../shared/data/dicom is absent (${SERIES})`
  : !hasTool('dcmodify')
    ? 'needs dcmodify to give the shared series UIDs (.ci/setup.d/30-dicom.sh installs dcmtk)'
    : false;
if (skip) process.stdout.write(`# skipping the project DICOM SEG export test: ${skip}\n`);

/** An error response's body for an assertion message (a success body may be binary). */
const why = (r: Res): string => (r.status >= 400 ? JSON.stringify(r.body) : `${r.status}`);

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-projseg-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function zipFolder(dir: string, files: string[]): Uint8Array {
  const members: Record<string, Uint8Array> = {};
  for (const f of files) members[`ct/${f.split('/').pop()}`] = readFileSync(f.includes('/') ? f : join(dir, f));
  return zipSync(members, { level: 1 });
}

/** A 64x48 grey PNG whose value at (x, y) is (3x + 2y) mod 256. */
function greyPng(): Uint8Array {
  const png = new PNG({ width: 64, height: 48, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  const rgba = new PNG({ width: 64, height: 48 });
  for (let y = 0; y < 48; y++)
    for (let x = 0; x < 64; x++) {
      const i = (y * 64 + x) * 4;
      const v = (3 * x + 2 * y) % 256;
      rgba.data[i] = rgba.data[i + 1] = rgba.data[i + 2] = v;
      rgba.data[i + 3] = 255;
    }
  png.data = rgba.data;
  return new Uint8Array(PNG.sync.write(png, { colorType: 0 }));
}

test('project export as DICOM SEG: one SEG per accepted DICOM case on its series, project labels, others skipped; PNG case end to end', {
  skip,
  timeout: 300_000,
}, async () => {
  const withUids = seriesWithUids(SERIES);
  const s = await startTestServer({ requireAuth: true });
  try {
    const boss = await s.user('boss', 'admin');
    const ann = await s.user('ann', 'annotator');
    const rev = await s.user('rev', 'annotator');
    const ok = async (token: string, method: string, path: string, body?: unknown, status = 200) => {
      const r = await call(s.url, method, path, { token, body });
      assert.equal(r.status, status, `${method} ${path}: ${why(r)}`);
      return r.body;
    };

    // ---- uploads: the series with UIDs, the same series anonymised without them, a PNG ----
    const dicom = await ok(boss, 'POST', '/uploads?name=ct-uids.zip', zipFolder(withUids.dir, withUids.files), 201);
    const raw = readdirSync(SERIES).map((f) => join(SERIES, f));
    const anon = await ok(boss, 'POST', '/uploads?name=ct-anon.zip', zipFolder(SERIES, raw), 201);
    const pic = await ok(boss, 'POST', '/uploads?name=picture.png', greyPng(), 201);
    assert.deepEqual([dicom.format, anon.format, pic.format], ['dicom-zip', 'dicom-zip', 'png']);

    const labels = [
      { value: 1, name: 'liver', colour: '#dd8844', code: '10200004' },
      { value: 2, name: 'lesion', colour: '#22cc66' },
    ];
    await ok(boss, 'POST', '/projects', { name: 'clinic', labels }, 201);
    await ok(boss, 'PUT', '/projects/clinic/members/ann', { role: 'annotator' });
    await ok(boss, 'PUT', '/projects/clinic/members/rev', { role: 'reviewer' });
    const added = await ok(boss, 'POST', '/projects/clinic/cases', { uploadIds: [dicom.id, anon.id, pic.id], mode: 'manual' }, 201);
    const [ctCase, anonCase, picCase] = added.map((c: { name: string }) => c.name) as [string, string, string];
    const P = '/projects/clinic';
    const C = (name: string) => `${P}/cases/${encodeURIComponent(name)}`;

    // The case's own JSON says its upload kind (the pages offer DICOM SEG from it).
    for (const [name, format] of [
      [ctCase, 'dicom-zip'],
      [anonCase, 'dicom-zip'],
      [picCase, 'png'],
    ] as const)
      assert.equal((await ok(ann, 'GET', C(name))).case.sourceFormat, format, name);

    // ---- the PNG case: its display volume is the picture on a 1-slice grid ----
    const shownPng = await call<Uint8Array>(s.url, 'GET', `${C(picCase)}/volume.nii.gz`, { token: ann });
    assert.equal(shownPng.status, 200);
    writeFileSync(join(tmp, 'pic.nii.gz'), shownPng.body);
    const picVol = await readVolume(join(tmp, 'pic.nii.gz'));
    assert.deepEqual(picVol.dims, [64, 48, 1]);
    let off = 0;
    for (let y = 0; y < 48; y++) for (let x = 0; x < 64; x++) if (Number(picVol.data[y * 64 + x]) !== (3 * x + 2 * y) % 256) off++;
    assert.equal(off, 0, `${off} PNG pixels differ in the display volume`);

    // ---- label versions written through the API ----
    // A labelsRle version holds one label (`label`, here the project's second: its name and colour must follow it).
    const save = async (name: string, dims: number[], map: Uint8Array, label: number) => {
      await ok(ann, 'POST', `${C(name)}/claim`);
      const rle = encodeRle(map, dims[2]! * dims[1]!, dims[0]!);
      await ok(ann, 'POST', `${C(name)}/versions`, { baseVersion: -1, labelsRle: { dims, rle, label } }, 201);
    };
    const picMap = new Uint8Array(64 * 48);
    for (let y = 10; y < 30; y++) for (let x = 20; x < 50; x++) picMap[y * 64 + x] = 2;
    await save(picCase, [64, 48, 1], picMap, 2);
    const picBack = await call<Uint8Array>(s.url, 'GET', `${C(picCase)}/versions/0/labelmap?format=nifti`, { token: ann });
    writeFileSync(join(tmp, 'pic-mask.nii.gz'), picBack.body);
    const picMask = await readVolume(join(tmp, 'pic-mask.nii.gz'));
    assert.deepEqual(Array.from(picMask.data, Number), Array.from(picMap), 'the PNG version on its grid');
    const noSeg = await call(s.url, 'GET', `${C(picCase)}/versions/0/labelmap?format=dicom-seg`, { token: ann });
    assert.equal(noSeg.status, 409, why(noSeg));
    assert.match(noSeg.body.error, /not a DICOM series/);

    const ct = await readVolume(withUids.dir);
    const [nx, ny, nz] = ct.dims;
    assert.deepEqual(ct.dims, [512, 512, 20]);
    const ctMap = new Uint8Array(nx * ny * nz);
    for (let z = 12; z <= 16; z++) for (let y = 199; y <= 374; y++) for (let x = 107; x <= 278; x++) ctMap[z * nx * ny + y * nx + x] = 2;
    for (let z = 5; z <= 7; z++) for (let y = 300; y <= 340; y++) for (let x = 300; x <= 350; x++) ctMap[z * nx * ny + y * nx + x] = 2;
    await save(ctCase, ct.dims, ctMap, 2);
    await save(anonCase, ct.dims, ctMap, 2);

    // ---- only the PNG case accepted: a dicom-seg export has nothing to write → 409 naming it ----
    const accept = async (name: string) => {
      await ok(ann, 'POST', `${C(name)}/submit`);
      assert.equal((await ok(rev, 'POST', `${C(name)}/review`, { verdict: 'accept' })).status, 'accepted');
    };
    await accept(picCase);
    const refused = await call(s.url, 'POST', `${P}/export`, { token: rev, body: { round: 1, format: 'dicom-seg' } });
    assert.equal(refused.status, 409, why(refused));
    assert.match(refused.body.error, new RegExp(`no accepted case from a DICOM series \\(${picCase}\\)`));
    await accept(ctCase);
    await accept(anonCase);

    // ---- one version as a SEG (what the case and review pages download) ----
    const one = await call<Uint8Array>(s.url, 'GET', `${C(ctCase)}/versions/0/labelmap?format=dicom-seg`, { token: rev });
    assert.equal(one.status, 200, why(one));
    assert.equal(one.headers.get('content-type'), 'application/dicom');
    const oneSeg = readSeg({ name: 'one.seg.dcm', bytes: one.body }, ct);
    assert.deepEqual(
      oneSeg.segments.map((x) => x.label),
      ['lesion'],
    );
    const oneBack = oneSeg.mask(1);
    assert.equal(
      Array.from(oneBack).reduce((n, v, i) => n + (v !== (ctMap[i] ? 1 : 0) ? 1 : 0), 0),
      0,
      'the downloaded SEG is the version',
    );

    // ---- the round as dicom-seg ----
    const ex = await ok(rev, 'POST', `${P}/export`, { round: 1, format: 'dicom-seg' }, 202);
    let job: { status: string; error?: string } = { status: 'queued' };
    for (let i = 0; i < 600 && job.status !== 'done' && job.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 250));
      job = await ok(rev, 'GET', `/jobs/${ex.jobId}`);
    }
    assert.equal(job.status, 'done', job.error);
    const zip = await call<Uint8Array>(s.url, 'GET', `/jobs/${ex.jobId}/result`, { token: rev });
    assert.equal(zip.status, 200);
    const files = unzipSync(zip.body);
    const root = 'clinic-round1';
    assert.deepEqual(Object.keys(files).sort(), [`${root}/${ctCase}.seg.dcm`, `${root}/manifest.json`].sort());
    const manifest = JSON.parse(new TextDecoder().decode(files[`${root}/manifest.json`]));
    assert.equal(manifest.format, 'dicom-seg');
    assert.deepEqual(
      manifest.cases.map((c: { case: string; files: string[] }) => [c.case, c.files]),
      [[ctCase, [`${ctCase}.seg.dcm`]]],
    );
    const skipped = new Map(manifest.skipped.map((x: { case: string; why: string }) => [x.case, x.why]));
    assert.deepEqual([...skipped.keys()].sort(), [anonCase, picCase].sort());
    assert.match(skipped.get(picCase) as string, /png, not a DICOM series/);
    assert.match(skipped.get(anonCase) as string, /no SOP instance \/ series UIDs/);
    assert.doesNotMatch(JSON.stringify(manifest), /\/tmp\/|blobs/, 'no server path in the manifest');

    const segBytes = files[`${root}/${ctCase}.seg.dcm`]!;
    const seg = readSeg({ name: `${ctCase}.seg.dcm`, bytes: segBytes }, ct);
    // One segment, the map's label 2 = the project's 'lesion' with its colour (the project's first label is not in it).
    assert.deepEqual(
      seg.segments.map((x) => [x.number, x.label]),
      [[1, 'lesion']],
    );
    assert.deepEqual(seg.segments[0]!.cielab, rgbToDicomLab([0x22, 0xcc, 0x66]), 'the label colour');
    // An annotator's accepted mask was prompted and corrected by a person: not AUTOMATIC.
    assert.equal(seg.segments[0]!.algorithmType, 'SEMIAUTOMATIC');
    for (const { number, label } of seg.segments) {
      const value = labels.find((l) => l.name === label)!.value;
      assert.equal(value, 2);
      const m = seg.mask(number);
      let wrong = 0;
      for (let i = 0; i < m.length; i++) if (m[i] !== (ctMap[i] === value ? 1 : 0)) wrong++;
      assert.equal(wrong, 0, `segment ${label}: ${wrong} voxels differ from the accepted label map`);
    }
    // It references the source series and its instances (the frames' source images are the slices they lie on).
    const h = ct.header as DicomHeader;
    assert.equal(seg.referencedSeriesUid, withUids.seriesUid);
    const ds = readNatural(segBytes) as Record<string, any>;
    const refs = (ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence as { ReferencedSOPInstanceUID: string }[]).map(
      (r) => r.ReferencedSOPInstanceUID,
    );
    assert.deepEqual(refs.sort(), [...h.sopInstanceUids].sort());
    assert.equal(ds.StudyInstanceUID, withUids.studyUid);
    const frames = ds.PerFrameFunctionalGroupsSequence as Record<string, any>[];
    assert.equal(frames.length, 5 + 3, 'one frame per slice holding the segment');
    for (const f of frames) {
      const z = f.FrameContentSequence[0].DimensionIndexValues[1] - 1;
      assert.equal(f.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID, h.sopInstanceUids[z]);
    }

    if (hasTool('dciodvfy')) {
      const path = join(tmp, 'export.seg.dcm');
      writeFileSync(path, segBytes);
      const r = spawnSync('dciodvfy', [path], { encoding: 'utf8' });
      const errors = (r.stderr + r.stdout).split('\n').filter((l) => /^Error/.test(l));
      assert.deepEqual(errors, [], errors.join('\n'));
    } else process.stdout.write('# dciodvfy absent (.ci/setup.d/30-dicom.sh installs dicom3tools): IOD not checked\n');
  } finally {
    await s.stop();
    rmSync(withUids.dir, { recursive: true, force: true });
  }
});

test('projectSegments: the labels a map holds, in value order, named/coloured/coded as the project; an unknown value keeps its number', () => {
  const labels = [
    { value: 1, name: 'liver', colour: '#dd8844', code: '10200004' },
    { value: 2, name: 'lesion', colour: '#22cc66', code: null },
  ];
  assert.deepEqual(projectSegments(labels, Uint8Array.from([0, 3, 2, 1, 2])), [
    {
      label: 1,
      name: 'liver',
      colour: [0xdd, 0x88, 0x44],
      type: { CodeValue: '10200004', CodingSchemeDesignator: 'SCT', CodeMeaning: 'liver' },
    },
    { label: 2, name: 'lesion', colour: [0x22, 0xcc, 0x66] },
    { label: 3, name: 'label 3' },
  ]);
  // An empty map still makes a valid SEG: one (empty) segment, the project's first label.
  assert.deepEqual(
    projectSegments(labels, new Uint8Array(4)).map((x) => x.name),
    ['liver'],
  );
});
