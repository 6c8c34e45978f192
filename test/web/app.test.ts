/**
 * The browser app end to end in Debian's Chromium: open the shared CT-lesion case by file upload,
 * draw the reference key box with real mouse events on the axial view, propagate, download the
 * NIfTI and compare its DSC with the CLI's for the same box; a negative click on an
 * over-segmented slice changes the mask there; undo restores it; reload restores the session;
 * and the errors a person can meet (unreadable file, prompt outside the image, server down) are
 * visible messages. Screenshots land in test-output/web/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { dice } from '../../src/metrics/dice.js';
import { readVolume } from '../../src/io/readVolume.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import { openScan, openRefused, sessionOf, promptsSent, closeClean } from './appDriver.js';
import {
  CT_LESION,
  CT_ORGANS,
  CT_ORGANS_SEG,
  OUT,
  type AppHandle,
  voxelToClient,
  dragBox,
  serverSlice,
  settle,
  strokeThrough,
  goToSlice,
  openApp,
  ready,
  serve,
  shot,
  skipReason,
  waitError,
  waitStatus,
  serverAndBrowser,
  voxelToClientOn,
} from './browser.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

// Browser globals inside page functions (this program has no DOM lib: it would retype Node's fetch).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any, localStorage: any;

const skip = skipReason();
if (skip) process.stdout.write(`# skipping the browser e2e tests: ${skip}\n`);

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-test-'));

const e2e = serverAndBrowser(skip, { tearDown: () => rmSync(tmp, { recursive: true, force: true }) });

async function sliceArea(url: string, session: string, z: number): Promise<number> {
  const r = await fetch(`${url}/sessions/${session}/slices/${z}`);
  assert.equal(r.status, 200);
  const b = (await r.json()) as { objects: { objId: number; area: number }[] };
  return b.objects.find((o) => o.objId === 1)?.area ?? 0;
}

async function sliceMaskBits(url: string, session: string, z: number): Promise<string> {
  const b = (await (await fetch(`${url}/sessions/${session}/slices/${z}`)).json()) as {
    objects: { objId: number; mask: { counts: number[] } }[];
  };
  return JSON.stringify(b.objects.find((o) => o.objId === 1)?.mask.counts ?? []);
}

test('medsam2 serve serves the built app at / (public files only, no path reaches the disk)', { skip }, async () => {
  const index = await fetch(`${e2e.server.url}/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type') ?? '', /text\/html/);
  const html = await index.text();
  const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, 'index.html loads a built script');
  assert.equal((await fetch(`${e2e.server.url}/${script}`)).status, 200);
  for (const p of [
    '/../package.json',
    '/assets/..%2f..%2fpackage.json',
    '/assets/%2e%2e/%2e%2e/package.json',
    '/index.html/..%2f..%2fREADME.md',
  ]) {
    const r = await fetch(`${e2e.server.url}${p}`);
    assert.equal(r.status, 404, p);
  }
});

test('a NIfTI CT with its own affine: header panel, abdomen window, the box lands on the voxels drawn', {
  skip,
  timeout: 600_000,
}, async () => {
  const seg = await readVolume(CT_ORGANS_SEG);
  const counts = new Map<number, number>();
  const labels = seg.data as ArrayLike<number>;
  for (let i = 0; i < labels.length; i++) if (labels[i]) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
  const organ = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const ref = Uint8Array.from(seg.data as ArrayLike<number>, (v) => (v === organ ? 1 : 0));
  const key = promptFromReference('key-box', { reference: ref, dims: seg.dims });

  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  assert.match((await page.textContent('#info')) ?? '', /122 × 101 × 30.*3\.000 × 3\.000 × 3\.000 mm/s);
  await page.selectOption('#window', 'abdomen');
  await page.selectOption('#layout', 'axial');
  await goToSlice(page, key.slice);
  const sent = promptsSent(page);
  await dragBox(page, key.box!);
  const status = await waitStatus(page, new RegExp(`slice ${key.slice}: \\d+ px`));
  assert.equal(sent[0]!.slice, key.slice);
  sent[0]!.box.forEach((v, i) =>
    assert.ok(Math.abs(v - key.box![i]!) <= 1, `box ${JSON.stringify(sent[0]!.box)} vs the drawn ${JSON.stringify(key.box)}`),
  );
  assert.ok(Number(/(\d+) px/.exec(status)![1]) > 0, status);
  await shot(page, '00-nifti-abdomen-box');
  await closeClean(page, errors);
});

test('open, box, propagate, export (DSC vs CLI), negative click, undo, reload, errors', { skip, timeout: 900_000 }, async () => {
  const c = await loadCase(CT_LESION);
  const ref = { dims: c.label!.dims, data: Uint8Array.from(c.label!.data as ArrayLike<number>, (v) => (v ? 1 : 0)) };
  const key = promptFromReference('key-box', { reference: ref.data, dims: ref.dims });
  const box = key.box!;

  // The CLI's result for the same box (segmentVolume is what `medsam2 segment` runs).
  const t0 = performance.now();
  const cli = await segmentVolume(c.image, [{ objId: 1, slice: key.slice, box }], { threads: 2 });
  const cliSeconds = (performance.now() - t0) / 1000;
  const cliDsc = dice(cli.mask.data as ArrayLike<number>, ref.data);

  const { page, errors } = await e2e.open();
  await shot(page, '01-empty');
  // The help overlay lists the shortcuts (from the same table the key handler uses).
  await page.keyboard.press('?');
  assert.equal(await page.isVisible('#help'), true);
  assert.match((await page.textContent('#help-table')) ?? '', /Ctrl\+z.*Undo/s);
  await shot(page, '01b-help');
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#help'), false);

  // Open by file upload through the file input.
  await openScan(page, CT_LESION);
  assert.equal(await page.isHidden('#message'), true, (await page.textContent('#message')) ?? '');
  assert.match((await page.textContent('#info')) ?? '', /512 × 512 × 16/);
  await shot(page, '02-loaded');

  // The key box, drawn with real mouse events on the axial view (single view: bigger target).
  await page.selectOption('#layout', 'axial');
  await goToSlice(page, key.slice);
  const sent = promptsSent(page);
  const tPrompt = performance.now();
  await dragBox(page, box);
  await waitStatus(page, new RegExp(`slice ${key.slice}: \\d+ px`));
  const promptSeconds = (performance.now() - tPrompt) / 1000;
  const p = sent[0] as { slice: number; box: number[] };
  assert.equal(p.slice, key.slice);
  p.box.forEach((v, i) => assert.ok(Math.abs(v - box[i]!) <= 1, `box ${JSON.stringify(p.box)} vs the reference ${JSON.stringify(box)}`));
  await shot(page, '03-box-drawn');
  const session = await sessionOf(page);

  // Propagate: progress streams in, then every slice's mask.
  await page.selectOption('#layout', 'multi');
  const tProp = performance.now();
  await page.click('#propagate');
  await waitStatus(page, /propagated in/, 600_000);
  const propSeconds = (performance.now() - tProp) / 1000;
  // The app's own clock: click → last streamed slice drawn (the 3D view follows; propSeconds includes it).
  const shownSeconds = Number(await page.evaluate(() => document.body.dataset.propagatedMs)) / 1000;
  assert.equal(await page.evaluate(() => document.getElementById('progress').value), 1);
  const shownVoxels = await page.evaluate(() => (window.medsam2 as AppHandle).viewer.objectStats(1).voxels);
  assert.ok(shownVoxels > 0, 'the overlay shows the propagated mask');
  assert.match((await page.textContent('#objects')) ?? '', /mL · slices \d+–\d+/);
  await shot(page, '04-propagated-3d');

  // Streamed redraws and the final one upload only the changed slices (Viewer.refreshSlices); the
  // picture must be what a whole re-upload draws: the canvas now, then after a full redraw. Then the
  // same for a slice changed on screen only (a square at the crosshair), drawn the partial way.
  const uploads = await page.evaluate(() => window.medsam2.lastPropagation);
  assert.ok(
    uploads.sliceUploads >= 1 && uploads.fullUploads === 0,
    `redraws by slice ${uploads.sliceUploads}, whole ${uploads.fullUploads}`,
  );
  const canvas = page.locator('#drop canvas');
  const redraw = async (partial: boolean) => {
    await page.evaluate((p) => {
      window.medsam2.viewer.refreshOverlayNow(p);
      window.medsam2.viewer.waitDrawn();
    }, partial);
    return canvas.screenshot();
  };
  const streamed = await canvas.screenshot();
  assert.ok(streamed.equals(await redraw(false)), 'after propagation the overlay is drawn as a whole re-upload draws it');
  const zc = await page.evaluate(() => window.medsam2.viewer.crosshairSlice());
  const kept = await page.evaluate(
    ([z, w, h]) => {
      const v = window.medsam2.viewer;
      const was = v.sliceMask(1, z) ? Array.from(v.sliceMask(1, z)) : null;
      const m = new Uint8Array(w * h);
      for (let y = (h >> 1) - 60; y < (h >> 1) + 60; y++) for (let x = (w >> 1) - 60; x < (w >> 1) + 60; x++) m[y * w + x] = 1;
      v.setSliceMask(1, z, m);
      return was;
    },
    [zc, ref.dims[0], ref.dims[1]],
  );
  const partialShot = await redraw(true);
  assert.ok(!partialShot.equals(streamed), 'the square is on screen');
  assert.ok(partialShot.equals(await redraw(false)), 'a one-slice partial redraw draws what a whole re-upload draws');
  await page.evaluate(
    ([z, was]) => {
      const v = window.medsam2.viewer;
      v.setSliceMask(1, z, was ? Uint8Array.from(was) : undefined);
      v.refreshOverlayNow();
    },
    [zc, kept] as const,
  );

  // Export: the browser downloads the NIfTI; its DSC vs the reference.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
  const file = join(tmp, download.suggestedFilename());
  await download.saveAs(file);
  assert.match(file, /\.nii\.gz$/);
  const gotVolume = await readVolume(file);
  const got = { dims: gotVolume.dims, data: gotVolume.data as ArrayLike<number> };
  assert.deepEqual(got.dims, ref.dims);
  const appDsc = dice(got.data, ref.data);
  let exported = 0;
  for (let i = 0; i < got.data.length; i++) if (got.data[i]) exported++;
  assert.equal(shownVoxels, exported, 'the overlay shows exactly the exported label map');
  const timing = `CLI segmentVolume ${cliSeconds.toFixed(1)} s; app: box->mask ${promptSeconds.toFixed(1)} s, Propagate->last slice shown ${shownSeconds.toFixed(1)} s (3D view drawn by ${propSeconds.toFixed(1)} s)`;
  process.stdout.write(`# DSC app ${appDsc.toFixed(4)} vs CLI ${cliDsc.toFixed(4)}; ${timing}\n`);
  writeFileSync(join(OUT, 'timing.txt'), `${timing}\nDSC app ${appDsc} CLI ${cliDsc}\n`);
  assert.ok(appDsc >= cliDsc - 0.01, `app DSC ${appDsc} < CLI DSC ${cliDsc} - 0.01`);

  // A negative click on the most over-segmented slice changes the mask there.
  const [W, H, D] = ref.dims;
  let worst = -1,
    worstFp = 0,
    fpAt = { x: 0, y: 0 };
  for (let z = 0; z < D; z++) {
    if (z === key.slice) continue;
    let fp = 0,
      sx = 0,
      sy = 0;
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) {
        const i = x + W * (y + H * z);
        if (got.data[i] && !ref.data[i]) {
          fp++;
          sx += x;
          sy += y;
        }
      }
    if (fp > worstFp) {
      worstFp = fp;
      worst = z;
      fpAt = { x: Math.round(sx / fp), y: Math.round(sy / fp) };
    }
  }
  assert.ok(worst >= 0, 'some slice is over-segmented');
  // Aim at a false-positive voxel nearest the centroid of that slice's false positives.
  let best = { x: fpAt.x, y: fpAt.y },
    bestD = Infinity;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const i = x + W * (y + H * worst);
      if (got.data[i] && !ref.data[i]) {
        const d = (x - fpAt.x) ** 2 + (y - fpAt.y) ** 2;
        if (d < bestD) {
          bestD = d;
          best = { x, y };
        }
      }
    }
  const before = await sliceMaskBits(e2e.server.url, session, worst);
  const areaBefore = await sliceArea(e2e.server.url, session, worst);
  await page.selectOption('#layout', 'axial');
  await goToSlice(page, worst);
  await page.click('[data-tool="negative"]');
  const at = await voxelToClient(page, best.x, best.y);
  await page.mouse.click(at.x, at.y);
  await waitStatus(page, new RegExp(`slice ${worst}: \\d+ px`));
  const afterClick = await sliceMaskBits(e2e.server.url, session, worst);
  const areaAfter = await sliceArea(e2e.server.url, session, worst);
  assert.notEqual(afterClick, before, `the negative click on slice ${worst} (${worstFp} false-positive px) changed nothing`);
  await shot(page, '05-negative-click');

  // Undo restores the slice.
  await page.click('#undo');
  await waitStatus(page, /undone/);
  assert.equal(await sliceMaskBits(e2e.server.url, session, worst), before, 'undo restores the mask');
  await shot(page, '06-undone');
  process.stdout.write(
    `# negative click on slice ${worst}: area ${areaBefore} -> ${areaAfter}; undo -> ${await sliceArea(e2e.server.url, session, worst)}\n`,
  );

  // A prompt that splits the object in 3D: a box in a background corner of a middle slice
  // replaces the lesion there, so the label map (largest 3D component) drops the smaller part,
  // slices the prompt never touched. The overlay must equal the stored label map everywhere
  // (before: only the prompt's own slice was re-read, the dropped part stayed on screen).
  let zlo = D,
    zhi = -1;
  for (let i = 0; i < got.data.length; i++)
    if (got.data[i]) {
      const z = Math.floor(i / (W * H));
      zlo = Math.min(zlo, z);
      zhi = Math.max(zhi, z);
    }
  let mid = Math.round((zlo + zhi) / 2);
  if (mid === key.slice) mid = mid > zlo + 1 ? mid - 1 : mid + 1;
  await page.evaluate(([z]) => (window.medsam2 as AppHandle).sendPrompt({ slice: z!, axis: 2, box: [4, 4, 20, 20], replace: true }), [mid]);
  await waitStatus(page, new RegExp(`slice ${mid}: \\d+ px`));
  const [synced, syncMs] = await page.evaluate(() => [(window.medsam2 as AppHandle).lastSync, (window.medsam2 as AppHandle).lastSyncMs]);
  const storedFile = join(tmp, 'split.nii.gz');
  writeFileSync(storedFile, Buffer.from(await (await fetch(`${e2e.server.url}/sessions/${session}/labelmap?format=nii.gz`)).arrayBuffer()));
  const stored = (await readVolume(storedFile)).data as ArrayLike<number>;
  // Per slice: voxel count and a checksum of where they are, on screen and stored.
  const perSlice = (v: ArrayLike<number>) =>
    Array.from({ length: D }, (_, z) => {
      let n = 0,
        sum = 0;
      for (let i = z * W * H; i < (z + 1) * W * H; i++)
        if (v[i]) {
          n++;
          sum = (sum + i * v[i]!) % 1_000_000_007;
        }
      return `${n}:${sum}`;
    });
  const onScreen = await page.evaluate(
    ([w, h, d]) => {
      const v = (window.medsam2 as AppHandle).viewer.shownLabels();
      return Array.from({ length: d! }, (_, z) => {
        let n = 0,
          sum = 0;
        for (let i = z * w! * h!; i < (z + 1) * w! * h!; i++)
          if (v[i]) {
            n++;
            sum = (sum + i * v[i]) % 1_000_000_007;
          }
        return `${n}:${sum}`;
      });
    },
    [W, H, D],
  );
  process.stdout.write(
    `# split prompt on slice ${mid} (object ${zlo}..${zhi}): overlay re-synced on slices ${synced.join(', ')} (label map read in ${Math.round(syncMs)} ms)\n`,
  );
  assert.ok(
    synced.some((z) => z !== mid),
    `the prompt changed stored slices other than its own (${synced.join(', ')}): what this step checks`,
  );
  assert.deepEqual(onScreen, perSlice(stored), 'the overlay equals the stored label map on every slice');
  await shot(page, '06b-split-synced');
  await page.click('#undo');
  await waitStatus(page, /undone/);

  // Reload: the scan and the masks come back from the browser's copy and the server session.
  await page.reload();
  await ready(page);
  await waitStatus(page, /session restored/);
  assert.equal(
    await page.evaluate(() => (window.medsam2 as AppHandle).viewer.objectStats(1).voxels),
    shownVoxels,
    'reload shows the same masks',
  );
  await shot(page, '07-reloaded');

  // Errors a person can act on: a prompt outside the image.
  await page.click('[data-tool="box"]');
  await page.selectOption('#layout', 'axial');
  const inside = await voxelToClient(page, 10, 10);
  await page.mouse.move(inside.x, inside.y);
  await page.mouse.down();
  await page.mouse.move(inside.x - 200, inside.y - 200, { steps: 3 });
  await page.mouse.up();
  assert.match(await waitError(page), /outside the image/);
  await shot(page, '08-error-outside');

  // An unreadable file.
  const bad = join(tmp, 'broken.nii.gz');
  writeFileSync(bad, 'this is not a NIfTI file');
  await page.click('#message-close');
  assert.match(await openRefused(page, bad), /broken\.nii\.gz/);
  await shot(page, '09-error-unreadable');

  // The server goes down: the next action says so.
  await page.click('#message-close');
  await e2e.server.stop();
  await page.click('#undo');
  assert.match(await waitError(page), /cannot be reached.*medsam2 serve/);
  await shot(page, '10-error-server-down');

  assert.deepEqual(errors, [], 'no uncaught page errors');
  await page.close();
  // The cases after this one share a server again.
  e2e.server = await serve();
});

test('brush and eraser edit the mask literally; undo and redo (button and both shortcuts)', { skip, timeout: 600_000 }, async () => {
  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  const session = await sessionOf(page);
  await page.selectOption('#layout', 'axial');
  await goToSlice(page, 15);
  assert.equal(await page.isDisabled('#redo'), true, 'nothing to redo yet');

  // Brush (B), radius 4 → 6 with ] ], a horizontal stroke across y = 50.
  await page.keyboard.press('b');
  await page.keyboard.press(']');
  await page.keyboard.press(']');
  assert.equal(await page.textContent('#brush-radius'), '6');
  await strokeThrough(page, [
    { x: 40, y: 50 },
    { x: 70, y: 50 },
  ]);
  await waitStatus(page, /slice 15: painted, \d+ px/);
  assert.equal(await page.getAttribute('#brush-cursor', 'visibility'), 'visible', 'the brush shows its size under the mouse');
  const r = Number(await page.getAttribute('#brush-cursor', 'r'));
  assert.ok(r > 6, `cursor radius ${r} screen px for a 6-voxel brush`);
  let s = await serverSlice(e2e.server.url, session, 15);
  const at = (x: number, y: number) => s.bits[y * s.cols + x];
  assert.equal(at(55, 50), 1, 'painted on the stroke');
  assert.equal(at(55, 54), 1, 'within the radius');
  assert.equal(at(55, 60), 0, 'not beyond the radius');
  assert.equal(at(30, 50), 0, 'not before the stroke');
  const painted = s.bits.reduce((a, b) => a + b, 0);
  assert.equal(
    await page.evaluate(() => (window.medsam2 as AppHandle).viewer.objectStats(1).voxels),
    painted,
    'the overlay shows the stored edit',
  );
  await shot(page, '11-brush');

  // Eraser (E): one dab in the middle.
  await page.keyboard.press('e');
  await strokeThrough(page, [{ x: 55, y: 50 }]);
  await waitStatus(page, /slice 15: erased, \d+ px/);
  s = await serverSlice(e2e.server.url, session, 15);
  assert.equal(at(55, 50), 0, 'erased');
  assert.equal(at(42, 50), 1, 'the rest of the stroke stays');
  await shot(page, '12-eraser');

  // Undo (button) brings the erased pixels back; redo (Ctrl+Shift+Z) removes them again.
  await page.click('#undo');
  await waitStatus(page, /^undone$/);
  s = await serverSlice(e2e.server.url, session, 15);
  assert.equal(at(55, 50), 1, 'undo restored the pixel');
  assert.equal(await page.isDisabled('#redo'), false);
  await page.keyboard.press('Control+Shift+Z');
  await waitStatus(page, /^redone$/);
  s = await serverSlice(e2e.server.url, session, 15);
  assert.equal(at(55, 50), 0, 'redo erased it again');
  assert.equal(await page.isDisabled('#redo'), true);
  // Ctrl+Z / Ctrl+Y, then the Redo button (each waits for the previous to finish and its status to change).
  await settle(page);
  await page.keyboard.press('Control+z');
  await waitStatus(page, /^undone$/);
  await settle(page);
  await page.keyboard.press('Control+z');
  await waitStatus(page, /^undone$/);
  assert.equal(
    (await serverSlice(e2e.server.url, session, 15)).bits.some((v) => v),
    false,
    'both edits undone',
  );
  await settle(page);
  await page.keyboard.press('Control+y');
  await waitStatus(page, /^redone$/);
  await settle(page);
  await page.click('#redo');
  await waitStatus(page, /^redone$/);
  s = await serverSlice(e2e.server.url, session, 15);
  assert.equal(at(42, 50), 1);
  assert.equal(at(55, 50), 0);
  assert.equal(
    await page.evaluate(() => (window.medsam2 as AppHandle).viewer.objectStats(1).voxels),
    s.bits.reduce((a, b) => a + b, 0),
  );
  await shot(page, '13-redo');
  assert.match((await page.textContent('#help-table')) ?? '', /Ctrl\+Shift\+z.*Redo.*/s);

  // Names are the server's: object 1 renamed in the list; object 2 named before its first stroke,
  // which takes the name to the server. A reload after this browser's saved names are reset (as on
  // another browser) lists both names from the server.
  const nameOf = (id: number) => `#objects li[data-obj-id="${id}"] span:nth-child(2)`;
  page.once('dialog', (d) => void d.accept('liver'));
  await page.dblclick(nameOf(1));
  await waitStatus(page, /^renamed object 1 to liver$/);
  await page.keyboard.press('a');
  page.once('dialog', (d) => void d.accept('kidney'));
  await page.dblclick(nameOf(2));
  await page.waitForFunction((sel) => document.querySelector(sel)?.textContent === 'kidney', nameOf(2));
  await page.keyboard.press('b');
  await strokeThrough(page, [
    { x: 40, y: 80 },
    { x: 60, y: 80 },
  ]);
  await waitStatus(page, /slice 15: painted, \d+ px/);
  const named = (await (await fetch(`${e2e.server.url}/sessions/${session}`)).json()) as { objects: { objId: number; name?: string }[] };
  assert.deepEqual(
    named.objects.map((o) => [o.objId, o.name]),
    [
      [1, 'liver'],
      [2, 'kidney'],
    ],
  );
  await page.evaluate(() => {
    const saved = JSON.parse(localStorage.getItem('medsam2.state'));
    for (const o of saved.objects) o.name = `object ${o.objId}`;
    localStorage.setItem('medsam2.state', JSON.stringify(saved));
  });
  await page.reload();
  await ready(page);
  await waitStatus(page, /session restored/);
  assert.deepEqual(
    await page.evaluate(() =>
      [...document.querySelectorAll('#objects li')].map((li) => `${li.dataset.objId}:${li.children[1].textContent}`),
    ),
    ['1:liver', '2:kidney'],
    'the names come back from the server',
  );
  await shot(page, '13b-names-reloaded');
  await closeClean(page, errors);
});

