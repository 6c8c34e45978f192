/**
 * Video mode's object controls and prompt feedback (Chromium, a real Kvasir-SEG clip as fx.mp4):
 * - a + / − click leaves a green / red marker where it was made, on that frame only, for the
 *   object being edited, kept across frame changes, undo / redo (as the server's session) and a reload;
 * - a box leaves its dashed outline in the object's colour on the frame it was drawn on: gone on
 *   other frames, after undo (back after redo), when the object is hidden or deleted; kept on reload;
 * - the side panel lists the objects (objectList.ts): rename by double-click (kept on the server:
 *   a reload without the browser's saved names shows it, masks.zip's labels.json carries it), hide,
 *   delete; a deleted object is gone from the server's session and from masks.npz;
 * - a 256th object is refused with a message, not silently ignored.
 * Screenshots in test-output/web/videoObjects-*.png.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { ZipArchive } from '../../src/io/zip.js';
import { KVASIR_SKIP, maskBox, readClipMasksNpz } from '../pipelines/syntheticVideo.js';
import { shot, skipReason, waitStatus } from './browser.js';
import { clickOnFrame, dragOnFrame, polypClipE2E } from './polypClipE2E.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's frame embeddings come from the run's shared cache (each clip frame encoded once per run).
cacheSam1EncodesInFile();

// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

const skip = skipReason() || KVASIR_SKIP;
if (skip) process.stdout.write(`# skipping the video-objects browser test: ${skip}\n`);

const FRAMES = 3;
const GREEN = [34, 197, 94];
const RED = [239, 68, 68];
// web/src/colours.ts: objects 1 and 2.
const OBJECT_1 = [255, 64, 64];
const OBJECT_2 = [64, 200, 255];
const fx = polypClipE2E(skip, FRAMES, 'medsam2-web-video-objects-');
const { e2e } = fx;

/** Pixels of exactly `rgb` on the shown canvas within 12 frame pixels of (x, y): a marker's fill. */
async function markerPixels(page: Page, x: number, y: number, rgb: number[]): Promise<number> {
  // Let a pending redraw land first.
  await page.evaluate(() => new Promise((r) => window.requestAnimationFrame(() => window.setTimeout(r, 50))));
  return page.evaluate(
    ([px, py, c]) => {
      const canvas = document.getElementById('video-canvas');
      const d = canvas.getContext('2d').getImageData(px - 12, py - 12, 25, 25).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] === c[0] && d[i + 1] === c[1] && d[i + 2] === c[2]) n++;
      return n;
    },
    [x, y, rgb] as const,
  );
}

/** The share of a box's edge pixels (frame pixels on its four sides) drawn exactly in `rgb`: its outline (dashed: about 0.6). */
async function outlineShare(page: Page, box: readonly number[], rgb: number[]): Promise<number> {
  await page.evaluate(() => new Promise((r) => window.requestAnimationFrame(() => window.setTimeout(r, 50))));
  return page.evaluate(
    ([b, c]) => {
      const ctx = document.getElementById('video-canvas').getContext('2d');
      const edge: [number, number][] = [];
      for (let x = b[0]; x <= b[2]; x++) edge.push([x, b[1]], [x, b[3]]);
      for (let y = b[1] + 1; y < b[3]; y++) edge.push([b[0], y], [b[2], y]);
      let n = 0;
      for (const [x, y] of edge) {
        const d = ctx.getImageData(x, y, 1, 1).data;
        if (d[0] === c[0] && d[1] === c[1] && d[2] === c[2]) n++;
      }
      return n / edge.length;
    },
    [box, rgb] as const,
  );
}

async function showFrame(page: Page, k: number): Promise<void> {
  await page.locator('#video-frame').fill(String(k));
  await page.waitForFunction((f) => document.body.dataset.videoFrame === String(f), k);
}

const rows = (page: Page): Promise<string[]> =>
  page.$$eval('#video-objects li', (lis) => lis.map((li) => `${li.dataset.objId}:${li.querySelector('span:nth-child(2)')!.textContent}`));

