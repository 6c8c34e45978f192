import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { MedsamError } from '../../src/common/errors.js';
import { readVolume } from '../../src/io/readVolume.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { encodeNpz } from '../../src/io/npz.js';
import { writeMask } from '../../src/io/writeMask.js';
import type { Volume } from '../../src/io/volume.js';
import { buildNifti, bytesOf } from './niftiBuilder.js';
import { data, skipUnless, tmp } from './ioTestUtil.js';

/** Rejects with a single-line MedsamError whose message names `file` and matches `re`. */
async function rejectsWith(p: Promise<unknown> | (() => unknown), file: string, re: RegExp): Promise<void> {
  const promise = typeof p === 'function' ? Promise.resolve().then(p) : p;
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof MedsamError, `expected MedsamError, got ${String(err)}`);
  assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
  assert.ok(err.message.includes(file), `names ${file}: ${err.message}`);
  assert.match(err.message, re);
  assert.ok(err.hint, 'carries a fix');
}

function put(name: string, bytes: Uint8Array | string): string {
  const p = join(tmp(), name);
  writeFileSync(p, bytes);
  return p;
}

const tiny = (over: Partial<Parameters<typeof buildNifti>[0]> = {}): Uint8Array =>
  buildNifti({ dim: [3, 2, 2, 2], datatype: 4, bitpix: 16, pixdim: [1, 1, 1, 1], voxels: bytesOf(new Int16Array(8)), ...over });

test('missing file, empty file, folder where a file is expected, unknown format', async () => {
  await rejectsWith(readVolume('/nonexistent/ct.nii.gz'), '/nonexistent/ct.nii.gz', /does not exist/);
  const empty = put('empty.nii.gz', new Uint8Array(0));
  await rejectsWith(readVolume(empty), empty, /is empty \(0 bytes\)/);
  const dirNii = join(tmp(), 'folder.nii.gz');
  mkdirSync(dirNii);
  await rejectsWith(readVolume(dirNii, { format: 'nifti' }), dirNii, /is a folder, not a file/);
  const unknown = put('scan.xyz', 'just some text that is no image');
  await rejectsWith(readVolume(unknown), unknown, /cannot tell the image format .*extension \.xyz/);
});

test('NIfTI: corrupt gzip, truncated voxels, wrong magic, unsupported datatype, zero-size dim, hdr/img pair', async () => {
  const good = gzipSync(tiny());
  const cutGz = put('cut.nii.gz', good.subarray(0, good.length - 10));
  await rejectsWith(readVolume(cutGz), cutGz, /not valid gzip data .*truncated or corrupt/);
  const garbled = Buffer.from(good);
  garbled.fill(0, 20, 40);
  const badGz = put('bad.nii.gz', garbled);
  await rejectsWith(readVolume(badGz), badGz, /not valid gzip data/);
  const short = put('short.nii', tiny().subarray(0, 352 + 10));
  await rejectsWith(readVolume(short), short, /is truncated \(expected 16 bytes of voxel data, got 10\)/);
  const header = put('tiny.nii', tiny().subarray(0, 200));
  await rejectsWith(readVolume(header), header, /truncated \(200 bytes, a header alone is 348\)/);
  const noMagic = tiny();
  noMagic.fill(0, 344, 348);
  const nm = put('nomagic.nii', noMagic);
  await rejectsWith(readVolume(nm), nm, /not a NIfTI file/);
  const rgb = put('rgb.nii', tiny({ datatype: 128, bitpix: 24, voxels: new Uint8Array(24) }));
  await rejectsWith(readVolume(rgb), rgb, /unsupported datatype RGB24/);
  const zero = put('zero.nii', tiny({ dim: [3, 2, 0, 2], voxels: new Uint8Array(0) }));
  await rejectsWith(readVolume(zero), zero, /zero-size dimension \(2x0x2\)/);
  const pair = tiny();
  pair.set([0x6e, 0x69, 0x31], 344); // "ni1": header of a .hdr/.img pair
  const hdr = put('pair.nii', pair);
  await rejectsWith(readVolume(hdr), hdr, /\.hdr\/\.img pair/);
});