test('a refused (expired or invalid) token: a visible message with a way to enter a new one that works', {
  skip,
  timeout: 600_000,
}, async () => {
  const guarded = await serve({ requireAuth: true, users: { ann: 'annotator' } });
  try {
    const { page, errors } = await openApp(e2e.browser, guarded.url);
    await page.evaluate(() => localStorage.setItem('medsam2.token', 'an-expired-token'));
    const msg = await openRefused(page, CT_ORGANS);
    assert.match(msg, /token/i, msg);
    assert.equal(await page.isVisible('#message-action'), true, 'the message offers a way to enter a token');
    assert.match((await page.textContent('#message-action')) ?? '', /token/i);
    await shot(page, '14-token-refused');
    await page.click('#message-action');
    assert.equal(await page.isVisible('#token-form'), true);
    await page.fill('#token-input', guarded.tokens.ann!);
    await shot(page, '15-token-form');
    await page.click('#token-save');
    assert.equal(await page.isVisible('#token-form'), false);
    assert.equal(await page.evaluate(() => localStorage.getItem('medsam2.token')), guarded.tokens.ann);
    const auth: string[] = [];
    page.on('request', (r) => {
      if (r.url().includes('/uploads')) auth.push(r.headers().authorization ?? '');
    });
    await openScan(page, CT_ORGANS);
    assert.deepEqual(auth, [`Bearer ${guarded.tokens.ann}`]);
    await shot(page, '16-token-accepted');
    await closeClean(page, errors);
  } finally {
    await guarded.stop();
  }
});

