import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { PNG } from 'pngjs';
import { readVolume, detectVolumeFormat } from '../../src/io/readVolume.js';
import { readNifti } from '../../src/io/readVolume.js';
import { readImage2D } from '../../src/io/imageFile.js';
import { describeVolume } from '../../src/io/describeVolume.js';
import { orientationCode } from '../../src/io/geometry.js';
import { reorientToGrid } from '../../src/io/reorientToGrid.js';
import { writeMask } from '../../src/io/writeMask.js';
import type { Volume } from '../../src/io/volume.js';
import { buildNifti, bytesOf } from './niftiBuilder.js';
import { assertSameGeometry, assertSameLabels, data, skipUnless, tmp } from './ioTestUtil.js';

const ramp = (n: number): Int16Array => Int16Array.from({ length: n }, (_, i) => i - 5);

function writeTmp(name: string, bytes: Uint8Array | string): string {
  const p = join(tmp(), name);
  writeFileSync(p, bytes);
  return p;
}

test('NIfTI qform only: quaternion, qfac = -1 and qoffset give the LPS grid', () => {
  // 180° about z (b,c,d = 0,0,1): R = diag(-1,-1,1) in RAS; qfac -1 flips the k axis.
  const p = writeTmp(
    'q.nii',
    buildNifti({
      dim: [3, 2, 3, 4],
      datatype: 4,
      bitpix: 16,
      pixdim: [-1, 2, 3, 4],
      qformCode: 1,
      quatern: [0, 0, 1],
      qoffset: [10, 20, 30],
      voxels: bytesOf(ramp(24)),
    }),
  );
  const v = readNifti(p);
  assert.deepEqual(v.dims, [2, 3, 4]);
  assert.deepEqual(v.spacing, [2, 3, 4]);
  assert.deepEqual(v.origin, [-10, -20, 30]);
  assert.deepEqual(v.direction, [1, 0, 0, 0, 1, 0, 0, 0, -1]);
  assert.equal(orientationCode(v.direction), 'LPI');
  assert.ok(v.data instanceof Int16Array, 'no scaling → native type');
  assert.deepEqual(Array.from(v.data.slice(0, 3)), [-5, -4, -3]);
});

test('NIfTI sform wins over qform when sform_code > 0; pixdim only when neither is set', () => {
  const voxels = new Uint8Array(8);
  const both = readNifti(
    writeTmp(
      's.nii',
      buildNifti({
        dim: [3, 2, 2, 2],
        datatype: 2,
        bitpix: 8,
        pixdim: [1, 9, 9, 9],
        qformCode: 1,
        quatern: [0, 0, 1],
        qoffset: [1, 1, 1],
        sformCode: 2,
        srow: [1.5, 0, 0, 5, 0, 1.5, 0, 6, 0, 0, 2, 7],
        voxels,
      }),
    ),
  );
  assert.deepEqual(both.spacing, [1.5, 1.5, 2]);
  assert.deepEqual(both.origin, [-5, -6, 7]);
  assert.deepEqual(both.direction, [-1, 0, 0, 0, -1, 0, 0, 0, 1]);
  assert.equal(orientationCode(both.direction), 'RAS');
  const none = readNifti(writeTmp('n.nii', buildNifti({ dim: [3, 2, 2, 2], datatype: 2, bitpix: 8, pixdim: [1, 0.5, 0.5, 2], voxels })));
  assert.deepEqual(none.spacing, [0.5, 0.5, 2]);
  assert.deepEqual(none.origin, [0, 0, 0]);
  assert.deepEqual(none.direction, [-1, 0, 0, 0, -1, 0, 0, 0, 1]);
  // Spatial unit metres (xyzt_units 1) → mm.
  const metres = readNifti(
    writeTmp('m.nii', buildNifti({ dim: [3, 2, 2, 2], datatype: 2, bitpix: 8, pixdim: [1, 0.001, 0.001, 0.002], xyztUnits: 1, voxels })),
  );
  metres.spacing.forEach((s, i) => assert.ok(Math.abs(s - [1, 1, 2][i]) < 1e-6));
});

