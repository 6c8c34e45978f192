// The reading flags the error messages point to exist and work: --series picks one series of a
// mixed DICOM folder, --volume one volume of a 4D NIfTI, --max-voxels lowers the limit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, assertUserError } from '../helpers/cli.js';
import { buildNifti, bytesOf } from './niftiBuilder.js';
import { data, skipUnless, tmp } from './ioTestUtil.js';

test('info --series on a two-series DICOM folder; the refusal names --series', {
  skip: skipUnless('dicom/seg-ct-3slice') || skipUnless('dicom/ct-series'),
}, () => {
  const dir = tmp();
  for (const f of ['01.dcm', '02.dcm', '03.dcm']) copyFileSync(data(`dicom/seg-ct-3slice/${f}`), join(dir, f));
  readdirSync(data('dicom/ct-series'))
    .sort()
    .slice(0, 2)
    .forEach((f) => copyFileSync(data(`dicom/ct-series/${f}`), join(dir, f)));
  const refused = runCli(['info', dir]);
  assertUserError(refused, /mixes 2 series.*--series/);
  const uid = /(\S+) \(CT, 3 files\)/.exec(refused.stderr)![1]!;
  const r = runCli(['info', dir, '--series', uid]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /dimensions:\s+512 x 512 x 3 voxels/);
});

test('info --volume N reads one volume of a 4D NIfTI; --max-voxels refuses above it', () => {
  const dir = tmp();
  const vox = Int16Array.from({ length: 4 * 4 * 2 * 3 }, (_, i) => Math.floor(i / 32) * 100 + 1); // volume k holds 100k+1
  const p = join(dir, 'fmri.nii');
  writeFileSync(p, buildNifti({ dim: [4, 4, 4, 2, 3], datatype: 4, bitpix: 16, voxels: bytesOf(vox) }));
  const r = runCli(['info', p, '--volume', '2']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /intensity:\s+min 201, max 201/);
  assertUserError(runCli(['info', p, '--volume', '1', '--max-voxels', '80']), /declares 4x4x2x3 = 96 voxels, above the limit of 80 voxels/);
});
