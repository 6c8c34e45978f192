/**
 * Zips opened in the app that are not a DICOM series (a zipped series opens: dicomOpen.test.ts):
 * one line naming the problem and the fix, nothing uploaded, and the scan open before stays
 * usable. Real server, real Chromium, zips made with fflate in a temp folder.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import { openScan, openRefused, closeClean } from './appDriver.js';
import { CT_ORGANS, ROOT, shot, skipReason, waitError, serverAndBrowser } from './browser.js';

const SERIES = join(ROOT, '../shared/data/dicom/ct-series');
const KVASIR = join(ROOT, '../shared/data/endoscopy/kvasir/images');
const skip = skipReason() || (![SERIES, KVASIR].every(existsSync) && `no DICOM series or Kvasir frames at ${SERIES}, ${KVASIR}`);
if (skip) process.stdout.write(`# skipping the DICOM-zip browser test: ${skip}\n`);

// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-dicomzip-'));

const e2e = serverAndBrowser(skip, { tearDown: () => rmSync(tmp, { recursive: true, force: true }) });

test('zips that hold no DICOM series: one line naming the problem and the fix; the open scan stays', {
  skip,
  timeout: 300_000,
}, async () => {
  // A zip of documents and a NIfTI (not a DICOM series, not video frames), and bytes that are not a zip at all.
  const notDicom = join(tmp, 'notes.zip');
  writeFileSync(
    notDicom,
    zipSync({
      'notes/readme.txt': new TextEncoder().encode('no images here'),
      'notes/blob.bin': new Uint8Array(4096).fill(7),
      'notes/scan.nii.gz': readFileSync(CT_ORGANS),
    }),
  );
  const broken = join(tmp, 'broken.zip');
  writeFileSync(broken, readFileSync(join(SERIES, readdirSync(SERIES)[0]!)).subarray(0, 2000));

  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  const uploads = async () => ((await (await fetch(`${e2e.server.url}/uploads`)).json()) as unknown[]).length;
  const before = await uploads();

  let message = await openRefused(page, notDicom, 120_000);
  assert.match(message, /"notes\.zip" holds no DICOM image \(\d+ files? looked at/);
  assert.match(message, /pick the folder of one DICOM series/, 'the fix says what to open');
  assert.doesNotMatch(message, /not a video|dcm2niix/);
  await shot(page, '20-dicom-zip-no-dicom');

  await page.click('#message-close');
  await page.setInputFiles('#file', broken);
  message = await waitError(page, 120_000);
  assert.match(message, /"broken\.zip" is not a readable zip archive/);
  assert.match(message, /re-create the zip/);

  // Nothing was uploaded, and the NIfTI opened before is still the scan shown, with its slice bar.
  assert.equal(await uploads(), before, 'refused in the browser, before any upload');
  assert.match((await page.textContent('#info')) ?? '', /example_ct_sm\.nii\.gz/);
  assert.match((await page.textContent('#slice-label')) ?? '', /^slice \d+ \(0–29\)/);
  await closeClean(page, errors);
});

test('a zip of JPEG frames still opens in video mode (the browser tells frames from a DICOM series before uploading)', {
  skip,
  timeout: 300_000,
}, async () => {
  const frames: Record<string, Uint8Array> = {};
  for (const f of readdirSync(KVASIR)) frames[`clip/${f}`] = readFileSync(join(KVASIR, f));
  const zip = join(tmp, 'clip.zip');
  writeFileSync(zip, zipSync(frames, { level: 0 }));
  const { page, errors } = await e2e.open();
  await openScan(page, zip, /draw a box around the object on a frame/);
  assert.equal(await page.evaluate(() => document.body.dataset.mode), 'video');
  assert.equal(await page.getAttribute('#video-frame', 'max'), String(readdirSync(KVASIR).length - 1));
  await closeClean(page, errors);
});
