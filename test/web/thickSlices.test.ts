/**
 * A thick-slice scan in the browser (Debian's Chromium): the glioma MRI of ../shared/data/mr-brain
 * (256 × 256 × 25, 0.78 mm pixels, 6.5 mm slices, LPS with a flipped row axis). Its coronal and
 * sagittal tiles must show the anatomy at its physical aspect (200 × 162 mm, not 256 × 25 voxel
 * strips), and a box drawn with real mouse events on the coronal tile of the default 3-planes
 * layout must arrive as that plane's voxel box (axis 1, slice = the plane's row) and segment
 * inside it (the model sees the plane resampled to square pixels: no voxel outside the box).
 * Then a coronal propagation: the same box, propagated along y, checked against the reference in
 * 3D, with the overlay's streamed redraws done plane by plane (Viewer.refreshSlices' scissored path:
 * the coronal planes of this axial stack are rows of NiiVue's RAS layers) and drawn exactly as a
 * whole re-upload draws them. Screenshots: test-output/web/thick-*.png.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { parseNifti } from '../../src/io/niftiRead.js';
import { GLIOMA as GLIOMA_PATH, GLIOMA_LABEL as GLIOMA_LABEL_PATH, gliomaCoronal } from '../helpers/glioma.js';
import { openScan, sessionOf, promptsSent } from './appDriver.js';
import { type AppHandle, ROOT, shot, skipReason, waitStatus, serverAndBrowser, dragBox, voxelToClientOn } from './browser.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

// Browser globals inside page functions (this program has no DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any, localStorage: any;

const GLIOMA = join(ROOT, GLIOMA_PATH);
const GLIOMA_LABEL = join(ROOT, GLIOMA_LABEL_PATH);
const skip = skipReason() || (!existsSync(GLIOMA) && `needs ../shared/data/mr-brain (${GLIOMA})`);
if (skip) process.stdout.write(`# skipping the thick-slice browser test: ${skip}\n`);

/** The first test's page, left on its coronal box for the propagation test (opening the scan again costs 25+ s under load). */
let boxed: { page: Page; errors: string[]; session: string } | undefined;

// The boxed page closes with Chromium.
const e2e = serverAndBrowser(skip);

