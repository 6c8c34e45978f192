/**
 * The browser's DICOM selection step (web/src/dicomFiles.ts) run in Node on the shared files: the
 * CT series and the 3-slice series with its two SEG objects group into two image series (SEG left
 * out, no UID = one series); a selection over the upload limit and a zip that is not one are
 * refused with one line before anything is read whole; a packed series reads back to the same volume.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { unzipSync } from 'fflate';
import { readVolume } from '../../src/io/readVolume.js';
import { MAX_SERIES_BYTES, groupSeries, readCandidates, unzipMembers, zipSeries, type NamedBytes } from '../../web/src/dicomFiles.js';
import { ROOT } from './browser.js';

const DICOM = join(ROOT, '../shared/data/dicom');
const skip = !existsSync(join(DICOM, 'seg-ct-3slice')) && `needs ../shared/data/dicom (${DICOM})`;

const files = (dir: string): NamedBytes[] =>
  readdirSync(join(DICOM, dir)).map((f) => ({ name: `${dir}/${f}`, bytes: new Uint8Array(readFileSync(join(DICOM, dir, f))) }));

test('two series in one selection: grouped, largest first, SEG objects left out; the packed series reads as the folder does', {
  skip,
}, async () => {
  const groups = groupSeries([...files('seg-ct-3slice'), ...files('ct-series')]);
  assert.deepEqual(
    groups.map((g) => [g.files.length, g.modality, g.rows, g.cols]),
    [
      [20, 'CT', 512, 512],
      [3, 'CT', 512, 512],
    ],
  );
  assert.equal(groups[0]!.uid, '', 'the anonymised series has no SeriesInstanceUID');
  assert.ok(groups[1]!.files.every((f) => !f.name.endsWith('.seg.dcm')));

  const dir = mkdtempSync(join(tmpdir(), 'medsam2-dicomfiles-'));
  try {
    const zip = unzipSync(zipSeries(groups[1]!));
    const out = join(dir, 'three');
    mkdirSync(out);
    for (const [name, bytes] of Object.entries(zip)) writeFileSync(join(out, name), bytes);
    const packed = await readVolume(out);
    const folder = await readVolume(join(DICOM, 'seg-ct-3slice'));
    assert.deepEqual(packed.dims, folder.dims);
    assert.deepEqual([...packed.data], [...folder.data]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('over the upload limit, or not a zip: one line, nothing read', async () => {
  const huge = { name: 'a.dcm', size: MAX_SERIES_BYTES + 1, arrayBuffer: () => assert.fail('must not be read') } as unknown as File;
  await assert.rejects(readCandidates([huge]), (e: Error & { fix?: string }) => {
    assert.match(e.message, /more than one upload may \(1\.0 GB\)/);
    assert.match(e.fix ?? '', /open the folder of one series/);
    return true;
  });
  assert.throws(
    () => unzipMembers(new Uint8Array(300).fill(1), 'x.zip'),
    (e: Error) => /"x\.zip" is not a readable zip archive/.test(e.message),
  );
  // Pictures and documents are skipped unread.
  assert.deepEqual(await readCandidates([new File([new Uint8Array(500)], 'photo.jpg'), new File(['hello'], 'notes.txt')]), []);
});
