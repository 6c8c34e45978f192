/**
 * The viewer as a demanding user sees it (real server, real Chromium, the shared NIfTI CT
 * 122 × 101 × 30 and a ct-lesion .npz):
 * - a message (an error or a note) never resizes the views: the canvas and every tile keep their
 *   size (the bar pushed the page down and squashed the 3-plane layout's top row);
 * - the Window list follows a Navigate drag ("custom" with its W/L, the W/L shown on the view), and
 *   a preset picked afterwards applies;
 * - a reload brings back the layout, the window (preset or custom W/L), the crosshair / slice and
 *   the masks' opacity, in the page's state and on screen;
 * - "auto" on a CT in Hounsfield units is the soft-tissue window (it was NiiVue's 2–98 % range of
 *   all voxels, mostly air: a flat grey picture), while a scan in other units keeps its own range;
 * - cancel during a propagation: how long until "cancelled" shows (printed, not asserted).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import {
  axialWith,
  closeClean,
  crosshair,
  displayRange,
  dragFromCentre,
  frames,
  messageOnTop,
  openRefused,
  openScan,
} from './appDriver.js';
import { CT_LESION, CT_ORGANS, ready, serverAndBrowser, settle, shot, skipReason, voxelToClient, waitStatus } from './browser.js';

// Browser globals inside page functions (this program has no DOM lib: it would retype Node's fetch).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any, requestAnimationFrame: any, performance: any;

const skip = skipReason();
if (skip) process.stdout.write(`# skipping the browser e2e tests: ${skip}\n`);

const e2e = serverAndBrowser(skip);

/** The canvas's box on the page and NiiVue's tiles (left, top, width, height in canvas pixels). */
function geometry(page: Page): Promise<{ canvas: number[]; tiles: number[][] }> {
  return page.evaluate(() => {
    const r = document.getElementById('gl').getBoundingClientRect();
    const nv = window.medsam2.viewer.nv;
    nv.drawScene();
    return {
      canvas: [r.left, r.top, r.width, r.height, nv.gl.canvas.width, nv.gl.canvas.height],
      tiles: nv.screenSlices.map((s: { leftTopWidthHeight: number[]; axCorSag: number }) => [
        s.axCorSag,
        ...Array.from(s.leftTopWidthHeight),
      ]),
    };
  });
}

test('a message does not resize the views: the canvas and the 3-plane tiles keep their size', { skip, timeout: 300_000 }, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  await page.selectOption('#layout', 'multi');
  await frames(page);
  const before = await geometry(page);
  assert.equal(before.tiles.length >= 3, true, 'three plane tiles');
  // A real error: a file type the viewer does not show.
  await openRefused(page, { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a scan') }, 30_000);
  await frames(page);
  await page.evaluate(() => window.medsam2.viewer.waitDrawn());
  assert.deepEqual(await geometry(page), before, 'the views are as they were with the message shown');
  // The message is readable on top (not under the canvas) and its close button works.
  const box = (await page.locator('#message').boundingBox())!;
  assert.ok(box.height > 10 && box.width > 300, JSON.stringify(box));
  assert.ok(await messageOnTop(page, box), 'the message is drawn above the views');
  await shot(page, '22-message-over-views');
  await page.click('#message-close');
  await frames(page);
  assert.deepEqual(await geometry(page), before, 'and after it is dismissed');
  await closeClean(page, errors);
});

test('auto window: soft tissue on a CT in HU, 8-bit data as stored', { skip, timeout: 300_000 }, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  assert.equal(await page.inputValue('#window'), 'auto');
  // The soft-tissue window (W 400, L 40), as the abdomen preset: fat dark grey, organs apart.
  assert.deepEqual(await displayRange(page), [-160, 240]);
  assert.match((await page.textContent('#wl-readout')) ?? '', /W 400 L 40/);
  await page.selectOption('#layout', 'axial');
  await shot(page, '24-auto-window-ct-soft-tissue');
  // A MedSAM2 .npz holds 8-bit 0–255 (already windowed): auto shows it as stored.
  await settle(page); // the last scan's "draw a box" must not count as this one's
  await openScan(page, CT_LESION);
  assert.deepEqual(await displayRange(page), [0, 255]);
  await closeClean(page, errors);
});