test('thick slices (6.5 mm): coronal/sagittal tiles at physical aspect; a box on the coronal tile maps to its voxels', {
  skip,
  timeout: 600_000,
}, async () => {
  // The coronal plane (fixed row y) with the most tumour, and the tumour's box there (x, z).
  const { label, tumour, y: Y, voxels: best, x0, z0, x1, z1 } = await gliomaCoronal(GLIOMA_LABEL);
  const [W, H, D] = label.dims;
  const sp = label.spacing;
  assert.ok(best > 0 && z1 > z0, `a tumour cross-section on the coronal plane y=${Y}`);

  const t0 = performance.now();
  const { page, errors } = await e2e.open();
  await openScan(page, GLIOMA);
  process.stdout.write(`# opened in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  assert.match((await page.textContent('#info')) ?? '', /256 × 256 × 25.*0\.781 × 0\.781 × 6\.500 mm/s);
  const session = await sessionOf(page);
  await page.evaluate(([x, y, z]) => (window.medsam2 as AppHandle).viewer.goToVoxel(x!, y!, z!), [(x0 + x1) / 2, Y, (z0 + z1) / 2]);

  // What a person sees: each tile's width/height ratio is the plane's physical one (a voxel-grid
  // display would be 10× too flat: 255 columns against 24 slices).
  const aspect = async (view: number, a: [number, number, number], b: [number, number, number]) => {
    const p = await voxelToClientOn(page, ...a, view);
    const q = await voxelToClientOn(page, ...b, view);
    return Math.abs(q.x - p.x) / Math.abs(q.y - p.y);
  };
  const coronal = await aspect(1, [0, Y, 0], [W - 1, Y, D - 1]);
  const sagittal = await aspect(2, [(x0 + x1) >> 1, 0, 0], [(x0 + x1) >> 1, H - 1, D - 1]);
  const physCoronal = ((W - 1) * sp[0]) / ((D - 1) * sp[2]);
  const physSagittal = ((H - 1) * sp[1]) / ((D - 1) * sp[2]);
  process.stdout.write(
    `# thick slices: coronal tile aspect ${coronal.toFixed(3)} (physical ${physCoronal.toFixed(3)}), sagittal ${sagittal.toFixed(3)} (physical ${physSagittal.toFixed(3)})\n`,
  );
  assert.ok(Math.abs(coronal / physCoronal - 1) < 0.03, `coronal aspect ${coronal} vs physical ${physCoronal}`);
  assert.ok(Math.abs(sagittal / physSagittal - 1) < 0.03, `sagittal aspect ${sagittal} vs physical ${physSagittal}`);
  await shot(page, 'thick-01-glioma-3-planes');

  // The tumour's box drawn on the coronal tile of the 3-planes layout, corner voxel to corner voxel
  // (the app holds the 3D tile out of the redraws while a box is dragged: on this CPU-rendered
  // WebGL every mouse move would redraw it, a minute per drag on a busy machine).
  await page.click('[data-tool="box"]');
  const sent = promptsSent(page);
  await dragBox(page, [x0, z0, x1, z1], (p, x, z) => voxelToClientOn(p, x, Y, z, 1));
  await waitStatus(page, new RegExp(`slice ${Y}: \\d+ px`));
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.axis, 1, 'sent as a coronal prompt');
  assert.equal(sent[0]!.slice, Y, 'on the plane drawn on');
  assert.deepEqual(sent[0]!.box, [x0, z0, x1, z1], 'the box is the voxels under the corners (6.5 mm rows map to slice indices exactly)');
  await shot(page, 'thick-02-coronal-box');

  // The server's label map: the mask lies on the plane y = Y, in the box, and overlaps the tumour there.
  let area = 0,
    offPlane = 0,
    outside = 0,
    far = 0,
    inter = 0;
  for (let z = 0; z < D; z++) {
    const r = (await (await fetch(`${e2e.server.url}/sessions/${session}/slices/${z}`)).json()) as {
      cols: number;
      objects: { objId: number; mask: { counts: number[] } }[];
    };
    let p = 0;
    (r.objects.find((o) => o.objId === 1)?.mask.counts ?? []).forEach((n, i) => {
      if (i % 2)
        for (let j = p; j < p + n; j++) {
          const x = j % r.cols,
            y = Math.floor(j / r.cols);
          area++;
          if (y !== Y) offPlane++;
          if (x < x0 || x > x1 || z < z0 || z > z1) outside++;
          if (x < x0 - 2 || x > x1 + 2 || z < z0 - 2 || z > z1 + 2) far++;
          if (tumour[x + W * (y + H * z)]) inter++;
        }
      p += n;
    });
  }
  const dsc = (2 * inter) / (area + best);
  process.stdout.write(
    `# coronal box on the 6.5 mm glioma, plane y=${Y}: ${area} px, ${outside} just outside the box, plane DSC vs the reference ${dsc.toFixed(3)}; ${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
  );
  assert.ok(area > 0, 'the box segmented something');
  assert.equal(offPlane, 0, 'every voxel of the mask is on the coronal plane drawn on');
  // The model sees this plane at square pixels (256 × 208, src/families/planeTracker.ts) and its mask
  // comes back by the area rule: nothing outside the box (on the 256 × 25 voxel grid it spilled 1–2 rows).
  assert.equal(far, 0, 'no voxel of the mask is more than 2 voxels outside the drawn box');
  assert.equal(outside, 0, `${outside} of ${area} px outside the box`);
  assert.ok(dsc > 0.5, `plane DSC ${dsc.toFixed(3)} vs the reference tumour`);
  // The overlay shows what the label map holds (its largest-3D-component rule applied), not the raw prompt mask.
  const shown = await page.evaluate(() => (window.medsam2 as AppHandle).viewer.objectStats(1).voxels);
  assert.equal(shown, area, 'the overlay shows exactly the stored label map');
  assert.deepEqual(errors, []);
  boxed = { page, errors, session };
});

test('thick slices (6.5 mm): that coronal box propagated along y; the label map vs the reference in 3D, streamed redraws by plane', {
  skip,
  timeout: 600_000,
}, async () => {
  const { label, tumour, y: Y, x0, z0, x1, z1 } = await gliomaCoronal(GLIOMA_LABEL);
  const [W, H, D] = label.dims;

  // Continues on the first test's page: the scan open, its coronal box on plane Y stored as object 1.
  assert.ok(boxed, 'the coronal box test ran first and left its page');
  const { page, errors, session } = boxed;
  const t0 = performance.now();
  const xc = (x0 + x1) >> 1;
  await page.evaluate(([x, y, z]) => (window.medsam2 as AppHandle).viewer.goToVoxel(x!, y!, z!), [xc, Y, (z0 + z1) >> 1]);
  const tProp = performance.now();
  await page.click('#propagate');
  await waitStatus(page, /propagated in/, 400_000);
  const propSeconds = (performance.now() - tProp) / 1000;
  await shot(page, 'thick-03-coronal-propagated');

  // The stored label map (what Export writes) against the reference tumour: in 3D, and on the
  // coronal planes the propagation reached (the planes holding the stored object).
  const r = await fetch(`${e2e.server.url}/sessions/${session}/labelmap?format=nii.gz`);
  assert.equal(r.status, 200);
  const stored = parseNifti(new Uint8Array(await r.arrayBuffer()), 'labelmap.nii.gz');
  assert.deepEqual(stored.dims, label.dims);
  const got = stored.data as ArrayLike<number>;
  const planes = new Set<number>();
  for (let i = 0; i < got.length; i++) if (got[i]) planes.add(Math.floor(i / W) % H);
  let area = 0,
    ref = 0,
    inter = 0,
    refOn = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i] ? 1 : 0,
      t = tumour[i] ? 1 : 0;
    area += g;
    ref += t;
    inter += g & t;
    if (t && planes.has(Math.floor(i / W) % H)) refOn++;
  }
  const dsc3d = (2 * inter) / (area + ref);
  const dscPlanes = (2 * inter) / (area + refOn);
  const ys = [...planes].sort((a, b) => a - b);
  const tm = await page.evaluate(() => window.medsam2.lastPropagation);
  process.stdout.write(
    `# glioma coronal propagation from y=${Y}: planes y ${ys[0]}..${ys.at(-1)} (${planes.size}), ${area} voxels; DSC vs the reference ${dsc3d.toFixed(4)} in 3D, ${dscPlanes.toFixed(4)} over the propagated planes; propagate ${propSeconds.toFixed(1)} s; overlay redraws ${tm.refreshes} (${tm.sliceUploads} by plane, ${tm.fullUploads} whole, ${(tm.refreshMs / 1000).toFixed(2)} s)\n`,
  );
  assert.ok(planes.size > 1 && planes.has(Y), `the object spans the prompted plane and more (${ys.join(',')})`);
  // Measured 0.6990 in 3D (0.8282 over the 20 propagated planes y 90..109), as the CLI on the same prompt
  // (`medsam2 segment brain1_image.nrrd --axis y --slice 100 --box 163,12,208,17`: the same 3548 voxels, 0.6990);
  // with each propagated plane refined (session 8) the CLI gives 3531 voxels, 0.6977 on 20 planes.
  assert.ok(dsc3d > 0.6, `3D DSC ${dsc3d.toFixed(4)} vs the reference tumour`);
  const shown = await page.evaluate(() => (window.medsam2 as AppHandle).viewer.objectStats(1).voxels);
  assert.equal(shown, area, 'the overlay shows exactly the stored label map');

  // Streamed redraws went plane by plane (none re-uploaded the whole layer), and drew what a whole re-upload draws.
  assert.ok(tm.sliceUploads >= 1 && tm.fullUploads === 0, `redraws by plane ${tm.sliceUploads}, whole ${tm.fullUploads}`);
  const canvas = page.locator('#drop canvas');
  const redraw = async (partial: boolean) => {
    const ms = await page.evaluate((p) => {
      const v = window.medsam2.viewer;
      const t = performance.now();
      v.refreshOverlayNow(p);
      return performance.now() - t;
    }, partial);
    return { png: await canvas.screenshot(), ms };
  };
  // The 3D tile held out (as while streaming): the redraw times are the 2D overlay's alone.
  await page.evaluate(() => {
    window.release3d = window.medsam2.viewer.hold3d();
  });
  const streamed = (await redraw(true)).png;
  assert.ok(streamed.equals((await redraw(false)).png), 'after propagation the overlay is drawn as a whole re-upload draws it');
  // One plane changed on screen only, along each non-axial axis (coronal: RAS rows; sagittal: RAS
  // columns), drawn the partial way and then whole: the same picture. The square sits at the crosshair.
  const timings: string[] = [];
  for (const [axis, index, rows, cols] of [
    [1, Y, D, W],
    [0, xc, D, H],
  ] as const) {
    const was = await page.evaluate(
      ([ax, k, h, w]) => {
        const v = window.medsam2.viewer;
        const old = v.sliceMask(2, k, ax);
        const m = new Uint8Array(w * h);
        for (let r = Math.max(0, (h >> 1) - 6); r < Math.min(h, (h >> 1) + 6); r++)
          for (let c = (w >> 1) - 50; c < (w >> 1) + 50; c++) m[r * w + c] = 1;
        v.coverLabel(2);
        v.setSliceMask(2, k, m, ax);
        return old ? Array.from(old) : null;
      },
      [axis, index, rows, cols],
    );
    const before = await page.evaluate(() => ({ ...window.medsam2.viewer.drawStats }));
    const partial = await redraw(true);
    const after = await page.evaluate(() => ({ ...window.medsam2.viewer.drawStats }));
    assert.equal(after.sliceUploads - before.sliceUploads, 1, `axis ${axis}: the redraw went by plane`);
    assert.ok(!partial.png.equals(streamed), `axis ${axis}: the square is on screen`);
    const whole = await redraw(false);
    assert.ok(partial.png.equals(whole.png), `axis ${axis}: a one-plane partial redraw draws what a whole re-upload draws`);
    if (axis === 1) await shot(page, 'thick-04-coronal-plane-square');
    timings.push(`axis ${axis}: one plane ${partial.ms.toFixed(0)} ms, whole ${whole.ms.toFixed(0)} ms`);
    await page.evaluate(
      ([ax, k, old]) => {
        const v = window.medsam2.viewer;
        v.setSliceMask(2, k as number, old ? Uint8Array.from(old as number[]) : undefined, ax as number);
        v.refreshOverlayNow();
      },
      [axis, index, was] as const,
    );
  }
  await page.evaluate(() => window.release3d());
  process.stdout.write(`# overlay redraw (2D tiles), ${timings.join('; ')}; test ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  assert.deepEqual(errors, []);
});
