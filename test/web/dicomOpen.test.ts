/**
 * DICOM, PNG and JPEG opened in the app (real server on 127.0.0.1, Debian's Chromium), drawn from
 * the server's reading of the upload (GET /uploads/{id}/volume.nii.gz):
 * - the shared CT series as a .zip: what is drawn is the server's volume voxel for voxel with its
 *   geometry (against readVolume of the folder), in the orientation Slicer shows (anterior up,
 *   the patient's right on the left); the liver box on slice 16, propagated, stores exactly what
 *   `medsam2 segment` (run in-process) writes for the same prompt, and so the same DSC against
 *   the liver of ct-series_seg.nii.gz;
 * - the same series as a folder (directory picker) and as several selected files: the same grid
 *   and, for the same box, the same slice mask;
 * - a folder holding two series (the CT series and seg-ct-3slice's 3 CT slices + its SEG objects):
 *   a picker names both, the one picked opens;
 * - a Kvasir JPEG opened as an image (not video): shown, and a box stores the CLI's mask.
 * Screenshots: test-output/web/dicom-*.png.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import { readSeg } from '../../src/io/dicom/segRead.js';
import { readVolume } from '../../src/io/readVolume.js';
import { reorientToGrid } from '../../src/io/reorientToGrid.js';
import type { Volume } from '../../src/io/volume.js';
import { dice } from '../../src/metrics/dice.js';
import type { Box } from '../../src/predictor/prompts.js';
import { hasTool, seriesWithUids } from '../dicom/dicomTools.js';
import { assertSameVolume, drawnVolume } from './drawnVolume.js';
import { boxOn, closeClean, openScan, sessionOf } from './appDriver.js';
import {
  type AppHandle,
  ROOT,
  ready,
  serverAndBrowser,
  serverSlice,
  shot,
  skipReason,
  voxelToClient,
  waitError,
  waitStatus,
} from './browser.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';
import { segmentOncePerRun } from '../helpers/runSegmentOutputs.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

// Browser globals inside page functions (this program has no DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any, localStorage: any, document: any, DataTransfer: any, File: any, DragEvent: any, atob: any;

const DICOM = join(ROOT, '../shared/data/dicom');
const SERIES = join(DICOM, 'ct-series');
const SERIES_SEG = join(DICOM, 'ct-series_seg.nii.gz');
const THREE = join(DICOM, 'seg-ct-3slice');
const KVASIR = join(ROOT, '../shared/data/endoscopy/kvasir');
const KVASIR_NAME = 'cju0qkwl35piu0993l0dewei2.jpg';
/**
 * The liver's box on slice 16 of the series as every reader here counts it (rows run anterior →
 * posterior): TotalSegmentator's liver (label 5) placed on this grid spans columns 107..278,
 * rows 199..374 there. (ct-series_seg.nii.gz stores its rows the other way up: 137..312 there.)
 */
const SLICE = 16;
const LIVER_BOX: Box = [107, 199, 278, 374];
const LIVER = 5;

const skip =
  skipReason() || (![SERIES, SERIES_SEG, THREE, KVASIR].every(existsSync) && `needs ../shared/data/dicom and endoscopy/kvasir (${DICOM})`);
if (skip) process.stdout.write(`# skipping the DICOM-open browser test: ${skip}\n`);

const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-dicomopen-'));
/** The zip test's key-slice mask right after its box (the folder and files cases must store the same). */
let keyMask: Uint8Array | undefined;

const e2e = serverAndBrowser(skip, { tearDown: () => rmSync(tmp, { recursive: true, force: true }) });

/**
 * `medsam2 segment INPUT --slice S --box B -o tmp/NAME.nii.gz`, in this process (once per test run for the
 * same input and prompt: projectDicomCase asks the same of the series); the written mask.
 */
async function cliMask(input: string, slice: number, box: Box, name: string): Promise<Volume> {
  const out = join(tmp, `${name}.nii.gz`);
  await segmentOncePerRun(input, { output: out, slice: String(slice), box: box.join(','), precision: 'fp32', threads: '2', quiet: true });
  return readVolume(out);
}

