import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readVolume } from '../../src/io/readVolume.js';
import { writeMask } from '../../src/io/writeMask.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { reorientToGrid } from '../../src/io/reorientToGrid.js';
import type { Volume } from '../../src/io/volume.js';
import { assertSameGeometry, assertSameLabels, countNonzero, data, skipUnless, thresholdMask, tmp } from './ioTestUtil.js';

/** Write `mask` (segmented on `image`) as each extension, read it back, compare. */
async function roundTrip(image: Volume, mask: Volume, exts: Record<string, number>): Promise<void> {
  assert.ok(countNonzero(mask.data) > 0, 'test mask must not be empty');
  const dir = tmp();
  for (const [ext, tol] of Object.entries(exts)) {
    const out = join(dir, `mask${ext}`);
    await writeMask(out, mask, image);
    const back = await readVolume(out);
    assertSameGeometry(back, image, tol, ext);
    assertSameLabels(back.data, mask.data, ext);
  }
}

test('NIfTI ct-organs: label map → .nii.gz exact (header transforms reused byte-for-byte), → .nrrd', {
  skip: skipUnless('ct-organs'),
}, async () => {
  const image = await readVolume(data('ct-organs/example_ct_sm.nii.gz'));
  const seg = await readVolume(data('ct-organs/example_ct_sm_seg.nii.gz'));
  assertSameGeometry(seg, image, 0, 'reference seg');
  await roundTrip(image, seg, { '.nii.gz': 0, '.nrrd': 1e-9 });
  // qform_code … srow_z (bytes 252..327) are copied from the source header.
  const dir = tmp();
  await writeMask(join(dir, 'm.nii.gz'), seg, image);
  const src = gunzipSync(readFileSync(data('ct-organs/example_ct_sm.nii.gz')));
  const out = gunzipSync(readFileSync(join(dir, 'm.nii.gz')));
  assert.deepEqual(out.subarray(252, 328), src.subarray(252, 328));
  assert.deepEqual(out.subarray(76, 92), src.subarray(76, 92), 'pixdim[0..3]');
});

test('NIfTI mr-brain (oblique qform+sform): lesion labels → .nii.gz exact, → .nrrd', { skip: skipUnless('mr-brain') }, async () => {
  const image = await readVolume(data('mr-brain/FLAIR.nii.gz'));
  const lesion = await readVolume(data('mr-brain/FLAIR_lesion.nii.gz'));
  await roundTrip(image, lesion, { '.nii.gz': 0, '.nrrd': 1e-9 });
});

test('NRRD mr-brain (int32 labels, LPS with flipped y) → .nrrd exact, → .nii.gz within 1e-5', {
  skip: skipUnless('mr-brain'),
}, async () => {
  const image = await readVolume(data('mr-brain/brain1_image.nrrd'));
  const label = await readVolume(data('mr-brain/brain1_label.nrrd'));
  assert.ok(label.data instanceof Int32Array);
  await roundTrip(image, label, { '.nrrd': 0, '.nii.gz': 1e-5 });
});

test('NRRD formats/FLAIR.nrrd (oblique) → .nrrd exact, → .nii.gz within 1e-5', { skip: skipUnless('formats/FLAIR.nrrd') }, async () => {
  const image = await readVolume(data('formats/FLAIR.nrrd'));
  await roundTrip(image, thresholdMask(image), { '.nrrd': 0, '.nii.gz': 1e-5 });
});

test('MetaImage formats/sample.mha → .nii.gz and .nrrd', { skip: skipUnless('formats/sample.mha') }, async () => {
  const image = await readVolume(data('formats/sample.mha'));
  await roundTrip(image, thresholdMask(image), { '.nii.gz': 1e-5, '.nrrd': 1e-12 });
});

test('MedSAM2 npz ct-lesion: gts → .npz segs (exact, same keys layout) and → .nii.gz', { skip: skipUnless('ct-lesion') }, async () => {
  const c = await readNpzCase(data('ct-lesion/CT_Lesion_000001_02_01_008-023.npz'));
  assert.ok(c.label);
  await roundTrip(c.image, c.label, { '.npz': 0, '.nii.gz': 1e-5 });
});

test('DICOM ct-series: reference seg on the series grid → .nii.gz and .nrrd', { skip: skipUnless('dicom/ct-series') }, async () => {
  const image = await readVolume(data('dicom/ct-series'));
  const seg = reorientToGrid(await readVolume(data('dicom/ct-series_seg.nii.gz')), image);
  await roundTrip(image, seg, { '.nii.gz': 1e-5, '.nrrd': 0 });
});

test('PNG mask of a 2D JPEG frame round-trips exactly', { skip: skipUnless('endoscopy/kvasir') }, async () => {
  const image = await readVolume(data('endoscopy/kvasir/images/cju0qkwl35piu0993l0dewei2.jpg'));
  const ref = await readVolume(data('endoscopy/kvasir/masks/cju0qkwl35piu0993l0dewei2.jpg'));
  const mask = { ...ref, data: Uint8Array.from(ref.data as Uint8Array, (x) => (x > 127 ? 1 : 0)) };
  await roundTrip(image, mask, { '.png': 0, '.nii.gz': 0 });
});
