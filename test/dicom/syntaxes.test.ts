import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { readDicom } from '../../src/io/dicomSeries.js';
import { readDicomSeries } from '../../src/io/dicom/series.js';
import { MedsamError } from '../../src/common/errors.js';
import { data, skipUnless } from '../io/ioTestUtil.js';
import { seriesWithUids, skipWithoutTools, tempDir, transcodeSeries, type Syntax } from './dicomTools.js';

const skip =
  skipUnless('dicom/ct-series') || skipWithoutTools('gdcmconv', 'dcmconv', 'dcmcjpeg', 'dcmcjpls', 'dcmcrle', 'dcmodify', 'dcmdump');

function transferSyntaxOf(file: string): string {
  return /\[(.*?)\]|=(\S+)/
    .exec(execFileSync('dcmdump', ['-s', '-Un', '+P', '0002,0010', file]).toString())!
    .slice(1)
    .find(Boolean)!;
}

// The first 3 slices of the shared JPEG 2000 CT series, re-encoded by dcmtk: every lossless syntax
// must decode to exactly the HU of the JPEG 2000 original (read through OpenJPEG).
const LOSSLESS: [Syntax, string][] = [
  ['explicit-le', '1.2.840.10008.1.2.1'],
  ['implicit-le', '1.2.840.10008.1.2'],
  ['big-endian', '1.2.840.10008.1.2.2'],
  ['deflate', '1.2.840.10008.1.2.1.99'],
  ['rle', '1.2.840.10008.1.2.5'],
  ['jpeg-lossless-sv1', '1.2.840.10008.1.2.4.70'],
  ['jpeg-lossless-14', '1.2.840.10008.1.2.4.57'],
  ['jpeg-ls', '1.2.840.10008.1.2.4.80'],
];

test('DICOM transfer syntaxes: every lossless re-encoding of the CT series decodes bit-exact to the JPEG 2000 original; JPEG-LS near-lossless within NEAR=2', {
  skip,
}, async () => {
  const src = seriesWithUids(undefined, 3);
  const ref = await readDicom(src.dir);
  assert.ok(ref.data instanceof Int16Array);
  for (const [syntax, uid] of [...LOSSLESS, ['jpeg-ls-near', '1.2.840.10008.1.2.4.81'] as [Syntax, string]]) {
    const dir = transcodeSeries(src.files, syntax);
    assert.equal(transferSyntaxOf(join(dir, '000.dcm')), uid, `${syntax} file carries ${uid}`);
    const v = await readDicom(dir);
    assert.deepEqual(v.dims, ref.dims);
    assert.deepEqual(v.origin, ref.origin);
    let maxDiff = 0;
    let changed = 0;
    for (let i = 0; i < v.data.length; i++) {
      const d = Math.abs(Number(v.data[i]) - Number(ref.data[i]));
      if (d > maxDiff) maxDiff = d;
      if (d) changed++;
    }
    if (syntax === 'jpeg-ls-near') {
      assert.ok(maxDiff <= 2 && changed > 0, `near-lossless: max |ΔHU| ${maxDiff} (NEAR=2), ${changed} voxels changed`);
    } else {
      assert.equal(maxDiff, 0, `${syntax}: max |ΔHU| ${maxDiff}`);
    }
  }
});

test('DICOM JPEG extended 12-bit (lossy) is refused naming the syntax and a decompression command', { skip }, async () => {
  const src = seriesWithUids(undefined, 1);
  const dir = transcodeSeries(src.files, 'jpeg-extended-12');
  await assert.rejects(
    readDicom(dir),
    (e: unknown) =>
      e instanceof MedsamError && /1\.2\.840\.10008\.1\.2\.4\.51 \(JPEG extended 12-bit\)/.test(e.message) && /dcmdjpeg/.test(e.message),
  );
});

test('DICOM JPEG baseline colour (YBR_FULL_422, wrapped by img2dcm) reads as luminance close to jpeg-js', {
  skip: skipUnless('endoscopy/kvasir') || skipWithoutTools('img2dcm'),
}, async () => {
  const dir = tempDir();
  const jpg = readdirSync(data('endoscopy/kvasir/images'))
    .filter((f) => /\.jpe?g$/i.test(f))
    .sort()[0];
  const out = join(dir, 'colour.dcm');
  execFileSync(
    'img2dcm',
    [
      '-i',
      'JPEG',
      '-k',
      '(0020,0032)=0\\0\\0',
      '-k',
      '(0020,0037)=1\\0\\0\\0\\1\\0',
      '-k',
      '(0028,0030)=1\\1',
      data(`endoscopy/kvasir/images/${jpg}`),
      out,
    ],
    { stdio: 'ignore' },
  );
  assert.equal(transferSyntaxOf(out), '1.2.840.10008.1.2.4.50');
  const v = await readDicomSeries([{ name: out, bytes: new Uint8Array(readFileSync(out)) }]);
  const raw = jpeg.decode(readFileSync(data(`endoscopy/kvasir/images/${jpg}`)), { useTArray: true });
  assert.deepEqual(v.dims, [raw.width, raw.height, 1]);
  // Two decoders (libjpeg-turbo wasm vs jpeg-js) differ by IDCT/upsampling rounding only.
  let sum = 0;
  let max = 0;
  for (let i = 0; i < raw.width * raw.height; i++) {
    const y = Math.round(0.299 * raw.data[4 * i] + 0.587 * raw.data[4 * i + 1] + 0.114 * raw.data[4 * i + 2]);
    const d = Math.abs(Number(v.data[i]) - y);
    sum += d;
    if (d > max) max = d;
  }
  const mean = sum / (raw.width * raw.height);
  console.log(`colour JPEG: luminance vs jpeg-js mean |Δ| ${mean.toFixed(3)}, max ${max}`);
  assert.ok(mean < 1 && max <= 10, `mean |Δ| ${mean.toFixed(3)}, max ${max}`);
});