function ones(d: ArrayLike<number | bigint>): number {
  let n = 0;
  for (let i = 0; i < d.length; i++) if (Number(d[i])) n++;
  return n;
}

test('a DICOM series as a .zip: drawn as the server reads it, Slicer orientation; box + propagate store what the CLI writes', {
  skip,
  timeout: 900_000,
}, async () => {
  const members: Record<string, Uint8Array> = {};
  for (const f of readdirSync(SERIES)) members[`ct-series/${f}`] = readFileSync(join(SERIES, f));
  const zip = join(tmp, 'ct-series.zip');
  writeFileSync(zip, zipSync(members, { level: 1 }));

  const { page, errors } = await e2e.open();
  const t0 = performance.now();
  await openScan(page, zip, /draw a box/, 400_000);
  process.stdout.write(`# DICOM zip opened (upload, session, display) in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const info = (await page.textContent('#info')) ?? '';
  assert.match(info, /ct-series/);
  assert.match(info, /dicom-zip/);
  assert.match(info, /512 × 512 × 20/);
  assert.match(info, /CT/);

  // What the app drew is the server's volume: the same voxels and geometry as the folder read by the CLI's reader.
  const series = await readVolume(SERIES);
  const drawn = await drawnVolume(page, e2e.server.url, tmp, 'drawn-zip');
  assertSameVolume(drawn.volume, series, 'the zip as drawn');
  assert.deepEqual(await page.evaluate(() => [...(window.medsam2 as { viewer: { dims: number[] } }).viewer.dims]), [512, 512, 20]);
  // Slicer's axial view: the patient's right (low column, LPS x) on the left, anterior (low row) up.
  const tl = await voxelToClient(page, 0, 0);
  const br = await voxelToClient(page, 511, 511);
  assert.ok(tl.x < br.x && tl.y < br.y, `voxel (0,0) at ${JSON.stringify(tl)} must be up-left of (511,511) at ${JSON.stringify(br)}`);
  // DICOM scans can be exported as DICOM SEG.
  assert.equal(await page.locator('#export-format option[value="seg.dcm"]').count(), 1);

  const sent = await boxOn(page, SLICE, LIVER_BOX);
  assert.equal(sent.slice, SLICE);
  assert.deepEqual(sent.box, LIVER_BOX, 'the box is the voxels under the corners');
  const session = await sessionOf(page);
  keyMask = (await serverSlice(e2e.server.url, session, SLICE)).bits;
  assert.ok(ones(keyMask) > 10_000, `the liver box segments the liver's cross-section (${ones(keyMask)} px)`);
  await shot(page, 'dicom-01-zip-liver-box');

  await page.click('#propagate');
  await waitStatus(page, /propagated in/, 600_000);
  await shot(page, 'dicom-02-zip-propagated');
  const r = await fetch(`${e2e.server.url}/sessions/${session}/labelmap?format=nii.gz`);
  assert.equal(r.status, 200);
  writeFileSync(join(tmp, 'app.nii.gz'), new Uint8Array(await r.arrayBuffer()));
  const app = await readVolume(join(tmp, 'app.nii.gz'));
  assert.deepEqual(app.dims, series.dims);

  // DICOM SEG is offered; this anonymised series has no UIDs to reference, and the server's one line says so.
  await page.selectOption('#export-format', 'seg.dcm');
  await page.click('#export');
  const segMessage = await waitError(page, 60_000);
  assert.match(segMessage, /lacks SOPInstanceUID\/SOPClassUID.*must reference/);
  assert.match(segMessage, /write \.nii\.gz instead/);
  await page.click('#message-close');

  // A reload restores the session on the server's reading of the series (kept in IndexedDB as its NIfTI).
  await page.reload();
  await ready(page);
  await waitStatus(page, /session restored/, 120_000);
  assert.match((await page.textContent('#info')) ?? '', /ct-series.*dicom-zip.*512 × 512 × 20/s);
  assert.deepEqual(await page.evaluate(() => [...(window.medsam2 as { viewer: { dims: number[] } }).viewer.dims]), [512, 512, 20]);
  const shown = await page.evaluate(() => (window.medsam2 as AppHandle).viewer.objectStats(1).voxels);
  assert.equal(shown, ones(app.data as ArrayLike<number>), 'after the reload the overlay shows the stored label map');
  await shot(page, 'dicom-02b-zip-reloaded');

  // The CLI, in this process once the app is done (it would hold the server's event loop meanwhile).
  const cliStarted = performance.now();
  const want = await cliMask(SERIES, SLICE, LIVER_BOX, 'cli-series');
  const seconds = (performance.now() - cliStarted) / 1000;
  const liverRef = reorientToGrid(await readVolume(SERIES_SEG), series);
  const liver = Uint8Array.from(liverRef.data as ArrayLike<number>, (v) => (Number(v) === LIVER ? 1 : 0));
  const appBits = Uint8Array.from(app.data as ArrayLike<number>, (v) => (v === 1 ? 1 : 0));
  const cliBits = Uint8Array.from(want.data as ArrayLike<number>, (v) => (Number(v) ? 1 : 0));
  const appDsc = dice(appBits, liver);
  const cliDsc = dice(cliBits, liver);
  process.stdout.write(
    `# liver: app ${ones(appBits)} voxels, DSC ${appDsc.toFixed(4)}; CLI ${ones(cliBits)} voxels, DSC ${cliDsc.toFixed(4)} (CLI ${seconds.toFixed(0)} s); app vs CLI DSC ${dice(appBits, cliBits).toFixed(4)}\n`,
  );
  assert.equal(ones(appBits), ones(cliBits), 'the app stores as many voxels as the CLI writes');
  assert.equal(dice(appBits, cliBits), 1, 'the app stores the CLI mask voxel for voxel');
  assert.equal(appDsc, cliDsc);
  assert.ok(appDsc > 0.9, `liver DSC ${appDsc}`);
  await closeClean(page, errors);
});

test('the same series as a folder (directory picker) and as several selected files: same grid, same key-slice mask', {
  skip,
  timeout: 600_000,
}, async () => {
  const series = await readVolume(SERIES);
  // The folder is the series with UIDs given by dcmodify (as test/dicom does), so its DICOM SEG export can be written.
  const uids = hasTool('dcmodify') ? seriesWithUids() : undefined;
  if (!uids)
    process.stdout.write('# no dcmodify (.ci/setup.d/30-dicom.sh): the folder is the UID-less series, its SEG export is not checked\n');
  const folder = uids?.dir ?? SERIES;
  const { page, errors } = await e2e.open();
  await page.setInputFiles('#folder', folder);
  await waitStatus(page, /draw a box/, 400_000);
  assert.match((await page.textContent('#info')) ?? '', new RegExp(`${basename(folder)}.*dicom-zip.*512 × 512 × 20`, 's'));
  assertSameVolume((await drawnVolume(page, e2e.server.url, tmp, 'drawn-folder')).volume, series, 'the folder as drawn');
  await boxOn(page, SLICE, LIVER_BOX);
  const folderMask = (await serverSlice(e2e.server.url, await sessionOf(page), SLICE)).bits;
  if (keyMask) assert.equal(dice(folderMask, keyMask), 1, 'the folder stores the zip case key-slice mask');
  else assert.ok(ones(folderMask) > 10_000);
  await shot(page, 'dicom-03-folder-liver-box');
  if (uids) {
    // Export as DICOM SEG: the downloaded SEG holds the stored mask on the series' grid.
    await page.selectOption('#export-format', 'seg.dcm');
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click('#export')]);
    const file = join(tmp, download.suggestedFilename());
    await download.saveAs(file);
    assert.match(file, /_seg\.seg\.dcm$/);
    const seg = readSeg({ name: file, bytes: new Uint8Array(readFileSync(file)) }, series);
    assert.equal(seg.referencedSeriesUid, uids.seriesUid);
    const segMask = seg.mask(1);
    const plane = 512 * 512;
    assert.equal(ones(segMask), ones(folderMask), 'the SEG holds the stored key-slice mask and nothing else');
    assert.equal(dice(segMask.subarray(SLICE * plane, (SLICE + 1) * plane), folderMask), 1);
  }

  // Several .dcm files picked in the file dialog (in reverse order: the server sorts slices by position).
  const files = readdirSync(SERIES)
    .map((f) => join(SERIES, f))
    .reverse();
  await openScan(page, files, /draw a box/, 400_000);
  assert.match((await page.textContent('#info')) ?? '', /dicom-series.*dicom-zip.*512 × 512 × 20/s);
  assertSameVolume((await drawnVolume(page, e2e.server.url, tmp, 'drawn-files')).volume, series, 'the selected files as drawn');
  await closeClean(page, errors);
});

