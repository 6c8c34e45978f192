/**
 * The slice bar scrolls the plane on screen: with the coronal (or sagittal) layout, ◀ / ▶, the
 * slider and ↑ / ↓ step the coronal (sagittal) index and the label names that plane and its range,
 * as a Slicer or OHIF viewport does; the axial slice stays where it was. (Before: they stepped the
 * axial z under a coronal view, so the picture never changed plane and the label said "slice 15
 * (0–29)" over a coronal image.) And the toolbar's lists do not swallow the keys: a list picked
 * with the mouse hands ↑/↓ back to the views, and Ctrl shortcuts work on a focused list (Ctrl+S
 * after choosing the export format downloads that format). With Navigate, a left drag windows the
 * image (it moved the crosshair: NiiVue's left button follows dragModePrimary). Real server, real
 * Chromium, the shared NIfTI CT (122 × 101 × 30).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { axialWith, closeClean, crosshair, displayRange, dragFromCentre, openScan } from './appDriver.js';
import { CT_ORGANS, shot, skipReason, voxelToClient, waitStatus, serverAndBrowser } from './browser.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

// Browser globals inside page functions (this program has no DOM lib: it would retype Node's fetch).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

const skip = skipReason();
if (skip) process.stdout.write(`# skipping the browser e2e tests: ${skip}\n`);

const e2e = serverAndBrowser(skip);

async function label(page: Page, re: RegExp): Promise<RegExpExecArray> {
  await page
    .waitForFunction((src) => new RegExp(src).test(document.getElementById('slice-label').textContent), re.source, { timeout: 30_000 })
    .catch(() => {});
  const text = (await page.textContent('#slice-label')) ?? '';
  const m = re.exec(text);
  assert.ok(m, `slice label "${text}" vs /${re.source}/`);
  return m;
}

test('coronal and sagittal layouts: the slice bar, its buttons and ↑/↓ step the plane shown', { skip, timeout: 300_000 }, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  await page.selectOption('#window', 'abdomen');

  await page.selectOption('#layout', 'coronal');
  const y0 = Number((await label(page, /^coronal slice (\d+) \(0–100\)/))[1]);
  const start = await crosshair(page);
  assert.equal(y0, start[1], 'the label shows the crosshair’s coronal index');
  assert.equal(await page.getAttribute('#slice', 'max'), '100');

  await page.click('#slice-up');
  await label(page, new RegExp(`^coronal slice ${y0 + 1} `));
  assert.deepEqual(await crosshair(page), [start[0], y0 + 1, start[2]], '▶ moved the coronal plane only');

  await page.locator('#slice').fill('70');
  await label(page, /^coronal slice 70 /);
  await page.focus('#slice');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await label(page, /^coronal slice 68 /);
  assert.deepEqual(await crosshair(page), [start[0], 68, start[2]], 'slider and ↓ moved the coronal plane only');
  await page.click('#slice-up');
  await page.click('#slice-up');
  await page.click('#slice-down');
  await label(page, /^coronal slice 69 /);
  await shot(page, '18-coronal-scroll');

  await page.selectOption('#layout', 'sagittal');
  await label(page, new RegExp(`^sagittal slice ${start[0]} \\(0–121\\)`));
  await page.focus('#slice');
  await page.keyboard.press('PageUp');
  await label(page, new RegExp(`^sagittal slice ${start[0]! + 1} `));
  assert.deepEqual(await crosshair(page), [start[0]! + 1, 69, start[2]]);
  await shot(page, '18b-sagittal-scroll');

  // Back on the axial view the bar is the axial z again, where it was.
  await page.selectOption('#layout', 'axial');
  await label(page, new RegExp(`^slice ${start[2]} \\(0–29\\)`));
  assert.equal(await page.getAttribute('#slice', 'max'), '29');
  await closeClean(page, errors);
});

test('toolbar lists: picked with the mouse, ↑ scrolls slices; focused, Ctrl+S exports the chosen format', {
  skip,
  timeout: 300_000,
}, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  const z0 = Number((await label(page, /^slice (\d+) /))[1]);

  // "View: axial" picked with the mouse (pointer on the list, then the option), then ↑: the next slice.
  await page.dispatchEvent('#layout', 'pointerdown');
  await page.focus('#layout');
  await page.selectOption('#layout', 'axial');
  await page.keyboard.press('ArrowUp');
  await label(page, new RegExp(`^slice ${z0 + 1} `));
  assert.equal(await page.inputValue('#layout'), 'axial', '↑ left the view as picked');
  await shot(page, '19-list-picked-arrow-scrolls');

  // A list reached from the keyboard keeps its arrows (no pointer): ↓ steps the window preset, not the slice.
  await page.focus('#window');
  await page.keyboard.press('ArrowDown');
  assert.equal(await page.inputValue('#window'), 'abdomen');
  await label(page, new RegExp(`^slice ${z0 + 1} `));

  // The export format chosen from the keyboard, the list still focused: Ctrl+S downloads that format.
  await page.focus('#export-format');
  await page.selectOption('#export-format', 'nrrd');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'export-format');
  const download = page.waitForEvent('download', { timeout: 60_000 });
  await page.keyboard.press('Control+s');
  assert.equal((await download).suggestedFilename(), 'example_ct_sm_seg.nrrd');
  await closeClean(page, errors);
});

test('Navigate: a left drag on the image windows it (width by x, level by y), as its tooltip and Slicer’s W/L mode', {
  skip,
  timeout: 300_000,
}, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  await axialWith(page, 'navigate');
  const before = await displayRange(page);
  const canvas = page.locator('#drop canvas');
  const picture = await canvas.screenshot();
  const { box: b, x, y } = await dragFromCentre(page, 60, -30);
  await page
    .waitForFunction(
      (w) => {
        const v = window.medsam2.viewer.nv.volumes[0];
        return v.cal_min !== w[0] || v.cal_max !== w[1];
      },
      before,
      { timeout: 30_000 },
    )
    .catch(() => {});
  const after = await displayRange(page);
  process.stdout.write(`# window [${before}] → [${after}] after a left drag of (+60, −30) px\n`);
  assert.notDeepEqual(after, before, `the window ${JSON.stringify(before)} did not change under a left drag`);
  await page.evaluate(() => window.medsam2.viewer.waitDrawn?.());
  assert.ok(!(await canvas.screenshot()).equals(picture), 'the picture is drawn with the new window');
  await shot(page, '21-navigate-left-drag-windows');
  // A click (no drag) still puts the crosshair on the voxel clicked, and leaves the window as it was.
  const z = (await crosshair(page))[2]!;
  const p = await voxelToClient(page, 30, 40);
  await page.mouse.click(p.x, p.y);
  await page.waitForFunction(() => window.medsam2.viewer.crosshairIndex(0) === 30, undefined, { timeout: 30_000 }).catch(() => {});
  assert.deepEqual(await crosshair(page), [30, 40, z], 'a Navigate click moves the crosshair there');
  assert.deepEqual(await displayRange(page), after, 'a click does not window');
  // On the 3D tile of the 3-planes layout the same drag still turns the render, not the window.
  await page.selectOption('#layout', 'multi');
  const tile = (await page.evaluate(() => {
    const s = window.medsam2.viewer.nv.screenSlices.find((t: { axCorSag: number }) => t.axCorSag === 4);
    return s?.leftTopWidthHeight ? Array.from(s.leftTopWidthHeight as number[]) : undefined;
  })) as number[] | undefined;
  assert.ok(tile, 'the 3-planes layout has a 3D tile');
  const turn = () => page.evaluate(() => window.medsam2.viewer.nv.scene.renderAzimuth as number);
  const azimuth = await turn();
  const rx = b.x + tile[0]! + tile[2]! / 2,
    ry = b.y + tile[1]! + tile[3]! / 2;
  await page.mouse.move(rx, ry);
  await page.mouse.down();
  await page.mouse.move(rx + 80, ry + 20, { steps: 6 });
  await page.mouse.up();
  assert.notEqual(await turn(), azimuth, 'a drag on the 3D tile turns it');
  assert.deepEqual(await displayRange(page), after, 'a drag on the 3D tile does not window');
  await page.selectOption('#layout', 'axial');
  // A prompt tool takes the left drag back: a box drag leaves the window alone.
  await page.click('[data-tool="box"]');
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + 40, y + 40, { steps: 4 });
  await page.mouse.up();
  await waitStatus(page, /slice \d+: \d+ px/);
  assert.deepEqual(await displayRange(page), after, 'a box drag does not window');
  await closeClean(page, errors);
});
