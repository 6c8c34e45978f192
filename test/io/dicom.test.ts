import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDicom } from '../../src/io/dicomSeries.js';
import { readVolume } from '../../src/io/readVolume.js';
import { reorientToGrid } from '../../src/io/reorientToGrid.js';
import { MedsamError } from '../../src/common/errors.js';
import type { Volume } from '../../src/io/volume.js';
import { assertSameGeometry, data, skipUnless, tmp } from './ioTestUtil.js';

function meanWhere(image: Volume, labels: Volume, pred: (l: number) => boolean): { mean: number; n: number } {
  let sum = 0;
  let n = 0;
  for (let i = 0; i < labels.data.length; i++) {
    if (pred(Number(labels.data[i]))) {
      sum += Number(image.data[i]);
      n++;
    }
  }
  return { mean: sum / n, n };
}

test('DICOM ct-series (JPEG 2000) and its TotalSegmentator NIfTI share one voxel grid; labels land on the right HU', {
  skip: skipUnless('dicom/ct-series'),
}, async () => {
  const ct = await readVolume(data('dicom/ct-series'));
  assert.equal(ct.source.format, 'dicom');
  assert.equal(ct.modality, 'CT');
  assert.deepEqual(ct.dims, [512, 512, 20]);
  // Slices sorted ascending along the normal: origin is the lowest slice (z = -804.5).
  assert.deepEqual(ct.origin, [-249.51171875, -437.51171875, -804.5]);
  assert.deepEqual(ct.spacing, [0.9765625, 0.9765625, 2]);
  assert.ok(ct.data instanceof Int16Array, 'integer rescale keeps Int16 HU');

  const raw = await readVolume(data('dicom/ct-series_seg.nii.gz'));
  // The NIfTI stores the same voxel centres with the y axis reversed (dicom2nifti convention):
  // its last row sits where the series' first row does.
  assert.deepEqual(raw.dims, ct.dims);
  assert.ok(Math.abs(raw.origin[1] + (raw.dims[1] - 1) * raw.spacing[1] * raw.direction[4] - ct.origin[1]) < 1e-2);
  const seg = reorientToGrid(raw, ct);
  assert.deepEqual(seg.dims, ct.dims);
  seg.spacing.forEach((s, i) => assert.ok(Math.abs(s - ct.spacing[i]) < 1e-3));
  seg.origin.forEach((o, i) => assert.ok(Math.abs(o - ct.origin[i]) < 1e-2));
  seg.direction.forEach((d, i) => assert.ok(Math.abs(d - ct.direction[i]) < 1e-4));

  // TotalSegmentator: 1 = spleen, 5 = liver (soft tissue, contrast CT ~ 40..150 HU); 0 includes air.
  const liver = meanWhere(ct, seg, (l) => l === 5);
  const spleen = meanWhere(ct, seg, (l) => l === 1);
  const background = meanWhere(ct, seg, (l) => l === 0);
  assert.ok(liver.n > 10000 && liver.mean > 20 && liver.mean < 200, `liver mean HU ${liver.mean}`);
  assert.ok(spleen.n > 10000 && spleen.mean > 20 && spleen.mean < 200, `spleen mean HU ${spleen.mean}`);
  assert.ok(background.mean < -300, `background mean HU ${background.mean}`);
  // The same check on the un-flipped label map fails: the test detects an axis flip.
  const flipped = meanWhere(ct, raw, (l) => l === 5);
  assert.ok(!(flipped.mean > 20 && flipped.mean < 200), `flipped liver mean HU ${flipped.mean}`);
});

test('DICOM seg-ct-3slice: implicit VR slices read, SEG objects in the folder skipped', {
  skip: skipUnless('dicom/seg-ct-3slice'),
}, async () => {
  const v = await readVolume(data('dicom/seg-ct-3slice'));
  assert.deepEqual(v.dims, [512, 512, 3]);
  assert.equal(v.modality, 'CT');
  assert.deepEqual(v.spacing.slice(0, 2), [0.810547, 0.810547]);
  assert.ok(Math.abs(v.spacing[2] - 1) < 1e-9);
  // Ascending along +z: 03.dcm (z = -128.69) comes first.
  assert.deepEqual(v.origin, [-235.199997, -226.800003, -128.690002]);
  assert.deepEqual(
    (v.header as { files: string[] }).files.map((f) => f.split('/').pop()),
    ['03.dcm', '02.dcm', '01.dcm'],
  );
  let min = Infinity,
    max = -Infinity;
  for (const x of v.data as Int16Array) {
    min = Math.min(min, x);
    max = Math.max(max, x);
  }
  assert.ok(min <= -1000 && max > 200, `HU range ${min}..${max}`);
});

test('DICOM: a single slice file reads as a one-slice volume; a SEG file alone spans its own frames', {
  skip: skipUnless('dicom/seg-ct-3slice'),
}, async () => {
  const one = await readVolume(data('dicom/seg-ct-3slice/02.dcm'));
  assert.deepEqual(one.dims, [512, 512, 1]);
  assert.deepEqual(one.origin, [-235.199997, -226.800003, -127.690002]);
  const seg = await readVolume(data('dicom/seg-ct-3slice/liver.seg.dcm'));
  assert.equal(seg.modality, 'SEG');
  assert.deepEqual(seg.dims, [512, 512, 3]);
  // A SEG read onto a one-slice grid it does not fit is refused, naming the frame.
  await assert.rejects(
    readVolume(data('dicom/seg-ct-3slice/liver.seg.dcm'), { grid: one }),
    /frame \d+ at .* is not on a slice of the image/,
  );
});