test('Window list: a Navigate drag shows "custom" with its W/L; a preset picked afterwards applies', {
  skip,
  timeout: 300_000,
}, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  await axialWith(page, 'navigate');
  const before = await displayRange(page);
  await dragFromCentre(page, 60, -30);
  await page.waitForFunction(() => document.getElementById('window').value === 'custom', undefined, { timeout: 30_000 }).catch(() => {});
  const [lo, hi] = await displayRange(page);
  assert.notDeepEqual([lo, hi], before, 'the drag windowed');
  const w = Math.round(hi! - lo!),
    l = Math.round((hi! + lo!) / 2);
  assert.equal(await page.inputValue('#window'), 'custom', 'the list says the window is no longer "auto"');
  const option = await page.evaluate(() => document.querySelector('#window option[value="custom"]').textContent);
  assert.equal(option, `custom (W ${w} L ${l})`);
  assert.equal(await page.textContent('#wl-readout'), `W ${w} L ${l}`);
  await shot(page, '23-navigate-drag-custom-window');
  // Picking a preset applies it (the list changed from "custom" to it).
  await page.selectOption('#window', 'lung');
  assert.deepEqual(await displayRange(page), [-1350, 150]);
  assert.equal(await page.textContent('#wl-readout'), 'W 1500 L -600');
  // "custom" again: the dragged W/L comes back.
  await page.selectOption('#window', 'custom');
  const back = await displayRange(page);
  assert.equal(Math.round(back[1]! - back[0]!), w);
  assert.equal(Math.round((back[1]! + back[0]!) / 2), l);
  // Another scan opened: the dragged W/L was the last scan's; the list is back on "auto" (an HU
  // window on a 0–255 .npz showed a white page).
  await settle(page); // the last scan's "draw a box" must not count as this one's
  await openScan(page, CT_LESION);
  assert.equal(await page.inputValue('#window'), 'auto');
  assert.equal(await page.evaluate(() => document.querySelector('#window option[value="custom"]').hidden), true);
  const [nlo, nhi] = await displayRange(page);
  assert.ok(nlo! >= 0 && nhi! <= 255, `npz window [${nlo}, ${nhi}]`);
  await closeClean(page, errors);
});

test('a reload restores the layout, the window (preset or custom) and the crosshair / slice', { skip, timeout: 400_000 }, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  await page.selectOption('#layout', 'coronal');
  await page.selectOption('#window', 'lung');
  await page.locator('#opacity').fill('0.8');
  await page.locator('#slice').fill('60');
  await page.waitForFunction(() => document.getElementById('slice-label').textContent.startsWith('coronal slice 60 '));
  const xyz = await crosshair(page);
  assert.equal(xyz[1], 60);
  await page.evaluate(() => window.medsam2.viewer.waitDrawn());
  const canvas = page.locator('#drop canvas');
  const picture = await canvas.screenshot();
  await shot(page, '25-before-reload');
  await page.reload();
  await ready(page);
  await waitStatus(page, /session restored/);
  assert.equal(await page.inputValue('#layout'), 'coronal');
  assert.equal(await page.inputValue('#window'), 'lung');
  assert.deepEqual(await displayRange(page), [-1350, 150]);
  assert.deepEqual(await crosshair(page), xyz);
  assert.equal(await page.inputValue('#opacity'), '0.8');
  assert.equal(await page.evaluate(() => window.medsam2.viewer.nv.volumes[1].opacity), 0.8);
  assert.match((await page.textContent('#slice-label')) ?? '', /^coronal slice 60 \(0–100\)/);
  assert.equal(await page.evaluate(() => window.medsam2.viewer.nv.opts.sliceType), 1, 'NiiVue shows the coronal plane');
  await page.evaluate(() => window.medsam2.viewer.waitDrawn());
  const restored = await canvas.screenshot();
  await shot(page, '25b-reloaded-view-restored');
  const [p0, p1] = [PNG.sync.read(picture), PNG.sync.read(restored)];
  assert.equal(p1.width * p1.height, p0.width * p0.height);
  let differ = 0;
  for (let i = 0; i < p0.data.length; i += 4) if (Math.abs(p0.data[i]! - p1.data[i]!) > 8) differ++;
  assert.equal(differ, 0, `the canvas after the reload differs from before it in ${differ} pixels`);

  // A custom W/L (Navigate drag) survives a reload too.
  await axialWith(page, 'navigate');
  await dragFromCentre(page, -50, 40);
  await page.waitForFunction(() => document.getElementById('window').value === 'custom', undefined, { timeout: 30_000 });
  // The list turns "custom" at the drag's first move; its last W/L is noted once the release is handled.
  await page.evaluate(() => new Promise((r) => setTimeout(r, 50)));
  const custom = await displayRange(page);
  // Reloaded at once (within the app's 150 ms save delay): the last W/L must still come back.
  await page.reload();
  await ready(page);
  await waitStatus(page, /session restored/);
  assert.equal(await page.inputValue('#layout'), 'axial');
  assert.equal(await page.inputValue('#window'), 'custom');
  const again = await displayRange(page);
  assert.ok(Math.abs(again[0]! - custom[0]!) < 0.01 && Math.abs(again[1]! - custom[1]!) < 0.01, `${again} vs ${custom}`);
  await closeClean(page, errors);
});

