/**
 * Video mode of the browser app in Debian's Chromium: an mp4 made here from a real Kvasir-SEG
 * colonoscopy frame (a window sliding across it, so every frame has a reference mask) is opened
 * through the file input, shown as a frame with a timeline, a box is drawn on frame 0 with real
 * mouse events, Enter propagates with the masks streaming in, the timeline steps with the arrow
 * keys, and the three exports (masks.npz, PNG zip, overlay mp4) are downloaded and checked (DSC vs
 * the reference); undo takes the propagation back; a reload restores the session; then a brush
 * stroke and an eraser dab on another frame (real mouse events) change that frame's mask on the
 * server, undo / redo (buttons, Ctrl+Shift+Z, Ctrl+Y) step through them, the help overlay lists
 * video mode's keys, and a reload keeps the edits. Screenshots in test-output/web/video-*.png.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { readVideo } from '../../src/io/video.js';
import { ZipArchive } from '../../src/io/zip.js';
import { KVASIR_SKIP, maskBox, polypClipMp4, readClipMasksNpz, type SyntheticVideo } from '../pipelines/syntheticVideo.js';
import { openScan, promptsSent, closeClean } from './appDriver.js';
import { serverSlice, settle, shot, skipReason, strokeThrough, waitStatus, serverAndBrowser, dragBox } from './browser.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's frame embeddings come from the run's shared cache (each clip frame encoded once per run).
cacheSam1EncodesInFile();

// Browser globals inside page functions (this program has no DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any, localStorage: any;

const skip = skipReason() || KVASIR_SKIP;
if (skip) process.stdout.write(`# skipping the browser video test: ${skip}\n`);

const FRAMES = 6;
let clip: SyntheticVideo;
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-video-'));
let mp4 = '';

const e2e = serverAndBrowser(skip, {
  setUp: async () => {
    ({ clip, mp4 } = await polypClipMp4(tmp, FRAMES));
  },
  tearDown: () => rmSync(tmp, { recursive: true, force: true }),
});

async function frameToClient(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  return page.evaluate(([fx, fy]) => window.medsam2.video.frameToClient(fx, fy), [x, y]);
}

async function download(page: Page, file: string): Promise<Uint8Array> {
  await page.selectOption('#video-export-format', file);
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 240_000 }), page.click('#video-export')]);
  const path = join(tmp, `dl-${file}`);
  await dl.saveAs(path);
  await waitStatus(page, new RegExp(`downloaded ${file.replace('.', '\\.')}`));
  return new Uint8Array(readFileSync(path));
}

test('video mode: open an mp4, box on frame 0, propagate, step the timeline, export npz / PNG zip / overlay mp4, undo, reload', {
  skip,
  timeout: 900_000,
}, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, mp4);
  assert.equal(await page.isVisible('#video-canvas'), true, 'the frame view replaces the 3 planes');
  assert.equal(await page.isVisible('#gl'), false);
  const info = (await page.textContent('#info')) ?? '';
  assert.match(info, /kindvideo/);
  assert.match(info, new RegExp(`frames${FRAMES}fps10size560 × 480 px`));
  assert.equal(await page.textContent('#video-frame-label'), `frame 0 / ${FRAMES - 1}`);
  await shot(page, 'video-01-loaded');

  const box = maskBox(clip.masks[0]!, clip.width);
  const sent = promptsSent(page);
  await dragBox(page, box, frameToClient);
  await waitStatus(page, /frame 0: \d+ px/);
  assert.equal(sent[0]!.slice, 0);
  sent[0]!.box.forEach((v, i) =>
    assert.ok(Math.abs(v - box[i]!) <= 1, `box ${JSON.stringify(sent[0]!.box)} vs drawn ${JSON.stringify(box)}`),
  );
  await shot(page, 'video-02-box');

  await page.keyboard.press('Enter');
  await waitStatus(page, /propagated in/, 600_000);
  const masked = await page.evaluate(() => [...window.medsam2.video.masks.get(1).keys()].sort((x: number, y: number) => x - y));
  assert.deepEqual(masked, [...Array(FRAMES).keys()], 'every frame got its streamed mask');
  // The strip under the scrubber marks every frame that holds a mask, in the object's colour.
  const strip = await page.evaluate(() => {
    const t = document.getElementById('video-track');
    const d = t.getContext('2d').getImageData(0, 0, t.width, 1).data;
    return { width: t.width, red: Array.from({ length: t.width }, (_: unknown, k: number) => d[4 * k]) };
  });
  assert.deepEqual(strip, { width: FRAMES, red: Array(FRAMES).fill(255) });

  // The timeline: arrow keys step, the scrubber jumps.
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => document.body.dataset.videoFrame === '2');
  assert.equal(await page.textContent('#video-frame-label'), `frame 2 / ${FRAMES - 1}`);
  await page.locator('#video-frame').fill(String(FRAMES - 1));
  await page.waitForFunction((k) => document.body.dataset.videoFrame === String(k), FRAMES - 1);
  await shot(page, 'video-03-propagated-last-frame');

  const npz = await download(page, 'masks.npz');
  const { dsc } = await readClipMasksNpz(npz, clip);
  const mean = dsc.reduce((s, d) => s + d, 0) / dsc.length;
  console.log(`# browser video export: DSC per frame ${dsc.map((d) => d.toFixed(3)).join(' ')}, mean ${mean.toFixed(4)}`);
  assert.ok(mean > 0.8, `mean DSC ${mean.toFixed(4)}`);

  const zip = ZipArchive.open(await download(page, 'masks.zip'), 'masks.zip');
  assert.equal(zip.names().filter((n) => n.startsWith('masks/')).length, FRAMES);
  assert.ok(zip.names().includes('labels.json'));
  const overlay = join(tmp, 'dl-overlay.mp4');
  await download(page, 'overlay.mp4');
  const ov = await readVideo(overlay);
  assert.deepEqual([ov.frames.length, ov.width, ov.height], [FRAMES, 560, 480]);

  // Undo takes the propagation back: only the prompted frame keeps a mask.
  await page.keyboard.press('Control+z');
  await waitStatus(page, /^undone$/);
  const after = await page.evaluate(() => [...window.medsam2.video.masks.get(1).keys()]);
  assert.deepEqual(after, [0]);
  assert.equal(await page.isDisabled('#video-redo'), false, 'the propagation can be redone');
  await shot(page, 'video-04-undone');

  // A reload restores the video session: frame view, its masks and prompted frame from the server.
  await page.reload();
  await waitStatus(page, /session restored/);
  assert.equal(await page.isVisible('#video-canvas'), true);
  assert.deepEqual(await page.evaluate(() => [...window.medsam2.video.masks.get(1).keys()]), [0]);
  assert.match((await page.textContent('#info')) ?? '', /fileclip\.mp4kindvideo/);
  await shot(page, 'video-05-reloaded');

  // Brush on frame 2 (no mask there since the undo): B, radius 4 → 6, a stroke along row 200.
  const session = (await page.evaluate(() => JSON.parse(localStorage.getItem('medsam2.video')).sessionId)) as string;
  await page.locator('#video-frame').fill('2');
  await page.waitForFunction(() => document.body.dataset.videoFrame === '2');
  const canvasPixel = () =>
    page.evaluate(() => Array.from(document.getElementById('video-canvas').getContext('2d').getImageData(150, 200, 1, 1).data) as number[]);
  const bare = await canvasPixel();
  assert.equal(await page.isDisabled('#video-redo'), false, 'after a reload the undone propagation can still be redone');
  await page.keyboard.press('b');
  await page.keyboard.press(']');
  await page.keyboard.press(']');
  assert.equal(await page.textContent('#video-brush-radius'), '6');
  await strokeThrough(
    page,
    [
      { x: 100, y: 200 },
      { x: 200, y: 200 },
    ],
    frameToClient,
  );
  await waitStatus(page, /frame 2: painted, \d+ px/);
  assert.equal(await page.isDisabled('#video-redo'), true, 'a new edit clears what redo could bring back');
  assert.equal(await page.isVisible('#video-brush-cursor'), true, 'the brush shows its size under the mouse');
  let s = await serverSlice(e2e.server.url, session, 2);
  const at = (x: number, y: number) => s.bits[y * s.cols + x];
  assert.equal(at(150, 200), 1, 'painted on the stroke');
  assert.equal(at(150, 205), 1, 'within the radius');
  assert.equal(at(150, 210), 0, 'not beyond the radius');
  assert.equal(at(90, 200), 0, 'not before the stroke');
  const painted = s.bits.reduce((a, b) => a + b, 0);
  const shownArea = () =>
    page.evaluate(
      () =>
        window.medsam2.video.masks
          .get(1)
          .get(2)
          ?.reduce((a: number, b: number) => a + b, 0) ?? 0,
    );
  assert.equal(await shownArea(), painted, 'the frame shows the stored edit');
  // The canvas itself: the frame's pixel under the stroke is now half object 1's colour (255, 64, 64).
  const tinted = await canvasPixel();
  [255, 64, 64].forEach((c, i) =>
    assert.ok(Math.abs(tinted[i]! - (bare[i]! * 0.5 + c * 0.5)) <= 2, `pixel ${tinted} = half ${bare} + half object 1's colour`),
  );
  await shot(page, 'video-06-brush');

  // Eraser (E): one dab in the middle.
  await page.keyboard.press('e');
  await strokeThrough(page, [{ x: 150, y: 200 }], frameToClient);
  await waitStatus(page, /frame 2: erased, \d+ px/);
  s = await serverSlice(e2e.server.url, session, 2);
  assert.equal(at(150, 200), 0, 'erased');
  assert.equal(at(110, 200), 1, 'the rest of the stroke stays');
  await shot(page, 'video-07-eraser');

  // Undo (button) brings the erased pixels back; redo (Ctrl+Shift+Z) erases them again.
  await page.click('#video-undo');
  await waitStatus(page, /^undone$/);
  s = await serverSlice(e2e.server.url, session, 2);
  assert.equal(at(150, 200), 1, 'undo restored the pixel');
  assert.equal(await page.isDisabled('#video-redo'), false);
  await page.keyboard.press('Control+Shift+Z');
  await waitStatus(page, /^redone$/);
  s = await serverSlice(e2e.server.url, session, 2);
  assert.equal(at(150, 200), 0, 'redo erased it again');
  assert.equal(await page.isDisabled('#video-redo'), true);
  // Ctrl+Z twice takes both edits back; Ctrl+Y and the Redo button bring them back in order.
  for (const key of ['Control+z', 'Control+z']) {
    await settle(page);
    await page.keyboard.press(key);
    await waitStatus(page, /^undone$/);
  }
  assert.equal(
    (await serverSlice(e2e.server.url, session, 2)).bits.some((v) => v),
    false,
    'both edits undone',
  );
  assert.equal(await shownArea(), 0);
  await settle(page);
  await page.keyboard.press('Control+y');
  await waitStatus(page, /^redone$/);
  await settle(page);
  await page.click('#video-redo');
  await waitStatus(page, /^redone$/);
  s = await serverSlice(e2e.server.url, session, 2);
  assert.equal(at(110, 200), 1);
  assert.equal(at(150, 200), 0);
  const edited = s.bits.reduce((a, b) => a + b, 0);
  assert.equal(await shownArea(), edited);
  await shot(page, 'video-08-redone');

  // The help overlay lists video mode's keys (volume mode's table is hidden).
  await page.keyboard.press('?');
  assert.equal(await page.isVisible('#video-help-table'), true);
  assert.equal(await page.isVisible('#help-table'), false);
  const help = (await page.textContent('#video-help-table')) ?? '';
  for (const re of [/Ctrl\+z.*Undo/s, /Ctrl\+Shift\+z.*Ctrl\+y.*Redo/s, /b.*Brush/s, /e.*Eraser/s, /Space.*Play/s, /Enter.*Propagate/s])
    assert.match(help, re);
  await shot(page, 'video-09-help');
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#help'), false);

  // Nothing drawn is lost on reload.
  await page.reload();
  await waitStatus(page, /session restored/);
  assert.equal(await shownArea(), edited, 'the edits come back after a reload');
  assert.deepEqual(await page.evaluate(() => [...window.medsam2.video.masks.get(1).keys()].sort()), [0, 2]);
  await closeClean(page, errors);
});
