/**
 * The browser's folder reading and packing with progress and cancel (web/src/dicomFiles.ts's
 * readSeries / packSeries), run in Node on the shared files: the folder's two series grouped as
 * groupSeries groups them with "reading headers n / N" counted to N, the packed zip holds the
 * same members as zipSeries' (byte for byte), and an abort stops both at the next file with the
 * signal's AbortError. (The browser side, a 2,000-file folder, is test/web/dicomFolderProgress.test.ts.)
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { unzipSync } from 'fflate';
import { groupSeries, packSeries, pickedName, readSeries, zipSeries } from '../../web/src/dicomFiles.js';
import { ROOT } from './browser.js';

const DICOM = join(ROOT, '../shared/data/dicom');
const skip = !existsSync(join(DICOM, 'seg-ct-3slice')) && `needs ../shared/data/dicom (${DICOM})`;

function picked(dir: string): File[] {
  return readdirSync(join(DICOM, dir)).map((f) => {
    const file = new File([readFileSync(join(DICOM, dir, f))], f);
    Object.defineProperty(file, 'webkitRelativePath', { value: `${dir}/${f}` });
    return file;
  });
}

test('readSeries groups as groupSeries does (files in picked order), counting every header; packSeries = zipSeries member for member', {
  skip,
}, async () => {
  const files = [...picked('seg-ct-3slice'), ...picked('ct-series')];
  const seen: string[] = [];
  const { groups, looked } = await readSeries(files, { onProgress: (what, n, total) => seen.push(`${what} ${n} / ${total}`) });
  assert.equal(looked, files.length);
  assert.equal(seen[0], `reading headers 0 / ${files.length}`);
  assert.equal(seen.at(-1), `reading headers ${files.length} / ${files.length}`);
  assert.equal(seen.length, files.length + 1);
  const named = await Promise.all(files.map(async (f) => ({ name: pickedName(f), bytes: new Uint8Array(await f.arrayBuffer()) })));
  const want = groupSeries(named);
  assert.deepEqual(
    groups.map((g) => [g.files.length, g.uid, g.modality, g.files.map((f) => f.name)]),
    want.map((g) => [g.files.length, g.uid, g.modality, g.files.map((f) => f.name)]),
  );

  const packing: number[] = [];
  const blob = await packSeries(groups[0]!, { onProgress: (what, n) => what === 'packing' && packing.push(n) });
  assert.deepEqual(
    packing,
    Array.from({ length: 21 }, (_, i) => i),
  );
  const got = unzipSync(new Uint8Array(await blob.arrayBuffer()));
  const ref = unzipSync(zipSeries(groups[0]!));
  assert.deepEqual(Object.keys(got), Object.keys(ref));
  for (const k of Object.keys(ref)) assert.ok(Buffer.from(got[k]!).equals(Buffer.from(ref[k]!)), `member ${k}`);
});

test('an abort stops reading and packing at the next file', { skip }, async () => {
  const files = picked('ct-series');
  const stop = new AbortController();
  let read = 0;
  await assert.rejects(
    readSeries(files, {
      signal: stop.signal,
      onProgress: (_, n) => {
        read = n;
        if (n === 5) stop.abort();
      },
    }),
    (e: Error) => e.name === 'AbortError',
  );
  assert.ok(read < files.length, `reading stopped at ${read} / ${files.length}`);
  const { groups } = await readSeries(files);
  const stopPack = new AbortController();
  let packed = 0;
  await assert.rejects(
    packSeries(groups[0]!, {
      signal: stopPack.signal,
      onProgress: (_, n) => {
        packed = n;
        if (n === 3) stopPack.abort();
      },
    }),
    (e: Error) => e.name === 'AbortError',
  );
  assert.equal(packed, 3, 'no member packed after the abort');
});
