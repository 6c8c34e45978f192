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
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { dice } from '../../src/metrics/dice.js';
import { readVolume } from '../../src/io/readVolume.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import {
  CT_LESION,
  CT_ORGANS,
  CT_ORGANS_SEG,
  OUT,
  type AppHandle,
  voxelToClient,
  dragBox,
  ensureWebBuild,
  goToSlice,
  launch,
  openApp,
  ready,
  serve,
  shot,
  skipReason,
  waitError,
  waitStatus,
  type Served,
} from './browser.js';

// Browser globals inside page functions (this program has no DOM lib: it would retype Node's fetch).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any, localStorage: any;

const skip = skipReason();
if (skip) process.stdout.write(`# skipping the browser e2e tests: ${skip}\n`);

let server: Served;
let browser: Browser;
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-test-'));

before(async () => {
  if (skip) return;
  await ensureWebBuild();
  server = await serve();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

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
  const index = await fetch(`${server.url}/`);
  assert.equal(index.status, 200);
  assert.match(index.headers.get('content-type') ?? '', /text\/html/);
  const html = await index.text();
  const script = /src="\.\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
  assert.ok(script, 'index.html loads a built script');
  assert.equal((await fetch(`${server.url}/${script}`)).status, 200);
  for (const p of [
    '/../package.json',
    '/assets/..%2f..%2fpackage.json',
    '/assets/%2e%2e/%2e%2e/package.json',
    '/index.html/..%2f..%2fREADME.md',
  ]) {
    const r = await fetch(`${server.url}${p}`);
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

  const { page, errors } = await openApp(browser, server.url);
  await page.setInputFiles('#file', CT_ORGANS);
  await waitStatus(page, /draw a box/);
  assert.match((await page.textContent('#info')) ?? '', /122 × 101 × 30.*3\.000 × 3\.000 × 3\.000 mm/s);
  await page.selectOption('#window', 'abdomen');
  await page.selectOption('#layout', 'axial');
  await goToSlice(page, key.slice);
  const sent: { slice: number; box: number[] }[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/prompts')) sent.push(r.postDataJSON());
  });
  await dragBox(page, key.box!);
  const status = await waitStatus(page, new RegExp(`slice ${key.slice}: \\d+ px`));
  assert.equal(sent[0]!.slice, key.slice);
  sent[0]!.box.forEach((v, i) =>
    assert.ok(Math.abs(v - key.box![i]!) <= 1, `box ${JSON.stringify(sent[0]!.box)} vs the drawn ${JSON.stringify(key.box)}`),
  );
  assert.ok(Number(/(\d+) px/.exec(status)![1]) > 0, status);
  await shot(page, '00-nifti-abdomen-box');
  assert.deepEqual(errors, []);
  await page.close();
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

  const { page, errors } = await openApp(browser, server.url);
  await shot(page, '01-empty');
  // The help overlay lists the shortcuts (from the same table the key handler uses).
  await page.keyboard.press('?');
  assert.equal(await page.isVisible('#help'), true);
  assert.match((await page.textContent('#help-table')) ?? '', /Ctrl\+z.*Undo/s);
  await shot(page, '01b-help');
  await page.keyboard.press('Escape');
  assert.equal(await page.isVisible('#help'), false);

  // Open by file upload through the file input.
  await page.setInputFiles('#file', CT_LESION);
  await waitStatus(page, /draw a box/);
  assert.equal(await page.isHidden('#message'), true, (await page.textContent('#message')) ?? '');
  assert.match((await page.textContent('#info')) ?? '', /512 × 512 × 16/);
  await shot(page, '02-loaded');

  // The key box, drawn with real mouse events on the axial view (single view: bigger target).
  await page.selectOption('#layout', 'axial');
  await goToSlice(page, key.slice);
  const sent: unknown[] = [];
  page.on('request', (r) => {
    if (r.url().endsWith('/prompts')) sent.push(r.postDataJSON());
  });
  const tPrompt = performance.now();
  await dragBox(page, box);
  await waitStatus(page, new RegExp(`slice ${key.slice}: \\d+ px`));
  const promptSeconds = (performance.now() - tPrompt) / 1000;
  const p = sent[0] as { slice: number; box: number[] };
  assert.equal(p.slice, key.slice);
  p.box.forEach((v, i) => assert.ok(Math.abs(v - box[i]!) <= 1, `box ${JSON.stringify(p.box)} vs the reference ${JSON.stringify(box)}`));
  await shot(page, '03-box-drawn');
  const session = (await page.evaluate(() => JSON.parse(localStorage.getItem('medsam2.state')).sessionId)) as string;

  // Propagate: progress streams in, then every slice's mask.
  await page.selectOption('#layout', 'multi');
  const tProp = performance.now();
  await page.click('#propagate');
  await waitStatus(page, /propagated in/, 600_000);
  const propSeconds = (performance.now() - tProp) / 1000;
  assert.equal(await page.evaluate(() => document.getElementById('progress').value), 1);
  const shownVoxels = await page.evaluate(() => (window.medsam2 as AppHandle).viewer.objectStats(1).voxels);
  assert.ok(shownVoxels > 0, 'the overlay shows the propagated mask');
  assert.match((await page.textContent('#objects')) ?? '', /mL · slices \d+–\d+/);
  await shot(page, '04-propagated-3d');

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
  const timing = `CLI segmentVolume ${cliSeconds.toFixed(1)} s; app: box->mask ${promptSeconds.toFixed(1)} s, Propagate->last slice shown ${propSeconds.toFixed(1)} s`;
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
  const before = await sliceMaskBits(server.url, session, worst);
  const areaBefore = await sliceArea(server.url, session, worst);
  await page.selectOption('#layout', 'axial');
  await goToSlice(page, worst);
  await page.click('[data-tool="negative"]');
  const at = await voxelToClient(page, best.x, best.y);
  await page.mouse.click(at.x, at.y);
  await waitStatus(page, new RegExp(`slice ${worst}: \\d+ px`));
  const afterClick = await sliceMaskBits(server.url, session, worst);
  const areaAfter = await sliceArea(server.url, session, worst);
  assert.notEqual(afterClick, before, `the negative click on slice ${worst} (${worstFp} false-positive px) changed nothing`);
  await shot(page, '05-negative-click');

  // Undo restores the slice.
  await page.click('#undo');
  await waitStatus(page, /undone/);
  assert.equal(await sliceMaskBits(server.url, session, worst), before, 'undo restores the mask');
  await shot(page, '06-undone');
  process.stdout.write(
    `# negative click on slice ${worst}: area ${areaBefore} -> ${areaAfter}; undo -> ${await sliceArea(server.url, session, worst)}\n`,
  );

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
  await page.setInputFiles('#file', bad);
  assert.match(await waitError(page), /broken\.nii\.gz/);
  await shot(page, '09-error-unreadable');

  // The server goes down: the next action says so.
  await page.click('#message-close');
  await server.stop();
  await page.click('#undo');
  assert.match(await waitError(page), /cannot be reached.*medsam2 serve/);
  await shot(page, '10-error-server-down');

  assert.deepEqual(errors, [], 'no uncaught page errors');
});