test('video mode: click markers, object list (rename, hide, delete: the export follows), the 255-object limit', {
  skip,
  timeout: 300_000,
}, async () => {
  const { page, errors } = await e2e.open();
  await page.setInputFiles('#file', fx.mp4);
  await waitStatus(page, /draw a box/);
  assert.ok(await page.isVisible('#video-objects'), 'video mode shows its object list');
  const box = maskBox(fx.clip.masks[0]!, fx.clip.width);
  assert.equal(await outlineShare(page, box, OBJECT_1), 0, 'no outline before the box');
  await dragOnFrame(page, box);
  await waitStatus(page, /frame 0: \d+ px/);
  await shot(page, 'videoObjects-00-box-outline');
  assert.ok((await outlineShare(page, box, OBJECT_1)) > 0.4, "the box's outline stays on its frame in object 1's colour");

  // A + click inside the polyp and a − click outside it, both on frame 0: each leaves its marker.
  const plus = [(box[0] + box[2]) >> 1, (box[1] + box[3]) >> 1] as const;
  const minus = [Math.max(15, box[0] - 25), Math.max(15, box[1] - 25)] as const;
  assert.equal(await markerPixels(page, plus[0], plus[1], GREEN), 0, 'no marker before the click');
  await page.keyboard.press('p');
  await clickOnFrame(page, plus[0], plus[1], 0);
  await page.keyboard.press('n');
  await clickOnFrame(page, minus[0], minus[1], 0);
  await shot(page, 'videoObjects-01-clicks');
  assert.ok((await markerPixels(page, plus[0], plus[1], GREEN)) > 20, 'a green marker where the + click was made');
  assert.ok((await markerPixels(page, minus[0], minus[1], RED)) > 20, 'a red marker where the − click was made');
  assert.ok((await outlineShare(page, box, OBJECT_1)) > 0.4, 'clicks keep the box (they add to it)');
  // On another frame no marker and no outline; back on frame 0 they are there again.
  await showFrame(page, 1);
  assert.equal(await markerPixels(page, plus[0], plus[1], GREEN), 0, 'frame 1 has no clicks');
  assert.equal(await outlineShare(page, box, OBJECT_1), 0, 'frame 1 has no box');
  await showFrame(page, 0);
  assert.ok((await markerPixels(page, plus[0], plus[1], GREEN)) > 20, 'the marker is kept across frame changes');
  // Undo takes the − click's marker away (the + stays), redo brings it back: the server's clicks in effect.
  await page.keyboard.press('Control+z');
  await waitStatus(page, /^undone$/);
  assert.equal(await markerPixels(page, minus[0], minus[1], RED), 0, 'an undone click leaves no marker');
  assert.ok((await markerPixels(page, plus[0], plus[1], GREEN)) > 20, 'the earlier click keeps its marker');
  await page.keyboard.press('Control+Shift+z');
  await waitStatus(page, /^redone$/);
  assert.ok((await markerPixels(page, minus[0], minus[1], RED)) > 20, 'a redone click shows again');

  // A second object with a box on frame 1, renamed by double-click in the list.
  await page.keyboard.press('a');
  await showFrame(page, 1);
  await page.keyboard.press('x');
  const box2 = [20, 20, 140, 140];
  await dragOnFrame(page, box2);
  await waitStatus(page, /frame 1: \d+ px/);
  assert.ok((await outlineShare(page, box2, OBJECT_2)) > 0.4, "object 2's box outline, in its colour");
  // Undo of the box takes its outline away; redo brings it back (the server's prompts in effect).
  await page.keyboard.press('Control+z');
  await waitStatus(page, /^undone$/);
  assert.equal(await outlineShare(page, box2, OBJECT_2), 0, 'an undone box leaves no outline');
  await page.keyboard.press('Control+Shift+z');
  await waitStatus(page, /^redone$/);
  assert.ok((await outlineShare(page, box2, OBJECT_2)) > 0.4, 'a redone box shows again');
  page.once('dialog', (d) => void d.accept('instrument'));
  await page.dblclick('#video-objects li[data-obj-id="2"] span:nth-child(2)');
  await page.waitForFunction(() => document.querySelector('#video-object option[value="2"]')?.textContent === 'instrument');
  assert.deepEqual(await rows(page), ['1:object 1', '2:instrument']);
  // Object 1's clicks are not drawn while object 2 is edited; selecting object 1 in the list shows them.
  await showFrame(page, 0);
  assert.equal(await markerPixels(page, plus[0], plus[1], GREEN), 0, "another object's clicks are not drawn");
  await page.click('#video-objects li[data-obj-id="1"] .stats');
  assert.equal(await page.inputValue('#video-object'), '1');
  assert.ok((await markerPixels(page, plus[0], plus[1], GREEN)) > 20);
  await shot(page, 'videoObjects-02-list');

  // The name is the server's: listed with the session's objects and in masks.zip's labels.json.
  const sessionId: string = await page.evaluate(() => JSON.parse(window.localStorage.getItem('medsam2.video')).sessionId);
  const named = (await (await fetch(`${e2e.server.url}/sessions/${sessionId}`)).json()) as { objects: { objId: number; name?: string }[] };
  assert.deepEqual(
    named.objects.map((o) => [o.objId, o.name]),
    [
      [1, undefined],
      [2, 'instrument'],
    ],
  );
  const zip = ZipArchive.open(
    new Uint8Array(await (await fetch(`${e2e.server.url}/sessions/${sessionId}/video/masks.zip`)).arrayBuffer()),
    'zip',
  );
  assert.deepEqual(JSON.parse(new TextDecoder().decode(zip.read('labels.json'))).labels, [
    { value: 1, name: 'object 1' },
    { value: 2, name: 'instrument' },
  ]);

  // A reload keeps the names (from the server: this browser's saved names are dropped first, as on
  // another browser), the markers and the outlines.
  await page.evaluate(() => {
    const saved = JSON.parse(window.localStorage.getItem('medsam2.video'));
    delete saved.objects;
    window.localStorage.setItem('medsam2.video', JSON.stringify(saved));
  });
  await page.reload();
  await waitStatus(page, /session restored/);
  await page.waitForFunction(() => document.body.dataset.videoFrame === '0');
  assert.deepEqual(await rows(page), ['1:object 1', '2:instrument'], 'names survive a reload');
  assert.ok((await markerPixels(page, plus[0], plus[1], GREEN)) > 20, 'the + marker survives a reload');
  assert.ok((await markerPixels(page, minus[0], minus[1], RED)) > 20, 'the − marker survives a reload');
  assert.ok((await outlineShare(page, box, OBJECT_1)) > 0.4, 'the box outline survives a reload');
  await showFrame(page, 1);
  assert.ok((await outlineShare(page, box2, OBJECT_2)) > 0.4, "object 2's outline survives a reload");

  // Delete "instrument": gone from the list, the server's session and masks.npz, its outline from frame 1.
  const npzBefore = await page.evaluate(
    async (id) => Array.from(new Uint8Array(await (await fetch(`/sessions/${id}/video/masks.npz`)).arrayBuffer())),
    sessionId,
  );
  const before = await readClipMasksNpz(Uint8Array.from(npzBefore), fx.clip);
  assert.ok(before.frameMask(1).includes(2), 'object 2 is in the export before the delete');
  await page.click('#video-objects li[data-obj-id="2"] button:nth-of-type(2)');
  await waitStatus(page, /deleted instrument/);
  assert.deepEqual(await rows(page), ['1:object 1']);
  assert.equal(await outlineShare(page, box2, OBJECT_2), 0, "a deleted object's outline is gone");
  await showFrame(page, 0);
  const view = (await (await fetch(`${e2e.server.url}/sessions/${sessionId}`)).json()) as { objects: { objId: number }[] };
  assert.deepEqual(
    view.objects.map((o) => o.objId),
    [1],
  );
  const npzAfter = await page.evaluate(
    async (id) => Array.from(new Uint8Array(await (await fetch(`/sessions/${id}/video/masks.npz`)).arrayBuffer())),
    sessionId,
  );
  const after = await readClipMasksNpz(Uint8Array.from(npzAfter), fx.clip);
  assert.ok(!(after.segs.data as Uint8Array).includes(2), 'a deleted object is absent from masks.npz');
  assert.ok(after.frameMask(0).includes(1), 'object 1 is kept');

  // Hide object 1: its mask is not drawn (the frame shows the picture's own pixels there).
  const inMask = (await page.evaluate(
    ([cols, mx, my]) => {
      const m = window.medsam2.video.masks.get(1).get(0);
      for (let i = 0; i < m.length; i++) {
        const x = i % cols,
          y = Math.floor(i / cols);
        if (m[i] && Math.hypot(x - mx, y - my) > 30) return [x, y];
      }
      return null;
    },
    [fx.clip.width, plus[0], plus[1]] as const,
  )) as [number, number];
  const pixel = () =>
    page.evaluate(([x, y]) => Array.from(document.getElementById('video-canvas').getContext('2d').getImageData(x, y, 1, 1).data), inMask);
  const shown = await pixel();
  await page.click('#video-objects li[data-obj-id="1"] button:nth-of-type(1)');
  assert.equal(await page.textContent('#video-objects li[data-obj-id="1"] button:nth-of-type(1)'), 'show');
  await page.evaluate(() => new Promise((r) => window.requestAnimationFrame(() => window.setTimeout(r, 50))));
  assert.notDeepEqual(await pixel(), shown, 'a hidden object is not drawn');
  assert.equal(await outlineShare(page, box, OBJECT_1), 0, "nor is its box's outline");

  // Objects up to label 255, then a message instead of nothing.
  await page.evaluate(() => {
    for (let i = 0; i < 254; i++) window.medsam2.video.addObject();
  });
  assert.equal(await page.$$eval('#video-objects li', (l) => l.length), 255);
  assert.equal(await page.isVisible('#message'), false);
  await page.keyboard.press('a');
  await page.waitForSelector('#message:not([hidden])');
  assert.match((await page.textContent('#message-text')) ?? '', /at most 255 objects/);
  assert.equal(await page.$$eval('#video-objects li', (l) => l.length), 255, 'no 256th object');
  await shot(page, 'videoObjects-03-limit');
  assert.deepEqual(errors, []);
});