test('cancel during a propagation: time until "cancelled" shows (measured, printed)', { skip, timeout: 600_000 }, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  await page.selectOption('#layout', 'axial');
  // A box around the liver on the middle slice.
  await page.locator('#slice').fill('15');
  await page.waitForFunction(() => document.getElementById('slice-label').textContent.startsWith('slice 15 '));
  const a = await voxelToClient(page, 20, 25);
  const c = await voxelToClient(page, 60, 70);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move(c.x, c.y, { steps: 6 });
  await page.mouse.up();
  await waitStatus(page, /slice 15: \d+ px/);
  const times: number[] = [];
  // Timed in the page (performance.now): the press on Cancel, the POST /cancel's resource timing,
  // and when the status line first said "cancelling" and "cancelled" (a MutationObserver). The
  // server runs in this process: its event loop's delays are measured here too.
  const cancel = (await page.locator('#cancel').boundingBox())!;
  await page.evaluate(() => {
    window.t = {};
    document.getElementById('cancel').addEventListener('pointerdown', () => (window.t.pressed = performance.now()), { capture: true });
    new window.MutationObserver(() => {
      const text = document.getElementById('status').textContent;
      if (/cancelling/.test(text)) window.t.cancelling ??= performance.now();
      if (/cancelled/.test(text)) window.t.cancelled ??= performance.now();
    }).observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true });
  });
  for (let i = 0; i < 3; i++) {
    await page.evaluate(() => {
      window.t = {};
      performance.clearResourceTimings();
    });
    await page.click('#propagate');
    await page.waitForFunction(() => /propagating: [1-9]/.test(document.getElementById('status').textContent), undefined, {
      timeout: 120_000,
      polling: 20,
    });
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    await page.mouse.click(cancel.x + cancel.width / 2, cancel.y + cancel.height / 2);
    await waitStatus(page, /cancelled|propagated/, 120_000);
    await page.waitForFunction(() => !document.getElementById('propagate').disabled, undefined, { timeout: 120_000 });
    loop.disable();
    const status = (await page.textContent('#status')) ?? '';
    const m = (await page.evaluate(() => {
      const r = performance.getEntriesByType('resource').find((e: { name: string }) => e.name.endsWith('/cancel'));
      return { ...window.t, sent: r?.startTime, answered: r?.responseEnd, settled: performance.now() };
    })) as Record<string, number | undefined>;
    const at = (k: string) => (m[k] !== undefined && m.pressed !== undefined ? `${Math.round(m[k]! - m.pressed)} ms` : '—');
    if (/cancelled/.test(status) && m.cancelled !== undefined) times.push(m.cancelled - m.pressed!);
    process.stdout.write(
      `# cancel ${i + 1} (after the press): POST sent ${at('sent')}, answered ${at('answered')}; "cancelling" shown ${at('cancelling')}, ` +
        `"cancelled" ${at('cancelled')}, app idle ${at('settled')} ("${status}"); server event loop: max delay ` +
        `${Math.round(loop.max / 1e6)} ms, p99 ${Math.round(loop.percentile(99) / 1e6)} ms\n`,
    );
  }
  process.stdout.write(`# press → "cancelled" shown: ${times.map((t) => Math.round(t)).join(', ')} ms\n`);
  const progress = await page.evaluate(() => document.getElementById('progress').value);
  assert.ok(progress > 0, `the bar shows the last run (${progress})`);
  assert.ok(times.length > 0, 'at least one propagation was cancelled (none ended before the click)');
  // The session is as before each propagation: only the prompted slice has a mask.
  const stats = await page.evaluate(() => window.medsam2.viewer.objectStats(1));
  assert.equal(stats.first, 15);
  assert.equal(stats.last, 15);
  // Another scan opened: the bar no longer shows the last scan's propagation.
  await settle(page); // the last scan's "draw a box" must not count as this one's
  await openScan(page, CT_LESION);
  assert.equal(await page.evaluate(() => document.getElementById('progress').value), 0);
  await closeClean(page, errors);
});