test('DICOM HTJ2K lossless (encoded with the OpenJPH wasm encoder, wrapped by dcmjs) decodes bit-exact to the original', {
  skip,
}, async () => {
  const { readNatural, writeNatural } = await import('../../src/io/dicom/dcmjs.js');
  const openjph = (await (await import('@cornerstonejs/codec-openjph/wasmjs')).default({ print: () => {}, printErr: () => {} })) as Record<
    string,
    new () => {
      getDecodedBuffer(info: object): Uint8Array;
      setQuality(lossless: boolean, q: number): void;
      encode(): void;
      getEncodedBuffer(): Uint8Array;
      delete(): void;
    }
  >;
  const src = seriesWithUids(undefined, 3);
  const ref = await readDicom(src.dir);
  const le = transcodeSeries(src.files, 'explicit-le');
  const out = tempDir();
  for (const f of readdirSync(le).filter((x) => x.endsWith('.dcm'))) {
    const ds = readNatural(new Uint8Array(readFileSync(join(le, f))));
    const pixels = new Uint8Array((ds.PixelData as ArrayBuffer[])[0]);
    const enc = new openjph.HTJ2KEncoder();
    enc
      .getDecodedBuffer({
        width: ds.Columns,
        height: ds.Rows,
        bitsPerSample: 16,
        componentCount: 1,
        isSigned: false,
        isUsingColorTransform: false,
      })
      .set(pixels);
    enc.setQuality(true, 0);
    enc.encode();
    const coded = enc.getEncodedBuffer().slice();
    enc.delete();
    ds.PixelData = [coded.buffer];
    ds._vrMap = { ...(ds._vrMap ?? {}), PixelData: 'OB' };
    writeFileSync(join(out, f), writeNatural(ds, '1.2.840.10008.1.2.4.201'));
  }
  assert.equal(transferSyntaxOf(join(out, '000.dcm')), '1.2.840.10008.1.2.4.201');
  const v = await readDicom(out);
  assert.deepEqual(v.dims, ref.dims);
  assert.deepEqual(v.data, ref.data);
});

test('DICOM JPEG baseline 8-bit grayscale (dcmj2pnm windowed JPEG wrapped by img2dcm) reads within 1 grey level of jpeg-js', {
  skip: skipUnless('dicom/seg-ct-3slice') || skipWithoutTools('dcmj2pnm', 'img2dcm'),
}, async () => {
  const dir = tempDir();
  const jpg = join(dir, 'slice.jpg');
  const out = join(dir, 'gray.dcm');
  execFileSync('dcmj2pnm', ['+oj', '+Wm', data('dicom/seg-ct-3slice/01.dcm'), jpg], { stdio: 'ignore' });
  execFileSync(
    'img2dcm',
    ['-i', 'JPEG', '-k', '(0020,0032)=0\\0\\0', '-k', '(0020,0037)=1\\0\\0\\0\\1\\0', '-k', '(0028,0030)=1\\1', jpg, out],
    { stdio: 'ignore' },
  );
  assert.equal(transferSyntaxOf(out), '1.2.840.10008.1.2.4.50');
  const v = await readDicomSeries([{ name: out, bytes: new Uint8Array(readFileSync(out)) }]);
  const raw = jpeg.decode(readFileSync(jpg), { useTArray: true });
  assert.deepEqual(v.dims, [raw.width, raw.height, 1]);
  let max = 0;
  let nonZero = 0;
  for (let i = 0; i < raw.width * raw.height; i++) {
    max = Math.max(max, Math.abs(Number(v.data[i]) - raw.data[4 * i]));
    if (v.data[i]) nonZero++;
  }
  assert.ok(nonZero > 1000, 'a real image, not zeros');
  console.log(`grayscale JPEG: max |Δ| ${max}`);
  assert.ok(max <= 1, `max |Δ| ${max} between libjpeg-turbo (wasm) and jpeg-js`);
});
