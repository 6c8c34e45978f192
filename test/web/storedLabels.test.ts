/**
 * The app's readers of what the server sends, which are the core's (no browser needed): the stored
 * label map (storedLabels.ts, through src/io/niftiRead.ts) and a version's label map
 * (projects/labelMapFile.ts, through src/io/npz.ts), on the real CT-organs label map.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'fflate';
import { encodeNifti } from '../../src/io/niftiWrite.js';
import { encodeNpzMask } from '../../src/io/npzCase.js';
import { readVolume } from '../../src/io/readVolume.js';
import { labelMapFromNpz } from '../../web/src/projects/labelMapFile.js';
import { niftiLabels, syncSlices } from '../../web/src/storedLabels.js';

const CT_ORGANS_SEG = join(fileURLToPath(new URL('../../', import.meta.url)), '../shared/data/ct-organs/example_ct_sm_seg.nii.gz');
const skip = !existsSync(CT_ORGANS_SEG) && `../shared/data is absent (${CT_ORGANS_SEG})`;

test('the stored label map and a version label map read through the core: voxels as the Node reader reads them; anything else refused', {
  skip,
}, async () => {
  const seg = await readVolume(CT_ORGANS_SEG);
  assert.ok(seg.data instanceof Uint8Array);
  const dims = seg.dims;
  // The real file as a browser gets it (gzip bytes), and the server's own encoding of it.
  const fileBytes = new Uint8Array(readFileSync(CT_ORGANS_SEG));
  assert.deepEqual(niftiLabels(fileBytes, dims), seg.data);
  const served = encodeNifti(seg, 'labels.nii.gz');
  assert.deepEqual(niftiLabels(served, dims), seg.data);
  // Another grid, a truncated stream, a wider datatype, bytes that are no NIfTI: undefined (the app then reads slice by slice).
  assert.equal(niftiLabels(served, [dims[0], dims[1], dims[2] + 1]), undefined);
  assert.equal(niftiLabels(served.subarray(0, served.length >> 1), dims), undefined);
  const wide = { ...seg, data: Int16Array.from(seg.data as Uint8Array, (v) => (v ? v + 300 : 0)) };
  assert.equal(niftiLabels(encodeNifti(wide, 'labels.nii.gz'), dims), undefined);
  assert.equal(niftiLabels(gzipSync(new TextEncoder().encode('<html>502 Bad Gateway</html>')), dims), undefined);

  // A version's label map (the server's npz `segs`): same voxels, x fastest.
  const v = labelMapFromNpz(encodeNpzMask(seg, 'v1.npz'));
  assert.deepEqual(v.dims, dims);
  assert.deepEqual(v.labels, seg.data);
  assert.throws(() => labelMapFromNpz(Uint8Array.from([1, 2, 3])), /not a readable \.npz/);

  // The overlay diff: exactly the z-slices that differ are reported and copied.
  const shown = new Uint8Array(seg.data.length);
  const planes = new Set<number>();
  for (let i = 0; i < seg.data.length; i++) if (seg.data[i]) planes.add(Math.floor(i / (dims[0] * dims[1])));
  assert.deepEqual(
    syncSlices(shown, seg.data as Uint8Array, dims[0], dims[1]),
    [...planes].sort((a, b) => a - b),
  );
  assert.deepEqual(shown, seg.data);
  assert.deepEqual(syncSlices(shown, seg.data as Uint8Array, dims[0], dims[1]), []);
});
