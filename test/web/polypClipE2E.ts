import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { polypClipMp4, type SyntheticVideo } from '../pipelines/syntheticVideo.js';
import { type E2E, serverAndBrowser } from './browser.js';

// page.evaluate's callback runs in the page: the app's handle, untyped here.
declare const window: any, document: any;

/** A video-mode browser test file's set-up: one server, Chromium, and the Kvasir polyp clip as an mp4 of `frames` frames. */
export interface PolypClipE2E {
  e2e: E2E;
  /** The clip's frames and masks (read inside a test). */
  readonly clip: SyntheticVideo;
  /** The clip as an .mp4 the app opens (read inside a test). */
  readonly mp4: string;
}

export function polypClipE2E(skip: string | false, frames: number, prefix: string): PolypClipE2E {
  const tmp = mkdtempSync(join(tmpdir(), prefix));
  let made: { clip: SyntheticVideo; mp4: string } | undefined;
  const e2e = serverAndBrowser(skip, {
    setUp: async () => {
      made = await polypClipMp4(tmp, frames);
    },
    tearDown: () => rmSync(tmp, { recursive: true, force: true }),
  });
  const ready = () =>
    made ??
    (() => {
      throw new Error('the polyp clip is made in the before hook: read it inside a test');
    })();
  return {
    e2e,
    get clip() {
      return ready().clip;
    },
    get mp4() {
      return ready().mp4;
    },
  };
}

/** A point of the video frame (pixels) in the page's client coordinates. */
export const frameToClient = (page: Page, x: number, y: number): Promise<{ x: number; y: number }> =>
  page.evaluate(([fx, fy]) => window.medsam2.video.frameToClient(fx, fy), [x, y]);

/** A box dragged on the video frame, corners (x0, y0, x1, y1) in frame pixels. */
export async function dragOnFrame(page: Page, b: readonly number[]): Promise<void> {
  const a = await frameToClient(page, b[0]!, b[1]!);
  const c = await frameToClient(page, b[2]!, b[3]!);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(c.x, c.y, { steps: 5 });
  await page.mouse.up();
}

/** A click at frame pixel (x, y), answered when the status reports frame `frame`'s new mask; returns that status. */
export async function clickOnFrame(page: Page, x: number, y: number, frame: number): Promise<string> {
  const before = (await page.textContent('#status')) ?? '';
  const p = await frameToClient(page, x, y);
  await page.mouse.click(p.x, p.y);
  await page.waitForFunction(
    ([was, k]) => {
      const s = document.getElementById('status').textContent;
      return s !== was && new RegExp(`^frame ${k}: \\d+ px`).test(s);
    },
    [before, frame] as const,
    { timeout: 120_000 },
  );
  return (await page.textContent('#status')) ?? '';
}