test('NIfTI scl_slope/scl_inter → Float32 values; big-endian files are swapped', () => {
  const scaled = readNifti(
    writeTmp(
      'sc.nii',
      buildNifti({
        dim: [3, 4, 1, 1],
        datatype: 4,
        bitpix: 16,
        sclSlope: 2,
        sclInter: -5,
        voxels: bytesOf(Int16Array.from([0, 1, 2, 300])),
      }),
    ),
  );
  assert.ok(scaled.data instanceof Float32Array);
  assert.deepEqual(Array.from(scaled.data), [-5, -3, -1, 595]);
  const be = readNifti(
    writeTmp(
      'be.nii',
      buildNifti({
        littleEndian: false,
        dim: [3, 4, 1, 1],
        datatype: 4,
        bitpix: 16,
        sformCode: 1,
        srow: [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0],
        voxels: bytesOf(Int16Array.from([1, -2, 258, -300]), true),
      }),
    ),
  );
  assert.deepEqual(Array.from(be.data as ArrayLike<number>), [1, -2, 258, -300]);
  assert.deepEqual(be.spacing, [1, 1, 1]);
});

test('NIfTI every scalar datatype decodes to the matching typed array', () => {
  const cases: [number, number, ArrayBufferView & { BYTES_PER_ELEMENT: number; length: number }, string][] = [
    [2, 8, Uint8Array.from([0, 255, 7]), 'Uint8Array'],
    [256, 8, Int8Array.from([-128, 127, 0]), 'Int8Array'],
    [4, 16, Int16Array.from([-32768, 32767, 1]), 'Int16Array'],
    [512, 16, Uint16Array.from([0, 65535, 2]), 'Uint16Array'],
    [8, 32, Int32Array.from([-2e9, 2e9, 3]), 'Int32Array'],
    [768, 32, Uint32Array.from([0, 4e9, 4]), 'Uint32Array'],
    [16, 32, Float32Array.from([0.5, -1.25, 3e38]), 'Float32Array'],
    [64, 64, Float64Array.from([1e-300, -2.5, 1e300]), 'Float64Array'],
    [1024, 64, BigInt64Array.from([-5n, 0n, 7n]), 'Int32Array'], // int64 that fits → Int32Array
  ];
  for (const [code, bits, arr, cls] of cases) {
    const v = readNifti(writeTmp(`t${code}.nii`, buildNifti({ dim: [3, 3, 1, 1], datatype: code, bitpix: bits, voxels: bytesOf(arr) })));
    assert.equal(v.data.constructor.name, cls, `datatype ${code}`);
    assert.deepEqual(
      Array.from(v.data as ArrayLike<number>, Number),
      Array.from(arr as unknown as ArrayLike<number | bigint>, Number),
      `datatype ${code}`,
    );
  }
});

test('NIfTI-2 (.nii.gz, double transforms) reads; 4D needs a frame', () => {
  const vox = Float64Array.from({ length: 2 * 2 * 2 * 3 }, (_, i) => i / 4);
  const bytes = buildNifti({
    version: 2,
    dim: [4, 2, 2, 2, 3],
    datatype: 64,
    bitpix: 64,
    pixdim: [1, 0.7, 0.7, 1.3],
    sformCode: 1,
    srow: [0.7, 0, 0, -1.1, 0, 0.7, 0, 2.2, 0, 0, 1.3, 3.3],
    voxels: bytesOf(vox),
  });
  const p = writeTmp('v2.nii.gz', gzipSync(bytes));
  assert.throws(() => readNifti(p), /is 4D \(3 volumes of 2x2x2\).*frame option/);
  const v = readNifti(p, { frame: 2 });
  assert.equal((v.header as { version: number }).version, 2);
  assert.deepEqual(v.spacing, [0.7, 0.7, 1.3]);
  assert.deepEqual(v.origin, [1.1, -2.2, 3.3]);
  assert.deepEqual(Array.from(v.data as ArrayLike<number>), Array.from(vox.slice(16, 24)));
  assert.throws(() => readNifti(p, { frame: 3 }), /volume 3 is out of range/);
});

