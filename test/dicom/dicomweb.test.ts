import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readDicom } from '../../src/io/dicomSeries.js';
import { readSeg } from '../../src/io/dicom/segRead.js';
import { findSeries, jsonValue, retrieveSeries, searchSeries, searchStudies, storeInstances } from '../../src/io/dicomweb/client.js';
import { readDicomwebSeries } from '../../src/io/dicomweb/readSeries.js';
import { runCli } from '../helpers/cli.js';
import { skipUnless } from '../io/ioTestUtil.js';
import { seriesWithUids, skipWithoutTools, tempDir } from './dicomTools.js';
import { skipWithoutOrthanc, startOrthanc } from './orthanc.js';

const skip = skipUnless('dicom/ct-series') || skipWithoutTools('dcmodify') || skipWithoutOrthanc();

test('DICOMweb round trip with a real Orthanc: STOW the CT series, QIDO it, segment it from Orthanc with --store, fetch the SEG back and compare', {
  skip,
  timeout: 300_000,
}, async () => {
  const orthanc = await startOrthanc();
  try {
    // 6 slices of the shared series (JPEG 2000, stored as is), with UIDs.
    const src = seriesWithUids(undefined, 6);
    await storeInstances(
      orthanc.dicomweb,
      src.files.map((f) => new Uint8Array(readFileSync(f))),
    );
    const studies = await searchStudies(orthanc.dicomweb, { StudyInstanceUID: src.studyUid });
    assert.equal(studies.length, 1);
    const series = await searchSeries(orthanc.dicomweb, src.studyUid);
    assert.deepEqual(
      series.map((s) => jsonValue(s, '0020000E')),
      [src.seriesUid],
    );
    assert.equal(jsonValue(series[0], '00080060'), 'CT');
    // A project-style query across the server gives openable dicomweb:// references.
    const refs = await findSeries(orthanc.dicomweb, { Modality: 'CT' });
    assert.deepEqual(
      refs.map((r) => [r.studyUid, r.seriesUid, r.modality, r.instances]),
      [[src.studyUid, src.seriesUid, 'CT', 6]],
    );

    // WADO-RS gives back the same voxels as the local folder.
    const local = await readDicom(src.dir);
    const url = refs[0].url;
    assert.equal(url, `dicomweb://127.0.0.1:${new URL(orthanc.http).port}/dicom-web/studies/${src.studyUid}/series/${src.seriesUid}`);
    const remote = await readDicomwebSeries(url);
    assert.equal((await retrieveSeries(orthanc.dicomweb, src.studyUid, src.seriesUid)).length, 6);
    assert.deepEqual(remote.dims, local.dims);
    assert.deepEqual(remote.origin, local.origin);
    assert.deepEqual(remote.data, local.data);
    // A study URL without a series is refused, listing the study's image series.
    await assert.rejects(
      readDicomwebSeries(url.replace(/\/series\/.*$/, '')),
      new RegExp(`names a study, not a series; its image series: ${src.seriesUid.replace(/\./g, '\\.')} \\(CT`),
    );
    // An unknown series: the server's 404 in one line.
    await assert.rejects(readDicomwebSeries(url.replace(src.seriesUid, '1.2.3.4')), /answered HTTP 404/);

    // segment from Orthanc, write the SEG, push it back (liver box on slice 3).
    const out = join(tempDir(), 'liver.seg.dcm');
    const r = runCli(['segment', url, '--slice', '3', '--box', '300,180,470,330', '-o', out, '--store', '-q']);
    assert.equal(r.code, 0, r.stderr);
    const segs = await searchSeries(orthanc.dicomweb, src.studyUid, { Modality: 'SEG' });
    assert.equal(segs.length, 1, 'one SEG series stored in the study');
    const segUid = jsonValue(segs[0], '0020000E')!;
    const fetched = await retrieveSeries(orthanc.dicomweb, src.studyUid, segUid);
    assert.equal(fetched.length, 1);
    const back = readSeg(fetched[0], local);
    const written = readSeg({ name: out, bytes: new Uint8Array(readFileSync(out)) }, local);
    assert.equal(back.referencedSeriesUid, src.seriesUid);
    let voxels = 0;
    for (const v of written.mask(1)) voxels += v;
    assert.ok(voxels > 1000, `segmented ${voxels} voxels`);
    assert.deepEqual(back.mask(1), written.mask(1), 'the SEG fetched from Orthanc equals the one written');
  } finally {
    await orthanc.stop();
  }
});
