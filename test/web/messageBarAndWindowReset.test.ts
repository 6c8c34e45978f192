/**
 * Two viewer defects, in Chromium against a real server on 127.0.0.1:
 * - projects.html's message bar floats over the page as index.html's does: on the review page
 *   (a ct-lesion crop case with one saved version) a real error (Return without a comment) leaves
 *   the canvas exactly where and as large as it was (the bar sat in the page flow and pushed the
 *   views down);
 * - NiiVue's double-click window reset is the app's "auto": after a Navigate drag ("custom"), a
 *   double-click makes the Window list read "auto" and the corner W/L show auto's window (the
 *   soft-tissue W 400 L 40 on the shared CT in HU); it read "custom" with NiiVue's 2-98 % range.
 * Screenshots: test-output/web/msgwin-*.png.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { encodeRle } from '../../src/server/rle.js';
import { croppedLesion } from '../server/harness.js';
import { axialWith, closeClean, displayRange, dragFromCentre, frames, messageOnTop, openScan } from './appDriver.js';
import { CT_ORGANS, serverAndBrowser, shot, skipReason } from './browser.js';
import { localApi } from './localApi.js';

// Browser globals inside page functions (this program has no DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any, requestAnimationFrame: any;

const skip = skipReason();
if (skip) process.stdout.write(`# skipping the message bar / window reset browser tests: ${skip}\n`);

const P = 'msgbar';
let caseName = '';
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-msgwin-'));

/** The HTTP API as the local user (localApi.ts) on this file's server. */
const api = (method: string, path: string, body?: unknown) => localApi(e2e.server.url, method, path, body);

const e2e = serverAndBrowser(skip, {
  ready: async (): Promise<void> => {
    // A submitted case with one version (a block on the key slice), through the HTTP API as the local admin.
    const crop = await croppedLesion(tmp, 1);
    const up = await api('POST', '/uploads?name=lesion-crop.npz', new Uint8Array(readFileSync(crop.path)));
    await api('POST', '/projects', { name: P, labels: [{ value: 1, name: 'lesion' }] });
    caseName = (await api('POST', `/projects/${P}/cases`, { uploadIds: [up.id], mode: 'manual' }))[0].name;
    const c = encodeURIComponent(caseName);
    const [nx, ny, nz] = up.dims as [number, number, number];
    const labels = new Uint8Array(nx * ny * nz);
    for (let y = 200; y < 300; y++) for (let x = 200; x < 300; x++) labels[crop.key * nx * ny + y * nx + x] = 1;
    await api('POST', `/projects/${P}/cases/${c}/claim`, {});
    await api('POST', `/projects/${P}/cases/${c}/versions`, {
      baseVersion: -1,
      labelsRle: { dims: up.dims, rle: encodeRle(labels, nz * ny, nx) },
    });
    await api('POST', `/projects/${P}/cases/${c}/submit`, {});
  },
  tearDown: () => rmSync(tmp, { recursive: true, force: true }),
});

/** Where the review canvas is and how large (CSS box and drawing buffer). */
function canvasBox(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const c = document.getElementById('gl');
    const r = c.getBoundingClientRect();
    return [r.left, r.top, r.width, r.height, c.width, c.height];
  });
}

test('projects.html: a message floats over the review page; the canvas keeps its place and size', { skip, timeout: 300_000 }, async () => {
  const { page, errors } = await e2e.open(`/projects.html#/p/${P}/review/${encodeURIComponent(caseName)}`);
  await page.waitForFunction(() => /ready|error/.test(document.body.dataset.pageState ?? ''), undefined, { timeout: 180_000 });
  assert.equal(await page.evaluate(() => document.body.dataset.pageState), 'ready', (await page.textContent('#message')) ?? '');
  await frames(page);
  const before = await canvasBox(page);
  assert.ok(before[2]! > 200 && before[3]! > 200, `the review canvas is drawn (${before})`);
  // A real error: returning a case needs a comment.
  await page.click('#return');
  await page.waitForSelector('#message[data-kind="error"]:not([hidden])', { timeout: 30_000 });
  assert.match((await page.textContent('#message')) ?? '', /needs a comment/);
  await frames(page);
  assert.deepEqual(await canvasBox(page), before, 'the canvas is where it was, as large, with the message shown');
  const box = (await page.locator('#message').boundingBox())!;
  assert.ok(await messageOnTop(page, box), 'the message is drawn above the page');
  await shot(page, 'msgwin-1-projects-message-floats');
  await page.click('#message-close');
  await frames(page);
  assert.deepEqual(await canvasBox(page), before, 'and after it is dismissed');
  await closeClean(page, errors);
});

test('a double-click (NiiVue\'s window reset) makes the Window list read "auto" and the corner show auto\'s W/L', {
  skip,
  timeout: 300_000,
}, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  await axialWith(page, 'navigate');
  assert.deepEqual(await displayRange(page), [-160, 240], 'auto on a CT in HU: W 400 L 40');
  const { x, y } = await dragFromCentre(page, 60, -30);
  await page.waitForFunction(() => document.getElementById('window').value === 'custom', undefined, { timeout: 30_000 });
  const dragged = await page.textContent('#wl-readout');
  assert.notEqual(dragged, 'W 400 L 40', 'the drag windowed');

  await page.mouse.dblclick(x, y);
  await page.waitForFunction(() => document.getElementById('window').value !== 'custom', undefined, { timeout: 30_000 }).catch(() => {});
  assert.equal(await page.inputValue('#window'), 'auto', 'the reset reads "auto"');
  assert.equal(await page.textContent('#wl-readout'), 'W 400 L 40', "the corner shows auto's W/L");
  assert.deepEqual(await displayRange(page), [-160, 240], "and the picture is auto's window");
  // The dragged W/L is still offered as "custom".
  assert.equal(await page.evaluate(() => document.querySelector('#window option[value="custom"]').textContent), `custom (${dragged})`);
  await shot(page, 'msgwin-2-dblclick-auto');
  await closeClean(page, errors);
});
