/**
 * The steps every browser test takes on the app's main page, written once: open a scan through the
 * file input and wait for its "draw a box" (or its error line), the session the page holds, the
 * prompts it posts, the crosshair and display range, a drag from the view's centre, and the end of a test (no page errors, page closed). Pointer
 * geometry (voxelToClient, dragBox) and the server / Chromium set-up stay in browser.ts.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { waitError, waitStatus } from './browser.js';

// Browser globals inside page functions (this program has no DOM lib: it would retype Node's fetch).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any, localStorage: any;

type Files = Parameters<Page['setInputFiles']>[1];

/**
 * Opens `files` through the file input and waits for the status `status` (the volume's "draw a
 * box" unless told); returns the status line. Fails with the app's error line if one shows.
 */
export async function openScan(page: Page, files: Files, status = /draw a box/, timeout?: number): Promise<string> {
  await page.setInputFiles('#file', files);
  return waitStatus(page, status, timeout);
}

/** Opens `files` through the file input, which the app must refuse; returns its error line. */
export async function openRefused(page: Page, files: Files, timeout?: number): Promise<string> {
  await page.setInputFiles('#file', files);
  return waitError(page, timeout);
}

/** The server session the page works on (the app keeps it in localStorage for a reload). */
export function sessionOf(page: Page): Promise<string> {
  return page.evaluate(() => JSON.parse(localStorage.getItem('medsam2.state')).sessionId as string);
}

/** A prompt as the app posts it to /sessions/…/prompts (axis only for non-axial views). */
export interface SentPrompt {
  slice: number;
  axis?: number;
  box: number[];
}

/** Collects every prompt the page posts from now on (in order; `stop()` stops collecting). */
export function promptsSent(page: Page): SentPrompt[] & { stop(): void } {
  const sent = [] as unknown as SentPrompt[] & { stop(): void };
  const onRequest = (r: { url(): string; postDataJSON(): unknown }) => {
    if (r.url().endsWith('/prompts')) sent.push(r.postDataJSON() as SentPrompt);
  };
  page.on('request', onRequest);
  sent.stop = () => page.off('request', onRequest);
  return sent;
}

/** The crosshair's voxel index along each axis [x, y, z]. */
export function crosshair(page: Page): Promise<number[]> {
  return page.evaluate(() => [0, 1, 2].map((a) => window.medsam2.viewer.crosshairIndex(a)));
}

/** The scan's display range [cal_min, cal_max] (what the Window list and a Navigate drag set). */
export function displayRange(page: Page): Promise<number[]> {
  return page.evaluate(() => [window.medsam2.viewer.nv.volumes[0].cal_min, window.medsam2.viewer.nv.volumes[0].cal_max]);
}

/**
 * A left drag with real mouse events from the centre of the views' canvas by (dx, dy) px (with the
 * Navigate tool: a W/L change); returns the canvas's box and its centre, for further drags.
 */
export async function dragFromCentre(
  page: Page,
  dx: number,
  dy: number,
): Promise<{ box: { x: number; y: number; width: number; height: number }; x: number; y: number }> {
  const box = (await page.locator('#drop canvas').boundingBox())!;
  const x = box.x + box.width / 2,
    y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx, y + dy, { steps: 8 });
  await page.mouse.up();
  return { box, x, y };
}

/** A test's last step: no page error happened, and its page is closed. */
export async function closeClean(page: Page, errors: string[]): Promise<void> {
  assert.deepEqual(errors, []);
  await page.close();
}
