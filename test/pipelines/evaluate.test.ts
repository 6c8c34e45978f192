import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { MedsamError } from '../../src/common/errors.js';
import { findCases, formatReportTable, reportCsv, summarise, writeReport } from '../../src/pipelines/evaluate.js';
import { interiorPoint, largestSlice, longestDiameter, promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { recistToBox } from '../../src/predictor/prompts.js';

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-eval-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('findCases pairs images with labels and takes every npz', () => {
  const dir = join(tmp, 'cases');
  const files = [
    'a.nii.gz',
    'a_seg.nii.gz',
    'b.nrrd',
    'b_label.nrrd',
    'c_image.nrrd',
    'c_label.nrrd',
    'lonely.nii.gz',
    'FLAIR.nii.gz',
    'FLAIR_lesion.nii.gz',
    'z.npz',
    'notes.txt',
  ];
  freshDir(dir);
  for (const f of files) writeFileSync(join(dir, f), '');
  const cases = findCases(dir).map((c) => ({ name: c.name, image: c.image.slice(dir.length + 1), label: c.label?.slice(dir.length + 1) }));
  assert.deepEqual(cases, [
    { name: 'a', image: 'a.nii.gz', label: 'a_seg.nii.gz' },
    { name: 'b', image: 'b.nrrd', label: 'b_label.nrrd' },
    { name: 'c', image: 'c_image.nrrd', label: 'c_label.nrrd' },
    { name: 'z', image: 'z.npz', label: undefined },
  ]);
  assert.throws(() => findCases(join(tmp, 'missing')), /does not exist/);
  const empty = join(tmp, 'empty');
  freshDir(empty);
  assert.throws(
    () => findCases(empty),
    (e: unknown) => e instanceof MedsamError && /no evaluation cases/.test(e.message),
  );
});

function freshDir(d: string): void {
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d, { recursive: true });
}

test('findCases on the shared data pairs example_ct_sm with its _seg label', {
  skip: !existsSync('../shared/data/ct-organs') && 'needs ../shared/data',
}, () => {
  const dir = join(tmp, 'shared-links');
  freshDir(dir);
  for (const f of ['example_ct_sm.nii.gz', 'example_ct_sm_seg.nii.gz']) symlinkSync(resolve('../shared/data/ct-organs', f), join(dir, f));
  const c = findCases(dir);
  assert.equal(c.length, 1);
  assert.equal(c[0]!.name, 'example_ct_sm');
  assert.match(c[0]!.label!, /example_ct_sm_seg\.nii\.gz$/);
});

/** x-fastest 3D mask with the given voxels set. */
function mask(dims: [number, number, number], voxels: [number, number, number][]): Uint8Array {
  const m = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (const [x, y, z] of voxels) m[x + dims[0] * (y + dims[1] * z)] = 1;
  return m;
}

function rect(x0: number, y0: number, x1: number, y1: number, z: number): [number, number, number][] {
  const out: [number, number, number][] = [];
  for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) out.push([x, y, z]);
  return out;
}

test('key-box: tight box on the largest slice', () => {
  const dims: [number, number, number] = [20, 16, 5];
  const ref = mask(dims, [...rect(2, 3, 5, 6, 1), ...rect(4, 2, 12, 9, 3), ...rect(0, 0, 1, 1, 4)]);
  assert.equal(largestSlice(ref, dims), 3);
  assert.equal(largestSlice(new Uint8Array(ref.length), dims), -1);
  assert.deepEqual(promptFromReference('key-box', { reference: ref, dims }), { objId: 1, slice: 3, box: [4, 2, 12, 9] });
  // along y (axis 1) the slice is (rows z, cols x); the largest is the one with most voxels
  assert.equal(largestSlice(ref, dims, 1), 3);
  const c = promptFromReference('key-box-center', { reference: ref, dims });
  assert.deepEqual(c.box, [4, 2, 12, 9]);
  assert.equal(c.points!.length, 1);
  const p = c.points![0]!;
  assert.equal(p.label, 1);
  // most interior pixel of a 9x8 rectangle: 3 pixels from its nearest edge
  assert.ok(p.x >= 7 && p.x <= 9 && p.y >= 5 && p.y <= 6, JSON.stringify(p));
  assert.throws(() => promptFromReference('key-box', { reference: new Uint8Array(ref.length), dims }), /reference mask is empty/);
});

test('recist: longest diameter of the key-slice mask, or the npz RECIST line', () => {
  const dims: [number, number, number] = [30, 30, 3];
  const ref = mask(dims, rect(5, 10, 24, 14, 1)); // 20 x 5: diagonal is the longest chord
  const p = promptFromReference('recist', { reference: ref, dims });
  assert.equal(p.slice, 1);
  const [x0, y0, x1, y1] = p.recist!;
  assert.equal(Math.hypot(x1 - x0, y1 - y0), Math.hypot(19, 4));
  assert.deepEqual(recistToBox(p.recist!, 30, 30), [5, 3, 23, 21]); // square around the truncated midpoint (14, 12), half-side 9, as MedSAM2 builds it
  assert.deepEqual(longestDiameter(mask([5, 5, 1], [[2, 2, 0]]), 5, 5), [2, 2, 2, 2]);
  const line = mask(dims, [
    [3, 4, 2],
    [4, 5, 2],
    [5, 6, 2],
    [6, 7, 2],
  ]);
  assert.deepEqual(promptFromReference('recist', { reference: ref, dims, recist: line }), { objId: 1, slice: 2, recist: [3, 4, 6, 7] });
  assert.deepEqual(interiorPoint(mask([3, 3, 1], rect(0, 0, 2, 2, 0)), 3, 3), { x: 0, y: 0 }); // all foreground: first pixel
});

test('report: means, null HD95, CSV and JSON shape, atomic files', () => {
  const r = summarise([
    { case: 'a', dsc: 0.8, nsd: 0.9, hd95: 4, seconds: 10 },
    { case: 'b,c', dsc: 0.6, nsd: 0.5, hd95: null, seconds: 12 },
  ]);
  assert.ok(Math.abs(r.mean.dsc - 0.7) < 1e-12 && Math.abs(r.mean.nsd - 0.7) < 1e-12);
  assert.equal(r.mean.hd95, 4);
  assert.equal(reportCsv(r), 'case,dsc,nsd,hd95,seconds\na,0.8,0.9,4,10\n"b,c",0.6,0.5,,12\nmean,0.7,0.7,4,\n');
  assert.match(formatReportTable(r), /mean\s+0\.7000\s+0\.7000\s+4\.00/);
  const out = join(tmp, 'report', 'nested');
  writeReport(out, r);
  const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  assert.deepEqual(json, {
    cases: [
      { case: 'a', dsc: 0.8, nsd: 0.9, hd95: 4, seconds: 10 },
      { case: 'b,c', dsc: 0.6, nsd: 0.5, hd95: null, seconds: 12 },
    ],
    mean: { dsc: r.mean.dsc, nsd: r.mean.nsd, hd95: 4 },
  });
  assert.deepEqual(readdirSync(out).sort(), ['report.csv', 'report.json']);
  writeFileSync(join(tmp, 'a-file'), '');
  assert.throws(() => writeReport(join(tmp, 'a-file'), r), /is a file/);
  assert.equal(summarise([{ case: 'x', dsc: 0, nsd: 0, hd95: null, seconds: 1 }]).mean.hd95, null);
});