test('NRRD: raw big-endian RAS, ascii, old-style spacings, 2D, detached .nhdr with gzip data', async () => {
  const dir = tmp();
  const ras =
    'NRRD0004\ntype: short\ndimension: 3\nspace: RAS\nsizes: 2 2 1\nspace directions: (1,0,0) (0,1,0) (0,0,2)\nendian: big\nencoding: raw\nspace origin: (10,20,30)\n\n';
  writeFileSync(join(dir, 'ras.nrrd'), Buffer.concat([Buffer.from(ras), Buffer.from(bytesOf(Int16Array.from([1, -2, 300, 4]), true))]));
  const r = await readVolume(join(dir, 'ras.nrrd'));
  assert.deepEqual(Array.from(r.data as ArrayLike<number>), [1, -2, 300, 4]);
  assert.deepEqual(r.origin, [-10, -20, 30]);
  assert.deepEqual(r.direction, [-1, 0, 0, 0, -1, 0, 0, 0, 1]);
  assert.deepEqual(r.spacing, [1, 1, 2]);

  writeFileSync(
    join(dir, 'a.nrrd'),
    'NRRD0001\ntype: float\ndimension: 2\nsizes: 3 2\nspacings: 0.5 0.25\nencoding: ascii\n\n1 2 3\n4.5 5 6\n',
  );
  const a = await readVolume(join(dir, 'a.nrrd'));
  assert.deepEqual(a.dims, [3, 2, 1]);
  assert.deepEqual(Array.from(a.data as ArrayLike<number>), [1, 2, 3, 4.5, 5, 6]);
  assert.deepEqual(a.spacing, [0.5, 0.25, 1]);

  writeFileSync(join(dir, 'd.raw.gz'), gzipSync(bytesOf(Uint16Array.from([7, 8, 9, 10, 11, 12]))));
  writeFileSync(
    join(dir, 'd.nhdr'),
    'NRRD0004\ntype: ushort\ndimension: 3\nspace: left-posterior-superior\nsizes: 1 2 3\nspace directions: (0,0,1) (0,1,0) (1,0,0)\nencoding: gzip\nendian: little\ndata file: d.raw.gz\nspace origin: (1,2,3)\n',
  );
  const d = await readVolume(join(dir, 'd.nhdr'));
  assert.deepEqual(d.dims, [1, 2, 3]);
  assert.deepEqual(Array.from(d.data as ArrayLike<number>), [7, 8, 9, 10, 11, 12]);
  assert.deepEqual(d.direction, [0, 0, 1, 0, 1, 0, 1, 0, 0]);
  assert.deepEqual(d.origin, [1, 2, 3]);
});

test('MetaImage: .mhd + .raw (MSB), .mhd + .zraw; TransformMatrix lists axis vectors', async () => {
  const dir = tmp();
  const head = (extra: string): string =>
    `ObjectType = Image\nNDims = 3\nDimSize = 2 1 2\nElementType = MET_USHORT\nElementSpacing = 0.5 1 2\nOffset = 1 2 3\nTransformMatrix = 0 1 0 -1 0 0 0 0 1\n${extra}`;
  writeFileSync(join(dir, 'a.raw'), bytesOf(Uint16Array.from([1, 2, 513, 65535]), true));
  writeFileSync(join(dir, 'a.mhd'), head('BinaryDataByteOrderMSB = True\nElementDataFile = a.raw\n'));
  const a = await readVolume(join(dir, 'a.mhd'));
  assert.deepEqual(Array.from(a.data as ArrayLike<number>), [1, 2, 513, 65535]);
  // axis 0 points along +y, axis 1 along -x (ITK reads TransformMatrix row i as axis i).
  assert.deepEqual(a.direction, [0, -1, 0, 1, 0, 0, 0, 0, 1]);
  assert.deepEqual(a.spacing, [0.5, 1, 2]);
  assert.deepEqual(a.origin, [1, 2, 3]);
  writeFileSync(join(dir, 'b.zraw'), deflateSync(bytesOf(Uint16Array.from([4, 3, 2, 1]))));
  writeFileSync(join(dir, 'b.mhd'), head('CompressedData = True\nElementDataFile = b.zraw\n'));
  assert.deepEqual(Array.from((await readVolume(join(dir, 'b.mhd'))).data as ArrayLike<number>), [4, 3, 2, 1]);
});

