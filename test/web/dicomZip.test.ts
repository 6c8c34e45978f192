/**
 * A zipped DICOM series (what a PACS export hands a radiologist) opened in the app: the server
 * reads it as a volume, but the viewer cannot draw DICOM, so the app must say that and how to get a
 * file it can open (was: '"ct-series.zip" is not a video or a zip of frames (the server read it as
 * dicom-zip)'). The scan open before stays usable. Real server, real Chromium, the shared CT series
 * zipped with fflate into a temp folder.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import type { Browser } from 'playwright-core';
import { CT_ORGANS, ROOT, openApp, shot, skipReason, waitError, waitStatus, type Served, serverAndBrowser } from './browser.js';

const SERIES = join(ROOT, '../shared/data/dicom/ct-series');
const skip = skipReason() || (!existsSync(SERIES) && `no DICOM series at ${SERIES}`);
if (skip) process.stdout.write(`# skipping the DICOM-zip browser test: ${skip}\n`);

let server: Served;
let browser: Browser;
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-dicomzip-'));

serverAndBrowser(
  skip,
  (s, b) => {
    server = s;
    browser = b;
  },
  { tearDown: () => rmSync(tmp, { recursive: true, force: true }) },
);

test('a zipped DICOM series: one message that says it is DICOM and how to open it; the open scan stays', {
  skip,
  timeout: 300_000,
}, async () => {
  const members: Record<string, Uint8Array> = {};
  for (const f of readdirSync(SERIES)) members[`ct-series/${f}`] = readFileSync(join(SERIES, f));
  const zip = join(tmp, 'ct-series.zip');
  writeFileSync(zip, zipSync(members, { level: 0 }));

  const { page, errors } = await openApp(browser, server.url);
  await page.setInputFiles('#file', CT_ORGANS);
  await waitStatus(page, /draw a box/);
  await page.setInputFiles('#file', zip);
  const message = await waitError(page, 120_000);
  assert.match(message, /"ct-series\.zip" is a zipped DICOM series/);
  assert.match(message, /dcm2niix/, 'the fix names a converter');
  assert.doesNotMatch(message, /not a video/);
  await shot(page, '20-dicom-zip-message');
  // The NIfTI opened before is still the scan shown, with its slice bar.
  assert.match((await page.textContent('#info')) ?? '', /example_ct_sm\.nii\.gz/);
  assert.match((await page.textContent('#slice-label')) ?? '', /^slice \d+ \(0–29\)/);
  assert.deepEqual(errors, []);
  await page.close();
});
