// Bytes in, bytes out (issue #8 item 2): every parser reads bytes + a name hint exactly as the
// path layer reads the file; every mask encoder's bytes are what writeMask puts on disk; the
// fflate (browser) inflater and the native (Node) one agree; detached data only from a path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readVolume } from '../../src/io/readVolume.js';
import { readVolumeBytes } from '../../src/io/volumeBytes.js';
import { encodeMask } from '../../src/io/maskEncode.js';
import { writeMask } from '../../src/io/writeMask.js';
import { parseNpzCase } from '../../src/io/npzCase.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { decodeImage2D } from '../../src/io/image2d.js';
import { readImage2D } from '../../src/io/imageFile.js';
import { MedsamError } from '../../src/common/errors.js';
import type { Volume } from '../../src/io/volume.js';
import { data, skipUnless, tmp } from './ioTestUtil.js';

const FILES = [
  'ct-organs/example_ct_sm.nii.gz',
  'mr-brain/brain1_image.nrrd',
  'formats/FLAIR.nrrd',
  'formats/sample.mha',
  'ct-lesion/CT_Lesion_000001_02_01_008-023.npz',
  'endoscopy/kvasir/images/cju0qkwl35piu0993l0dewei2.jpg',
];

function sameVolume(a: Volume, b: Volume, what: string): void {
  assert.deepEqual(a.dims, b.dims, `${what} dims`);
  assert.deepEqual(a.spacing, b.spacing, `${what} spacing`);
  assert.deepEqual(a.origin, b.origin, `${what} origin`);
  assert.deepEqual(a.direction, b.direction, `${what} direction`);
  assert.equal(a.data.constructor, b.data.constructor, `${what} dtype`);
  assert.ok(
    Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength).equals(
      Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength),
    ),
    `${what} voxels`,
  );
}

test('readVolumeBytes(bytes, name) equals readVolume(path) for every shared format, with fflate or native inflate', {
  skip: skipUnless('formats') || skipUnless('endoscopy/kvasir'),
}, async () => {
  for (const f of FILES) {
    const path = data(f);
    const viaPath = await readVolume(path);
    const bytes = new Uint8Array(readFileSync(path));
    // Default inflater = fflate streaming (what a browser runs); the name is only a hint.
    sameVolume(readVolumeBytes(bytes, f.split('/').pop()!), viaPath, f);
    // The format also comes from the content when the hint has no telling extension.
    if (!f.endsWith('.npz')) sameVolume(readVolumeBytes(bytes, 'upload.bin'), viaPath, `${f} by content`);
  }
});

test('npz cases and pictures from bytes equal their path forms', {
  skip: skipUnless('ct-lesion') || skipUnless('endoscopy/kvasir'),
}, async () => {
  const npz = data('ct-lesion/CT_Lesion_000001_02_01_008-023.npz');
  const a = parseNpzCase(new Uint8Array(readFileSync(npz)), 'case.npz');
  const b = await readNpzCase(npz);
  sameVolume(a.image, b.image, 'imgs');
  sameVolume(a.label!, b.label!, 'gts');
  const jpg = data('endoscopy/kvasir/images/cju0qkwl35piu0993l0dewei2.jpg');
  const p = decodeImage2D(new Uint8Array(readFileSync(jpg)), 'x.jpg', { rgb: true });
  assert.deepEqual(p.data, readImage2D(jpg, { rgb: true }).data);
});

test('mask encoders return exactly the bytes writeMask writes, for every mask format', { skip: skipUnless('ct-organs') }, async () => {
  const image = await readVolume(data('ct-organs/example_ct_sm.nii.gz'));
  const seg = await readVolume(data('ct-organs/example_ct_sm_seg.nii.gz'));
  const dir = tmp();
  for (const ext of ['.nii.gz', '.nii', '.nrrd', '.npz']) {
    const out = join(dir, `m${ext}`);
    await writeMask(out, seg, image);
    assert.deepEqual(new Uint8Array(readFileSync(out)), encodeMask(seg, `m${ext}`, image), ext);
    // …and they read back from bytes to the same labels.
    const back = readVolumeBytes(encodeMask(seg, `m${ext}`, image), `m${ext}`);
    assert.deepEqual(
      Array.from(back.data as ArrayLike<number>, Number),
      Array.from(seg.data as ArrayLike<number>, Number),
      `${ext} labels`,
    );
  }
  const slice: Volume = { ...seg, dims: [seg.dims[0], seg.dims[1], 1], data: (seg.data as Uint8Array).slice(0, seg.dims[0] * seg.dims[1]) };
  const png = encodeMask(slice, 'm.png');
  await writeMask(join(dir, 'm.png'), slice);
  assert.deepEqual(new Uint8Array(readFileSync(join(dir, 'm.png'))), png);
  assert.deepEqual(readVolumeBytes(png, 'm.png').data, slice.data);
});

