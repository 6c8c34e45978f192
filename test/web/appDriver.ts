/**
 * The steps every browser test takes on the app's main page, written once: open a scan through the
 * file input and wait for its "draw a box" (or its error line), the session the page holds, the
 * prompts it posts (and a box drawn on an axial slice), the crosshair and display range, a drag from
 * the view's centre, two animation frames, whether the message bar is on top, and the end of a test (no page errors, page closed). Pointer
 * geometry (voxelToClient, dragBox) and the server / Chromium set-up stay in browser.ts.
 */
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import type { Box } from '../../src/predictor/prompts.js';
import { dragBox, goToSlice, waitError, waitStatus } from './browser.js';

// Browser globals inside page functions (this program has no DOM lib: it would retype Node's fetch).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any, localStorage: any, document: any, requestAnimationFrame: any;

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

/** Draws `box` on axial slice `z` with the box tool; the prompt the app sent. */
export async function boxOn(page: Page, z: number, box: Box): Promise<SentPrompt> {
  const sent = promptsSent(page);
  // One axial view, as the other web tests draw boxes (voxelToClient maps to the axial view).
  await page.selectOption('#layout', 'axial');
  if (z > 0) await goToSlice(page, z);
  await page.click('[data-tool="box"]');
  await dragBox(page, box);
  await waitStatus(page, new RegExp(`slice ${z}: \\d+ px`));
  sent.stop();
  assert.equal(sent.length, 1, 'one prompt sent');
  return sent[0]!;
}

/** One axial view with `tool` picked in the toolbar (navigate, box, point, brush, eraser). */
export async function axialWith(page: Page, tool: string): Promise<void> {
  await page.selectOption('#layout', 'axial');
  await page.click(`[data-tool="${tool}"]`);
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

/** Waits two animation frames (a resize observer and NiiVue's redraw run in between). */
export function frames(page: Page): Promise<void> {
  return page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

/** Whether the message bar (its box on the page: `box`) is drawn above whatever lies under it. */
export function messageOnTop(page: Page, box: { x: number; y: number; width: number; height: number }): Promise<boolean> {
  return page.evaluate(
    ([x, y]) => document.elementFromPoint(x, y)?.closest('#message') !== null,
    [box.x + box.width / 3, box.y + box.height / 2],
  );
}

/** Waits until a project case is shown (body[data-case-ready]) or the app reports an error, and asserts the former. */
export async function caseShown(page: Page, timeout = 400_000): Promise<void> {
  await page.waitForFunction(
    () =>
      document.body.dataset.caseReady === 'true' ||
      (!document.getElementById('message').hidden && document.getElementById('message').dataset.kind === 'error'),
    undefined,
    { timeout },
  );
  assert.equal(await page.evaluate(() => document.body.dataset.caseReady), 'true', (await page.textContent('#message')) ?? '');
}

/** A test's last step: no page error happened, and its page is closed. */
export async function closeClean(page: Page, errors: string[]): Promise<void> {
  assert.deepEqual(errors, []);
  await page.close();
}