test('a box drawn on the coronal view (real mouse events) segments that plane, inside the box', { skip, timeout: 600_000 }, async () => {
  const seg = await readVolume(CT_ORGANS_SEG);
  const [W, H, D] = seg.dims;
  const labels = seg.data as ArrayLike<number>;
  const counts = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) if (labels[i]) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
  const organ = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  // The coronal plane (fixed y) where the organ is largest, and its box there (x, z).
  let Y = 0,
    best = 0;
  for (let y = 0; y < H; y++) {
    let n = 0;
    for (let z = 0; z < D; z++) for (let x = 0; x < W; x++) if (labels[x + W * (y + H * z)] === organ) n++;
    if (n > best) [best, Y] = [n, y];
  }
  let [x0, x1, z0, z1] = [W, -1, D, -1];
  for (let z = 0; z < D; z++)
    for (let x = 0; x < W; x++)
      if (labels[x + W * (Y + H * z)] === organ) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        z0 = Math.min(z0, z);
        z1 = Math.max(z1, z);
      }

  const { page, errors } = await e2e.open();
  await openScan(page, CT_ORGANS);
  const session = await sessionOf(page);
  await page.selectOption('#window', 'abdomen');
  await page.selectOption('#layout', 'coronal');
  await page.evaluate(([x, y, z]) => (window.medsam2 as AppHandle).viewer.goToVoxel(x!, y!, z!), [(x0 + x1) / 2, Y, (z0 + z1) / 2]);
  await page.click('[data-tool="box"]');
  const sent = promptsSent(page);
  await dragBox(page, [x0, z0, x1, z1], (p, x, z) => voxelToClientOn(p, x, Y, z, 1));
  await waitStatus(page, new RegExp(`slice ${Y}: \\d+ px`));
  assert.equal(sent[0]!.axis, 1, 'sent as a coronal prompt');
  assert.equal(sent[0]!.slice, Y);
  [x0, z0, x1, z1].forEach((v, i) =>
    assert.ok(Math.abs(sent[0]!.box[i]! - v) <= 1, `box ${JSON.stringify(sent[0]!.box)} vs drawn ${[x0, z0, x1, z1]}`),
  );
  await shot(page, '17-coronal-box');

  // The server's label map: the object is on the plane y = Y only, inside the box, and covers much of the organ there.
  let area = 0,
    inter = 0,
    outside = 0;
  for (let z = 0; z < D; z++) {
    const s = await serverSlice(e2e.server.url, session, z);
    for (let i = 0; i < s.bits.length; i++) {
      if (!s.bits[i]) continue;
      const x = i % W,
        y = Math.floor(i / W);
      area++;
      if (y !== Y || x < x0 - 1 || x > x1 + 1 || z < z0 - 1 || z > z1 + 1) outside++;
      if (labels[x + W * (y + H * z)] === organ) inter++;
    }
  }
  const dsc = (2 * inter) / (area + best);
  process.stdout.write(`# coronal box on y=${Y}: ${area} px, ${outside} outside the box, plane DSC vs the reference ${dsc.toFixed(3)}\n`);
  assert.ok(area > 0.2 * best, `mask ${area} px vs the organ's ${best} px on that plane`);
  assert.equal(outside, 0, 'every voxel of the mask is on the coronal plane, inside the drawn box');
  // The overlay shows the label map as stored (largest 3D component), not the raw prompt mask.
  const shown = await page.evaluate(() => (window.medsam2 as AppHandle).viewer.objectStats(1).voxels);
  assert.equal(shown, area, `the overlay shows the stored mask (${shown} vs ${area} px)`);
  await closeClean(page, errors);
});
