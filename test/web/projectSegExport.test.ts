/**
 * DICOM SEG from the project pages, in Chromium against a real server on 127.0.0.1: a project
 * case whose upload is the shared CT series (given UIDs by dcmodify, as the DICOM tests do) with a
 * label version written through the API. The case page's Export offers "DICOM SEG" (a DICOM case)
 * and downloads the version as a SEG; the review page's Export defaults to DICOM SEG for it. Both
 * downloads, read back with our SEG reader on the series, equal the version voxel for voxel and
 * name the segment as the project's label.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import type { Browser, Page } from 'playwright-core';
import { readSeg } from '../../src/io/dicom/segRead.js';
import { readVolume } from '../../src/io/readVolume.js';
import type { Volume } from '../../src/io/volume.js';
import { encodeRle } from '../../src/server/rle.js';
import { hasTool, seriesWithUids } from '../dicom/dicomTools.js';
import { ROOT, openApp, serverAndBrowser, shot, skipReason, type Served } from './browser.js';
import { caseShown } from './appDriver.js';

// Browser globals inside page functions (this program has no DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const SERIES = join(ROOT, '../shared/data/dicom/ct-series');
const P = 'clinic';
const skip =
  skipReason() ||
  (!existsSync(SERIES) && `needs ../shared/data/dicom/ct-series (${SERIES})`) ||
  (!hasTool('dcmodify') && 'needs dcmodify (.ci/setup.d/30-dicom.sh installs dcmtk)');
if (skip) process.stdout.write(`# skipping the project DICOM SEG export browser test: ${skip}\n`);

let server: Served;
let browser: Browser;
let caseName = '';
let ct: Volume;
let map: Uint8Array;
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-projseg-'));

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const bytes = body instanceof Uint8Array;
  const r = await fetch(server.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': bytes ? 'application/octet-stream' : 'application/json' },
    body: body === undefined ? undefined : bytes ? body : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

serverAndBrowser(
  skip,
  async (s, b) => {
    server = s;
    browser = b;
    const series = seriesWithUids(SERIES);
    const members: Record<string, Uint8Array> = {};
    for (const f of series.files) members[`ct/${f.split('/').pop()}`] = readFileSync(f);
    ct = await readVolume(series.dir);
    rmSync(series.dir, { recursive: true, force: true });
    const up = await api('POST', '/uploads?name=ct.zip', zipSync(members, { level: 1 }));
    await api('POST', '/projects', { name: P, labels: [{ value: 1, name: 'liver', colour: '#dd8844' }] });
    caseName = (await api('POST', `/projects/${P}/cases`, { uploadIds: [up.id], mode: 'manual' }))[0].name;
    const [nx, ny, nz] = ct.dims;
    map = new Uint8Array(nx * ny * nz);
    for (let z = 14; z <= 17; z++) for (let y = 199; y <= 374; y++) for (let x = 107; x <= 278; x++) map[z * nx * ny + y * nx + x] = 1;
    const c = encodeURIComponent(caseName);
    await api('POST', `/projects/${P}/cases/${c}/claim`);
    await api('POST', `/projects/${P}/cases/${c}/versions`, {
      baseVersion: -1,
      labelsRle: { dims: ct.dims, rle: encodeRle(map, nz * ny, nx) },
    });
  },
  { tearDown: () => rmSync(tmp, { recursive: true, force: true }) },
);

/** Clicks `button` and reads the download it starts as a SEG on the series grid. */
async function segDownload(page: Page, button: string): Promise<{ name: string; labels: string[]; wrong: number }> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click(button)]);
  const path = join(tmp, download.suggestedFilename());
  await download.saveAs(path);
  const seg = readSeg({ name: path, bytes: new Uint8Array(readFileSync(path)) }, ct);
  const m = seg.mask(1);
  let wrong = 0;
  for (let i = 0; i < m.length; i++) if (m[i] !== map[i]) wrong++;
  return { name: download.suggestedFilename(), labels: seg.segments.map((s) => s.label), wrong };
}

test("a DICOM project case: the case page's and review page's Export give the version as a DICOM SEG with the project's label", {
  skip,
  timeout: 600_000,
}, async () => {
  const c = encodeURIComponent(caseName);
  const { page, errors } = await openApp(browser, server.url, `/?project=${P}&case=${c}`);
  await caseShown(page);
  assert.equal(await page.locator('#export-format option[value="seg.dcm"]').count(), 1, 'DICOM SEG is offered');
  await page.selectOption('#export-format', 'seg.dcm');
  const fromCase = await segDownload(page, '#export');
  assert.equal(fromCase.name, `${caseName}-v0.seg.dcm`);
  assert.deepEqual(fromCase.labels, ['liver']);
  assert.equal(fromCase.wrong, 0, `${fromCase.wrong} voxels of the case page's SEG differ from version 0`);
  await shot(page, 'projseg-1-case-export');
  assert.deepEqual(errors, []);

  const rev = await openApp(browser, server.url, `/projects.html#/p/${P}/review/${c}`);
  await rev.page.waitForFunction(() => /ready|error/.test(document.body.dataset.pageState ?? ''), undefined, { timeout: 180_000 });
  assert.equal(await rev.page.evaluate(() => document.body.dataset.pageState), 'ready', (await rev.page.textContent('#message')) ?? '');
  assert.equal(await rev.page.inputValue('#review-export-format'), 'dicom-seg', 'a DICOM case exports as DICOM SEG by default');
  const fromReview = await segDownload(rev.page, '#review-export');
  assert.deepEqual(fromReview.labels, ['liver']);
  assert.equal(fromReview.wrong, 0, `${fromReview.wrong} voxels of the review page's SEG differ from version 0`);
  await shot(rev.page, 'projseg-2-review-export');
  assert.deepEqual(rev.errors, []);
});