test('NRRD: truncated gzip/raw data, zero size, unsupported type and encoding, missing detached file, no blank line', async () => {
  const head = (over: string, encoding = 'raw'): string =>
    `NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 ${over}\nencoding: ${encoding}\nendian: little\n\n`;
  const raw = put('raw.nrrd', Buffer.concat([Buffer.from(head('2')), Buffer.alloc(10)]));
  await rejectsWith(readVolume(raw), raw, /truncated \(expected 16 bytes of voxel data, got 10\)/);
  const gz = gzipSync(Buffer.alloc(16));
  const cut = put('cut.nrrd', Buffer.concat([Buffer.from(head('2', 'gzip')), gz.subarray(0, gz.length - 6)]));
  await rejectsWith(readVolume(cut), cut, /not valid gzip data/);
  const zero = put('zero.nrrd', head('0'));
  await rejectsWith(readVolume(zero), zero, /zero-size dimension \(2x2x0\)/);
  const block = put('block.nrrd', head('1').replace('type: short', 'type: block'));
  await rejectsWith(readVolume(block), block, /unsupported type "block"/);
  const bz = put('bz.nrrd', head('1', 'bzip2'));
  await rejectsWith(readVolume(bz), bz, /unsupported encoding "bzip2"/);
  const det = put('det.nhdr', 'NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nencoding: raw\ndata file: missing.raw\n');
  await rejectsWith(readVolume(det), det, /points at data file .*missing\.raw, which does not exist/);
  const rgb = put(
    'rgb.nrrd',
    Buffer.concat([
      Buffer.from(
        'NRRD0004\ntype: uchar\ndimension: 3\nsizes: 3 2 2\nkinds: RGB-color domain domain\nspace directions: none (1,0,0) (0,1,0)\nspace: LPS\nencoding: raw\n\n',
      ),
      Buffer.alloc(12),
    ]),
  );
  await rejectsWith(readVolume(rgb), rgb, /non-spatial axes \(RGB-color of size 3\)/);
  const noEnd = put('noend.nrrd', 'NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nencoding: raw');
  await rejectsWith(readVolume(noEnd), noEnd, /header never ends/);
});

test('MetaImage: truncated data, unsupported ElementType, missing data file, multi-channel', async () => {
  const head = (type = 'MET_SHORT', extra = ''): string =>
    `ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = ${type}\n${extra}ElementDataFile = LOCAL\n`;
  const short = put('short.mha', Buffer.concat([Buffer.from(head()), Buffer.alloc(9)]));
  await rejectsWith(readVolume(short), short, /truncated \(expected 16 bytes of voxel data, got 9\)/);
  const str = put('str.mha', head('MET_STRING'));
  await rejectsWith(readVolume(str), str, /unsupported ElementType "MET_STRING"/);
  const rgb = put('rgb.mha', Buffer.concat([Buffer.from(head('MET_UCHAR', 'ElementNumberOfChannels = 3\n')), Buffer.alloc(24)]));
  await rejectsWith(readVolume(rgb), rgb, /has 3 channels per voxel/);
  const zc = put('z.mha', Buffer.concat([Buffer.from(head('MET_SHORT', 'CompressedData = True\n')), Buffer.from('definitely not zlib')]));
  await rejectsWith(readVolume(zc), zc, /compressed voxel data is corrupt/);
  const mhd = put('a.mhd', head().replace('LOCAL', 'gone.raw'));
  await rejectsWith(readVolume(mhd), mhd, /points at data file .*gone\.raw, which does not exist/);
});