test('MedSAM2 npz ct-lesion: spacing is x,y,z; direction row-major; gts on the grid', { skip: skipUnless('ct-lesion') }, async () => {
  const { readNpzCase } = await import('../../src/io/npzFile.js');
  const c = await readNpzCase(data('ct-lesion/CT_Lesion_000001_02_01_008-023.npz'));
  assert.deepEqual(c.image.dims, [512, 512, 16]);
  assert.deepEqual(c.image.spacing, [0.31445300579071045, 0.31445300579071045, 5]);
  assert.deepEqual(c.image.direction, [0, 1, 0, 1, 0, 0, 0, 0, -1]);
  assert.deepEqual(c.image.origin, [0, 0, 0]);
  assert.ok(c.label && c.label.data.length === c.image.data.length);
  assert.equal(c.recist, undefined);
  // Explicit z,y,x reading swaps the first and last spacing.
  const zyx = await readNpzCase(data('ct-lesion/CT_Lesion_000001_02_01_008-023.npz'), { spacingOrder: 'zyx' });
  assert.deepEqual(zyx.image.spacing, [5, 0.31445300579071045, 0.31445300579071045]);
});

test('PNG/JPEG: gray stays 1 channel, rgb option gives 3; volume is luminance with nz = 1', {
  skip: skipUnless('endoscopy/kvasir'),
}, async () => {
  const jpg = data('endoscopy/kvasir/images/cju0qkwl35piu0993l0dewei2.jpg');
  const rgb = readImage2D(jpg);
  assert.equal(rgb.channels, 3);
  assert.deepEqual([rgb.width, rgb.height], [622, 529]);
  const v = await readVolume(jpg);
  assert.deepEqual(v.dims, [622, 529, 1]);
  const i = 300 * 622 + 311;
  const [r, g, b] = rgb.data.subarray(3 * i, 3 * i + 3);
  assert.equal(v.data[i], Math.round((r * 299 + g * 587 + b * 114) / 1000));
  const png = new PNG({ width: 3, height: 2 });
  png.data = Buffer.from([10, 10, 10, 255, 20, 20, 20, 255, 30, 30, 30, 255, 40, 40, 40, 255, 50, 50, 50, 255, 60, 60, 60, 0]);
  const p = writeTmp('g.png', PNG.sync.write(png));
  const gray = readImage2D(p);
  assert.equal(gray.channels, 1);
  assert.deepEqual(Array.from(gray.data), [10, 20, 30, 40, 50, 60]);
  assert.equal(readImage2D(p, { rgb: true }).channels, 3);
});

test('format detection by extension, folder and magic bytes', { skip: skipUnless('formats') }, () => {
  assert.equal(detectVolumeFormat(data('dicom/ct-series')), 'dicom');
  assert.equal(detectVolumeFormat(data('formats/sample.mha')), 'metaimage');
  const dir = tmp();
  const copies: [string, string, string][] = [
    ['formats/FLAIR.nrrd', 'x1', 'nrrd'],
    ['formats/enhanced_mr.dcm', 'x2', 'dicom'],
    ['ct-organs/example_ct_sm.nii.gz', 'x3', 'nifti'],
    ['ct-lesion/CT_Lesion_000001_02_01_008-023.npz', 'x4', 'npz'],
    ['formats/sample.mha', 'x5', 'metaimage'],
  ];
  for (const [src, name, fmt] of copies) {
    writeFileSync(join(dir, name), readFileSync(data(src)));
    assert.equal(detectVolumeFormat(join(dir, name)), fmt, src);
  }
});