test('a folder with two series: a picker names both, the one picked opens; dropped files open; a folder without DICOM: one line', {
  skip,
  timeout: 600_000,
}, async () => {
  const study = join(tmp, 'study');
  for (const [dir, sub] of [
    [SERIES, 'ct'],
    [THREE, 'three'],
  ] as const) {
    mkdirSync(join(study, sub), { recursive: true });
    for (const f of readdirSync(dir)) copyFileSync(join(dir, f), join(study, sub, f));
  }
  writeFileSync(join(study, 'README.txt'), 'not DICOM');
  const three = await readVolume(THREE);

  const { page, errors } = await e2e.open();
  await page.setInputFiles('#folder', study);
  await page.waitForSelector('#series-picker[open]', { timeout: 120_000 });
  const buttons = await page.locator('#series-picker button[data-series]').allTextContents();
  assert.equal(buttons.length, 2, `two series offered: ${buttons.join(' | ')}`);
  assert.match(buttons[0]!, /CT, 20 images, 512×512/);
  assert.match(buttons[1]!, /CT, 3 images/, 'the SEG objects beside the 3 slices are not images');
  assert.match((await page.textContent('#series-picker h2')) ?? '', /"study" holds 2 series/);
  await shot(page, 'dicom-04-series-picker');
  await page.click('#series-picker button[data-series="1"]');
  await waitStatus(page, /draw a box/, 400_000);
  assert.match((await page.textContent('#info')) ?? '', new RegExp(`${three.dims.join(' × ')}`));
  assertSameVolume((await drawnVolume(page, e2e.server.url, tmp, 'drawn-three')).volume, three, 'the picked series as drawn');

  // The 3-slice folder's files dropped on the view (3 CT slices + 2 SEG objects): one image series, opened
  // without a question. (A synthetic drop carries files, not folder entries: the folder walk is not exercised.)
  const dropped = readdirSync(THREE).map((f) => ({ name: f, b64: readFileSync(join(THREE, f)).toString('base64') }));
  await page.evaluate(() => {
    document.getElementById('status').textContent = '…';
  });
  await page.evaluate((files) => {
    const dt = new DataTransfer();
    for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.b64) as string, (c: string) => c.charCodeAt(0))], f.name));
    document.getElementById('drop').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, dropped);
  await waitStatus(page, /draw a box/, 400_000);
  assert.equal(await page.locator('#series-picker').count(), 0, 'no picker: the SEG objects are not image series');
  assert.match((await page.textContent('#info')) ?? '', new RegExp(`dicom-series.*${three.dims.join(' × ')}`, 's'));

  // A folder with no DICOM image in it: one line naming the problem and the fix; the scan stays.
  const empty = join(tmp, 'notes');
  mkdirSync(empty);
  writeFileSync(join(empty, 'a.bin'), new Uint8Array(4096).fill(7));
  writeFileSync(join(empty, 'b.txt'), 'hello');
  await page.setInputFiles('#folder', empty);
  await page.waitForSelector('#message[data-kind="error"]:not([hidden])', { timeout: 60_000 });
  const message = (await page.textContent('#message')) ?? '';
  assert.match(message, /the folder "notes" holds no DICOM image/);
  assert.match(message, /pick the folder of one DICOM series/);
  assert.match((await page.textContent('#info')) ?? '', new RegExp(`${three.dims.join(' × ')}`), 'the open scan stays');
  await closeClean(page, errors);
});

