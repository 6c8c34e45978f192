/**
 * Video mode as an annotator uses it (Chromium, a real Kvasir-SEG clip as fx.mp4): a box on frame 0,
 * propagate, step to frame 3, correct it with a positive then a negative click, add a second
 * object (named before its first prompt), propagate both. Checks what a user would see go wrong:
 * - the second click on a corrected frame must continue that correction (the mask the user sees is
 *   its prior): a negative click must not grow the mask over the clicked pixel;
 * - the progress line must count frames of the clip, not object × frame steps labelled "frames";
 * - a reload shows the same masks, on the frame and with the object the annotator had.
 * - a name given to an object before its first prompt reaches the server with that prompt.
 * Screenshots in test-output/web/videoUse-*.png.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { KVASIR_SKIP, maskBox } from '../pipelines/syntheticVideo.js';
import { shot, skipReason, waitStatus } from './browser.js';
import { clickOnFrame, dragOnFrame, polypClipE2E } from './polypClipE2E.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's frame embeddings come from the run's shared cache (each clip frame encoded once per run).
cacheSam1EncodesInFile();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

const skip = skipReason() || KVASIR_SKIP;
if (skip) process.stdout.write(`# skipping the video-use browser test: ${skip}\n`);

const FRAMES = 6;
const fx = polypClipE2E(skip, FRAMES, 'medsam2-web-video-use-');
const { e2e } = fx;

/** The shown mask of `objId` on `frame`: its area and whether pixel (x, y) is in it. */
const maskAt = (page: Page, objId: number, frame: number, x: number, y: number): Promise<{ area: number; at: number }> =>
  page.evaluate(
    ([o, k, px, py, cols]) => {
      const m = window.medsam2.video.masks.get(o)?.get(k);
      return { area: m ? m.reduce((s: number, v: number) => s + v, 0) : 0, at: m ? m[py * cols + px] : 0 };
    },
    [objId, frame, x, y, fx.clip.width],
  );

test('video mode in use: correct a propagated frame with + and − clicks, two objects, honest progress, reload', {
  skip,
  timeout: 300_000,
}, async () => {
  const { page, errors } = await e2e.open();
  const statuses: string[] = [];
  await page.exposeFunction('__status', (s: string) => statuses.push(s));
  await page.evaluate(() => {
    const el = document.getElementById('status');
    new window.MutationObserver(() => window.__status(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
  });
  await page.setInputFiles('#file', fx.mp4);
  await waitStatus(page, /draw a box/);
  const box = maskBox(fx.clip.masks[0]!, fx.clip.width);
  await dragOnFrame(page, box);
  await waitStatus(page, /frame 0: \d+ px/);
  await page.keyboard.press('Enter');
  await waitStatus(page, /propagated in/, 240_000);
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.body.dataset.videoFrame === '3');

  // A positive click just right of the box (a correction of the propagated frame) …
  await page.keyboard.press('p');
  await clickOnFrame(page, box[2] + 5, (box[1] + box[3]) >> 1, 3);
  const afterPositive = await maskAt(page, 1, 3, box[0] + 3, box[1] + 3);
  await shot(page, 'videoUse-01-positive');
  // … then a negative click where the mask is not: the mask must not grow to take that pixel.
  assert.equal(afterPositive.at, 0, 'the negative click below lands outside the mask');
  await page.keyboard.press('n');
  await clickOnFrame(page, box[0] + 3, box[1] + 3, 3);
  const afterNegative = await maskAt(page, 1, 3, box[0] + 3, box[1] + 3);
  await shot(page, 'videoUse-02-negative');
  assert.equal(afterNegative.at, 0, 'a negative click does not add the clicked pixel');
  assert.ok(
    afterNegative.area <= afterPositive.area,
    `a negative click does not grow the mask (${afterPositive.area} → ${afterNegative.area} px)`,
  );

  // A second object on frame 1, named before its first prompt (the name reaches the server with
  // that prompt), then both propagate: progress counts the clip's frames.
  await page.keyboard.press('a');
  assert.equal(await page.inputValue('#video-object'), '2');
  page.once('dialog', (d) => void d.accept('instrument'));
  await page.dblclick('#video-objects li[data-obj-id="2"] span:nth-child(2)');
  await page.waitForFunction(() => document.querySelector('#video-object option[value="2"]')?.textContent === 'instrument');
  await page.locator('#video-frame').fill('1');
  await page.waitForFunction(() => document.body.dataset.videoFrame === '1');
  await page.keyboard.press('x');
  await dragOnFrame(page, [20, 20, 120, 120]);
  await waitStatus(page, /frame 1: \d+ px/);
  statuses.length = 0;
  await page.keyboard.press('Enter');
  await waitStatus(page, /propagated in/, 240_000);
  await shot(page, 'videoUse-03-two-objects');
  const progress = statuses.filter((s) => /^propagating: \d+ \/ \d+/.test(s));
  assert.ok(progress.length > 0, `progress was shown: ${statuses.join(' | ')}`);
  for (const s of progress) {
    const m = /(\d+) \/ (\d+) frames/.exec(s);
    assert.ok(!m || Number(m[2]) <= FRAMES, `"${s}" counts more frames than the clip's ${FRAMES}`);
  }
  assert.match(progress.at(-1)!, new RegExp(`^propagating: ${2 * FRAMES} / ${2 * FRAMES} \\(2 objects × ${FRAMES} frames\\)$`));
  const shown = await page.evaluate(() =>
    JSON.stringify([...window.medsam2.video.masks].map(([o, m]: [number, Map<number, Uint8Array>]) => [o, [...m.keys()].sort()])),
  );

  // Where the annotator was: frame 4, object 2.
  for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.body.dataset.videoFrame === '4');
  await page.reload();
  await waitStatus(page, /session restored/);
  await page.waitForFunction(() => document.body.dataset.videoFrame !== undefined);
  assert.equal(await page.evaluate(() => document.body.dataset.videoFrame), '4', 'a reload comes back to the frame shown');
  assert.equal(await page.textContent('#video-frame-label'), `frame 4 / ${FRAMES - 1}`);
  assert.equal(await page.inputValue('#video-object'), '2', 'and to the object being edited');
  await shot(page, 'videoUse-04-reloaded');
  const restored = await page.evaluate(() =>
    JSON.stringify([...window.medsam2.video.masks].map(([o, m]: [number, Map<number, Uint8Array>]) => [o, [...m.keys()].sort()])),
  );
  assert.equal(restored, shown, 'a reload shows the same masks');
  assert.deepEqual(await maskAt(page, 1, 3, box[0] + 3, box[1] + 3), afterNegative, 'frame 3 as corrected');
  const sessionId: string = await page.evaluate(() => JSON.parse(window.localStorage.getItem('medsam2.video')).sessionId);
  const view = (await (await fetch(`${e2e.server.url}/sessions/${sessionId}`)).json()) as { objects: { name?: string }[] };
  assert.deepEqual(
    view.objects.map((o) => o.name),
    [undefined, 'instrument'],
    'the name given before the first prompt is on the server',
  );
  assert.deepEqual(errors, []);
});