test('DICOM enhanced MR multi-frame: per-frame positions and pixel measures', { skip: skipUnless('formats/enhanced_mr.dcm') }, async () => {
  const v = await readVolume(data('formats/enhanced_mr.dcm'));
  assert.deepEqual(v.dims, [64, 64, 6]);
  assert.equal(v.modality, 'MR');
  assert.deepEqual(v.spacing.slice(0, 2), [3.375, 3.375]);
  assert.ok(Math.abs(v.spacing[2] - 2.4) < 1e-6);
  assert.deepEqual(v.origin, [-109.79, -58.4773, -5.40356]);
  v.direction.forEach((d, i) => assert.ok(Math.abs(d - [1, 0, 0, 0, 1, 0, 0, 0, 1][i]) < 1e-5));
});

test('DICOM folder mixing two series is refused, naming both and --series; series picks one by UID or index', {
  skip: skipUnless('dicom/seg-ct-3slice'),
}, async () => {
  const dir = tmp();
  for (const f of ['01.dcm', '02.dcm', '03.dcm']) copyFileSync(data(`dicom/seg-ct-3slice/${f}`), join(dir, f));
  const ct = readdirSync(data('dicom/ct-series')).sort().slice(0, 2);
  ct.forEach((f) => copyFileSync(data(`dicom/ct-series/${f}`), join(dir, f)));
  const err = await readDicom(dir).then(
    () => null,
    (e: unknown) => e,
  );
  assert.ok(err instanceof MedsamError);
  assert.match(err.message, /mixes 2 series/);
  assert.match(err.message, /\(CT, 3 files\)/);
  assert.match(err.message, /\(CT, 2 files, "CT Body 3\.0"\)/);
  const uid = /(\S+) \(CT, 3 files\)/.exec(err.message)![1];
  assert.match(err.message, /--series/);
  const v = await readDicom(dir, { series: uid });
  assert.deepEqual(v.dims, [512, 512, 3]);
  const index = /\[(\d)\] \S+ \(CT, 3 files\)/.exec(err.message)![1];
  assert.deepEqual((await readDicom(dir, { series: index })).dims, [512, 512, 3]);
  await assert.rejects(readDicom(dir, { series: '7.7.7' }), /series 7\.7\.7 is not in DICOM input/);
});

test('DICOM series with a missing middle slice is refused as unevenly spaced', { skip: skipUnless('dicom/ct-series') }, async () => {
  const dir = tmp();
  const files = readdirSync(data('dicom/ct-series')).sort();
  files
    .slice(0, 5)
    .filter((_, i) => i !== 2)
    .forEach((f) => copyFileSync(data(`dicom/ct-series/${f}`), join(dir, f)));
  await assert.rejects(
    readDicom(dir),
    (e: unknown) => e instanceof MedsamError && /unevenly spaced: the gap between .* is 4\.000 mm/.test(e.message),
  );
});

test('DICOM: empty folder, folder without DICOM, corrupt and truncated slices give one-line errors', {
  skip: skipUnless('dicom/seg-ct-3slice'),
}, async () => {
  const empty = tmp();
  await assert.rejects(readDicom(empty), /DICOM folder .* is empty/);
  await assert.rejects(readDicom(join(empty, 'gone')), (e: unknown) => e instanceof MedsamError && /gone does not exist/.test(e.message));
  const junk = tmp();
  writeFileSync(join(junk, 'notes.txt'), 'hello');
  await assert.rejects(readDicom(junk), /has no DICOM image slices \(1 files: 1 not DICOM/);
  const bad = tmp();
  const bytes = readFileSync(data('dicom/seg-ct-3slice/01.dcm'));
  writeFileSync(join(bad, 'cut.dcm'), bytes.subarray(0, 2000));
  await assert.rejects(
    readDicom(bad),
    (e: unknown) => e instanceof MedsamError && /cut\.dcm is truncated/.test(e.message) && !e.message.includes('\n'),
  );
  const ct = readFileSync(data('dicom/ct-series/' + readdirSync(data('dicom/ct-series')).sort()[0]));
  writeFileSync(join(bad, 'cut.dcm'), ct.subarray(0, 3000)); // explicit VR: the parser overruns
  await assert.rejects(readDicom(bad), (e: unknown) => e instanceof MedsamError && /cut\.dcm is corrupt or truncated/.test(e.message));
  const cut = tmp();
  // Truncated inside the pixel data: header intact, voxels short.
  writeFileSync(join(cut, 'short.dcm'), bytes.subarray(0, bytes.length - 1000));
  await assert.rejects(
    readDicom(cut),
    (e: unknown) => e instanceof MedsamError && /short\.dcm is truncated \(frame 0 needs 524288 bytes/.test(e.message),
  );
});

test('DICOM JPEG 2000 slice with a corrupt codestream header fails with a clear message', {
  skip: skipUnless('dicom/ct-series'),
}, async () => {
  const dir = tmp();
  const f = readdirSync(data('dicom/ct-series')).sort()[0];
  const bytes = Buffer.from(readFileSync(data(`dicom/ct-series/${f}`)));
  const soc = bytes.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51])); // SOC + SIZ markers open the codestream
  assert.ok(soc > 0);
  bytes.fill(0xff, soc + 4, soc + 40);
  writeFileSync(join(dir, 'x.dcm'), bytes);
  await assert.rejects(readDicom(dir), (e: unknown) => e instanceof MedsamError && /x\.dcm: JPEG 2000 decoding failed/.test(e.message));
});