test('a JPEG opened as an image (not video): shown as the server reads it, a box stores the CLI mask', {
  skip,
  timeout: 600_000,
}, async () => {
  const image = join(KVASIR, 'images', KVASIR_NAME);
  const ref = await readVolume(join(KVASIR, 'masks', KVASIR_NAME));
  const [W, H] = ref.dims;
  // The reference polyp's bounding box.
  let [x0, y0, x1, y1] = [W, H, -1, -1];
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++)
      if (Number(ref.data[y * W + x]) > 127) [x0, y0, x1, y1] = [Math.min(x0, x), Math.min(y0, y), Math.max(x1, x), Math.max(y1, y)];
  const box: Box = [x0, y0, x1, y1];
  const refBits = Uint8Array.from(ref.data as ArrayLike<number>, (v) => (Number(v) > 127 ? 1 : 0));
  const cli = await cliMask(image, 0, box, 'cli-kvasir');

  const { page, errors } = await e2e.open();
  await openScan(page, image, /draw a box/, 400_000);
  const info = (await page.textContent('#info')) ?? '';
  assert.match(info, /jpeg/);
  assert.match(info, new RegExp(`${W} × ${H} × 1`));
  assert.equal(await page.isVisible('#video-frame'), false, 'opened as an image, not in video mode');
  assertSameVolume((await drawnVolume(page, e2e.server.url, tmp, 'drawn-jpeg')).volume, await readVolume(image), 'the JPEG as drawn');
  // Rows down, columns right, as any picture viewer.
  const tl = await voxelToClient(page, 0, 0);
  const br = await voxelToClient(page, W - 1, H - 1);
  assert.ok(tl.x < br.x && tl.y < br.y, 'the picture is upright');
  assert.equal(await page.locator('#export-format option[value="seg.dcm"]').count(), 0, 'no DICOM SEG for a JPEG');
  // A photo is shown as stored (0–255), not stretched to its 2–98 % range.
  assert.deepEqual(
    await page.evaluate(() => [window.medsam2.viewer.nv.volumes[0].cal_min, window.medsam2.viewer.nv.volumes[0].cal_max]),
    [0, 255],
  );

  const sent = await boxOn(page, 0, box);
  assert.deepEqual(sent.box, box);
  const got = (await serverSlice(e2e.server.url, await sessionOf(page), 0)).bits;
  const cliBits = Uint8Array.from(cli.data as ArrayLike<number>, (v) => (Number(v) ? 1 : 0));
  process.stdout.write(
    `# kvasir ${KVASIR_NAME}: app ${ones(got)} px, DSC ${dice(got, refBits).toFixed(4)}; CLI ${ones(cliBits)} px, DSC ${dice(cliBits, refBits).toFixed(4)}\n`,
  );
  assert.equal(dice(got, cliBits), 1, 'the app stores the CLI mask');
  assert.ok(dice(got, refBits) > 0.7, `polyp DSC ${dice(got, refBits)}`);
  // A picture's object is its area in pixels (its 1 mm spacing is nominal: no mL, no slice range).
  await page.waitForFunction(() => / px$/.test(document.querySelector('#objects .stats')?.textContent ?? ''), undefined, {
    timeout: 30_000,
  });
  assert.equal((await page.textContent('#objects .stats'))?.trim(), `${ones(got)} px`);
  await shot(page, 'dicom-05-jpeg-box');
  await closeClean(page, errors);
});