test('npz: missing imgs, gts that does not match imgs, zero-size imgs, truncated archive', { skip: skipUnless('ct-lesion') }, async () => {
  const dir = tmp();
  const noImgs = join(dir, 'noimgs.npz');
  writeFileSync(noImgs, encodeNpz({ gts: { dtype: 'uint8', shape: [2, 2, 2], data: new Uint8Array(8) } }));
  await rejectsWith(readNpzCase(noImgs), noImgs, /has no "imgs" array \(keys: gts\)/);
  const mismatch = join(dir, 'mismatch.npz');
  writeFileSync(
    mismatch,
    encodeNpz({
      imgs: { dtype: 'uint8', shape: [2, 3, 4], data: new Uint8Array(24) },
      gts: { dtype: 'uint8', shape: [2, 4, 3], data: new Uint8Array(24) },
    }),
  );
  await rejectsWith(readNpzCase(mismatch), mismatch, /"gts" has shape \(2, 4, 3\) but "imgs" needs \(2, 3, 4\)/);
  const zero = join(dir, 'zero.npz');
  writeFileSync(zero, encodeNpz({ imgs: { dtype: 'uint8', shape: [0, 3, 4], data: new Uint8Array(0) } }));
  await rejectsWith(readNpzCase(zero), zero, /zero-size dimension/);
  const bytes = readFileSync(data('ct-lesion/CT_Lesion_000001_02_01_008-023.npz'));
  const cut = join(dir, 'cut.npz');
  writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
  await rejectsWith(readVolume(cut), cut, /truncated|not a valid/);
});

test('PNG/JPEG: truncated or garbage image data', { skip: skipUnless('endoscopy/kvasir') }, async () => {
  const jpg = readFileSync(data('endoscopy/kvasir/images/cju0qkwl35piu0993l0dewei2.jpg'));
  const cutJ = put('cut.jpg', jpg.subarray(0, 600));
  await rejectsWith(readVolume(cutJ), cutJ, /corrupt or truncated/);
  const fakePng = put('fake.png', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(40, 7)]));
  await rejectsWith(readVolume(fakePng), fakePng, /corrupt or truncated/);
});

test('writeMask: unknown extension, missing folder, dims mismatch, non-integer labels; failures leave no files', async () => {
  const dir = tmp();
  const mask: Volume = {
    data: Uint8Array.from([0, 1, 2, 1, 0, 0, 1, 1]),
    dims: [2, 2, 2],
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    source: { format: 'nifti', path: 'mem' },
  };
  await rejectsWith(writeMask(join(dir, 'm.tiff'), mask), 'm.tiff', /cannot write a mask as .*extension \.tiff/);
  await rejectsWith(writeMask(join(dir, 'nope', 'm.nii.gz'), mask), 'm.nii.gz', /folder .*nope does not exist/);
  mkdirSync(join(dir, 'taken.nii.gz'));
  await rejectsWith(writeMask(join(dir, 'taken.nii.gz'), mask), 'taken.nii.gz', /a folder has that name/);
  const image = { ...mask, dims: [2, 2, 3] as [number, number, number], data: new Uint8Array(12) };
  await rejectsWith(writeMask(join(dir, 'm.nrrd'), mask, image), 'm.nrrd', /mask is 2x2x2 but the image is 2x2x3/);
  await rejectsWith(
    writeMask(join(dir, 'f.nii.gz'), { ...mask, data: Float32Array.from([0, 0.5, 0, 0, 0, 0, 0, 0]) }),
    'f.nii.gz',
    /not an integer label/,
  );
  await rejectsWith(writeMask(join(dir, 'w.nii.gz'), { ...mask, data: new Uint8Array(3) }), 'w.nii.gz', /3 voxels but dims 2x2x2 need 8/);
  await rejectsWith(writeMask(join(dir, 'big.npz'), { ...mask, data: Int16Array.from([0, 300, 0, 0, 0, 0, 0, 0]) }), 'big.npz', /uint8/);
  await rejectsWith(writeMask(join(dir, 'm3.png'), mask), 'm3.png', /PNG holds one slice/);
  assert.deepEqual(readdirSync(dir), ['taken.nii.gz'], 'no partial or temp files left behind');
  // Success leaves exactly the output, no temp file.
  for (const ext of ['.nii.gz', '.nii', '.nrrd', '.npz']) await writeMask(join(dir, `ok${ext}`), mask);
  assert.deepEqual(readdirSync(dir).sort(), ['ok.nii', 'ok.nii.gz', 'ok.npz', 'ok.nrrd', 'taken.nii.gz']);
  // int16 labels are kept when they do not fit uint8.
  await writeMask(join(dir, 'i16.nii.gz'), { ...mask, data: Int16Array.from([0, 300, -2, 0, 0, 0, 0, 0]) });
  assert.deepEqual(Array.from((await readVolume(join(dir, 'i16.nii.gz'))).data as ArrayLike<number>), [0, 300, -2, 0, 0, 0, 0, 0]);
});