test('detached data: refused from bytes (one line, names the file), read from a path only inside the folder; LIST and %d patterns', () => {
  const dir = tmp();
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'a1.raw'), new Uint8Array(16).fill(1));
  writeFileSync(join(dir, 'a2.raw'), new Uint8Array(16).fill(2));
  const head = (df: string): string => `NRRD0004\ntype: uchar\ndimension: 3\nsizes: 4 4 2\nencoding: raw\ndata file: ${df}\n`;
  writeFileSync(join(dir, 'p.nhdr'), head('a%d.raw 1 2 1'));
  writeFileSync(join(dir, 'l.nhdr'), head('LIST') + 'a2.raw\na1.raw\n');
  assert.throws(
    () => readVolumeBytes(readFileSync(join(dir, 'p.nhdr')), 'p.nhdr'),
    (e: unknown) => e instanceof MedsamError && /separate data file \(a1\.raw, …\), which can only be read from a path/.test(e.message),
  );
  return Promise.all([readVolume(join(dir, 'p.nhdr')), readVolume(join(dir, 'l.nhdr'))]).then(([p, l]) => {
    assert.deepEqual([...new Set(p.data as Uint8Array)], [1, 2]);
    assert.equal((p.data as Uint8Array)[0], 1);
    assert.equal((l.data as Uint8Array)[0], 2, 'LIST order kept');
  });
});

test('impossible values: all NaN refused; partial NaN/Inf and zero/negative spacing repaired with one warning each', async () => {
  const { buildNifti, bytesOf } = await import('./niftiBuilder.js');
  const warnings: string[] = [];
  const onWarning = (m: string): void => {
    warnings.push(m);
  };
  const vox = Float32Array.from([NaN, 1, 2, Infinity, -Infinity, 5, NaN, 3]);
  const nii = buildNifti({ dim: [3, 2, 2, 2], datatype: 16, bitpix: 32, pixdim: [1, 0, -2, 1], voxels: bytesOf(vox) });
  const v = readVolumeBytes(nii, 'nan.nii', { onWarning });
  assert.deepEqual(Array.from(v.data as Float32Array), [1, 1, 2, 5, 1, 5, 1, 3]);
  assert.deepEqual(v.spacing, [1, 1, 1]);
  assert.equal(warnings.length, 2, warnings.join('\n'));
  assert.match(warnings.join('\n'), /4 NaN\/infinite voxels; NaN and -Inf read as the minimum 1, \+Inf as the maximum 5/);
  assert.match(warnings.join('\n'), /zero, negative or invalid spacing .*assuming 1 mm on axis x, y/);
  const allNan = buildNifti({ dim: [3, 2, 2, 2], datatype: 16, bitpix: 32, voxels: bytesOf(new Float32Array(8).fill(NaN)) });
  assert.throws(
    () => readVolumeBytes(allNan, 'all.nii', { onWarning }),
    /all.nii has no finite voxel value \(all 8 voxels are NaN or infinite\)/,
  );
  // NRRD with a zero-length space direction and MetaImage with a zero ElementSpacing: 1 mm, warned.
  warnings.length = 0;
  const nrrd = new TextEncoder().encode(
    'NRRD0004\ntype: uchar\ndimension: 3\nsizes: 2 2 2\nspace: LPS\nspace directions: (0.5,0,0) (0,0.5,0) (0,0,0)\nencoding: raw\n\n',
  );
  const n = readVolumeBytes(new Uint8Array([...nrrd, ...new Uint8Array(8)]), 'z.nrrd', { onWarning });
  assert.deepEqual(n.spacing, [0.5, 0.5, 1]);
  assert.deepEqual(n.direction, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
  const mha = new TextEncoder().encode(
    'ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementSpacing = 0 1 -3\nElementType = MET_UCHAR\nElementDataFile = LOCAL\n',
  );
  assert.deepEqual(readVolumeBytes(new Uint8Array([...mha, ...new Uint8Array(8)]), 'z.mha', { onWarning }).spacing, [1, 1, 1]);
  assert.equal(warnings.length, 2, warnings.join('\n'));
});