test('describeVolume reports format, dims, spacing, orientation code, datatype, intensities, modality', {
  skip: skipUnless('dicom/seg-ct-3slice'),
}, async () => {
  const v = await readVolume(data('dicom/seg-ct-3slice'));
  const d = describeVolume(v);
  assert.match(d, /format: +dicom/);
  assert.match(d, /dimensions: +512 x 512 x 3 voxels \(3D\)/);
  assert.match(d, /spacing: +0\.810547 x 0\.810547 x 1 mm/);
  assert.match(d, /orientation: +LPS\n/);
  assert.match(d, /datatype: +int16/);
  assert.match(d, /intensity: +min -?\d+, max \d+, mean -?[\d.]+/);
  assert.match(d, /modality: +CT/);
  assert.equal(orientationCode([-1, 0, 0, 0, -1, 0, 0, 0, 1]), 'RAS');
  assert.equal(orientationCode([0, 0, 1, 1, 0, 0, 0, -1, 0]), 'PIL');
});

test('reorientToGrid undoes axis permutations and flips exactly, and refuses other grids', async () => {
  const base: Volume = {
    data: Int16Array.from({ length: 24 }, (_, i) => i),
    dims: [2, 3, 4],
    spacing: [1, 2, 3],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    source: { format: 'nifti', path: 'base' },
  };
  // Same voxels, stored with axes (z, -y, x): i' = k, j' = 2 - j, k' = i.
  const perm = new Int16Array(24);
  for (let k = 0; k < 4; k++)
    for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) perm[k + 4 * (2 - j + 3 * i)] = base.data[i + 2 * (j + 3 * k)] as number;
  const other: Volume = {
    ...base,
    data: perm,
    dims: [4, 3, 2],
    spacing: [3, 2, 1],
    origin: [0, 4, 0],
    direction: [0, 0, 1, 0, -1, 0, 1, 0, 0],
    source: { format: 'nifti', path: 'other' },
  };
  const back = reorientToGrid(other, base);
  assertSameGeometry(back, base, 0);
  assertSameLabels(back.data, base.data);
  assert.throws(() => reorientToGrid({ ...other, origin: [0, 5, 0] }, base), /not on the same voxel grid .*origins are/);
  assert.throws(() => reorientToGrid({ ...other, spacing: [3, 2, 1.5] }, base), /not on the same voxel grid/);
  // And through a file: a NIfTI mask written on the permuted grid comes back onto the base grid.
  const p = join(tmp(), 'perm.nii.gz');
  await writeMask(p, { ...other, data: Uint8Array.from(perm) });
  assertSameLabels(reorientToGrid(await readVolume(p), base, 1e-4).data, base.data);
});

test('NIfTI writer: the qform it writes encodes the same grid as its sform (oblique, both handednesses)', async () => {
  const c = Math.cos(0.3),
    s = Math.sin(0.3);
  // A rotation about an oblique axis, and its mirror image (det -1 → qfac -1).
  const rot = [c, -s, 0, s * Math.cos(0.2), c * Math.cos(0.2), -Math.sin(0.2), s * Math.sin(0.2), c * Math.sin(0.2), Math.cos(0.2)];
  for (const direction of [rot, rot.map((x, i) => (i % 3 === 2 ? -x : x))]) {
    const mask: Volume = {
      data: Uint8Array.from({ length: 24 }, (_, i) => i % 3),
      dims: [2, 3, 4],
      spacing: [0.8, 1.1, 2.5],
      origin: [-12.5, 30.25, 7],
      direction: direction as Volume['direction'],
      source: { format: 'nrrd', path: 'mem' },
    };
    const p = join(tmp(), 'q.nii');
    await writeMask(p, mask);
    const viaSform = await readVolume(p);
    assertSameGeometry(viaSform, mask, 1e-5, 'sform');
    const bytes = readFileSync(p);
    bytes.writeInt16LE(0, 254); // sform_code = 0 → readers fall back to the qform
    writeFileSync(p, bytes);
    const viaQform = await readVolume(p);
    assertSameGeometry(viaQform, mask, 1e-5, 'qform');
    assertSameLabels(viaQform.data, mask.data);
  }
});
