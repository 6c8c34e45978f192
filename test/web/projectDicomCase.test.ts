/**
 * A project case whose upload is a DICOM series zip (the shared ct-series), in Chromium against a
 * real server on 127.0.0.1: the case page draws the server's reading of it
 * (GET /projects/{p}/cases/{c}/volume.nii.gz; before, the zip was handed to NiiVue as an .npz and
 * the case did not open), the liver box on slice 16 (`--slice 16 --box 107,199,278,374`) is
 * propagated and saved, and the saved version's label map equals what `medsam2 segment` (run
 * in-process) writes for the same prompt, voxel for voxel, on the same grid. The review page
 * draws the same case with the version over it. Screenshots: test-output/web/projdicom-*.png.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { readVolume } from '../../src/io/readVolume.js';
import type { Volume } from '../../src/io/volume.js';
import type { Box } from '../../src/predictor/prompts.js';
import { OBJECT_COLOURS } from '../../web/src/colours.js';
import { cacheSam1Encodes, runEmbeddingCache } from '../helpers/runEmbeddingCache.js';
import { segmentOncePerRun } from '../helpers/runSegmentOutputs.js';
import { boxOn, caseShown } from './appDriver.js';
import { ROOT, serverAndBrowser, shot, skipReason, waitStatus } from './browser.js';
import { localApi } from './localApi.js';

// Browser globals inside page functions (this program has no DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

const SERIES = join(ROOT, '../shared/data/dicom/ct-series');
const SLICE = 16;
const LIVER_BOX: Box = [107, 199, 278, 374];
const P = 'liver';

const skip = skipReason() || (!existsSync(SERIES) && `needs ../shared/data/dicom/ct-series (${SERIES})`);
if (skip) process.stdout.write(`# skipping the DICOM project case browser test: ${skip}\n`);

let caseName = '';
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-projdicom-'));

/** The HTTP API as the local user (localApi.ts) on this file's server. */
const api = (method: string, path: string, body?: unknown) => localApi(e2e.server.url, method, path, body);

async function volumeAt(path: string, name: string): Promise<Volume> {
  const r = await fetch(e2e.server.url + path);
  assert.equal(r.status, 200, path);
  const file = join(tmp, `${name}.nii.gz`);
  writeFileSync(file, new Uint8Array(await r.arrayBuffer()));
  return readVolume(file);
}

const e2e = serverAndBrowser(skip, {
  ready: async (): Promise<void> => {
    // The local user (no auth) is a server admin: upload the series as a zip, make the project, add the case.
    const members: Record<string, Uint8Array> = {};
    for (const f of readdirSync(SERIES)) members[`ct-series/${f}`] = readFileSync(join(SERIES, f));
    const up = await api('POST', '/uploads?name=ct-series.zip', zipSync(members, { level: 1 }));
    assert.equal(up.format, 'dicom-zip');
    await api('POST', '/projects', { name: P, labels: [{ value: 1, name: 'liver' }] });
    caseName = (await api('POST', `/projects/${P}/cases`, { uploadIds: [up.id], mode: 'manual' }))[0].name;
  },
  tearDown: () => rmSync(tmp, { recursive: true, force: true }),
});

/** Canvas pixels within `tol` of object 1's colour. */
function objectPixels(png: Buffer, tol = 30): number {
  const img = PNG.sync.read(png);
  const c = OBJECT_COLOURS[0]!;
  let n = 0;
  for (let i = 0; i < img.data.length; i += 4)
    if (Math.abs(img.data[i]! - c[0]) <= tol && Math.abs(img.data[i + 1]! - c[1]) <= tol && Math.abs(img.data[i + 2]! - c[2]) <= tol) n++;
  return n;
}

test('a DICOM-zip project case: drawn as the server reads it; box + propagate + save = the CLI mask voxel for voxel; reviewed', {
  skip,
  timeout: 900_000,
}, async (t) => {
  // The server's propagation and the CLI's encode the same 20 slices: the CLI reads what the server
  // encoded (what this test asserts is the flow and the grid, not the encoder).
  t.after(cacheSam1Encodes(runEmbeddingCache(join(tmp, 'emb'))));
  const c = encodeURIComponent(caseName);
  const { page, errors } = await e2e.open(`/?project=${P}&case=${c}`);
  await caseShown(page);
  // The grid drawn is the server's: 512 × 512 × 20, as the folder reads.
  assert.deepEqual(await page.evaluate(() => [...(window.medsam2 as { viewer: { dims: number[] } }).viewer.dims]), [512, 512, 20]);
  const shown = await volumeAt(`/projects/${P}/cases/${c}/volume.nii.gz`, 'shown');
  const folder = await readVolume(SERIES);
  assert.deepEqual(shown.dims, folder.dims);

  // The liver box on slice 16 in one axial view, with real mouse events.
  const sent = await boxOn(page, SLICE, LIVER_BOX);
  assert.deepEqual(sent, { ...sent, slice: SLICE, box: LIVER_BOX }, 'one prompt: the box is the voxels under the corners');
  await shot(page, 'projdicom-1-case-box');
  await page.click('#propagate');
  await waitStatus(page, /propagated in/, 600_000);
  await page.click('#case-save');
  await page.waitForFunction(() => document.getElementById('case-version')?.dataset.base === '0', undefined, { timeout: 60_000 });
  await shot(page, 'projdicom-2-case-saved');

  // The saved version on the case's grid equals the CLI's mask for the same prompt.
  const saved = await volumeAt(`/projects/${P}/cases/${c}/versions/0/labelmap?format=nifti`, 'saved');
  const cliOut = join(tmp, 'cli.nii.gz');
  // The CLI's output for this prompt, computed once per test run (dicomOpen asks the same of the series).
  await segmentOncePerRun(SERIES, {
    output: cliOut,
    slice: String(SLICE),
    box: LIVER_BOX.join(','),
    precision: 'fp32',
    threads: '2',
    quiet: true,
  });
  const cli = await readVolume(cliOut);
  assert.deepEqual(saved.dims, cli.dims);
  for (const k of ['spacing', 'origin', 'direction'] as const)
    cli[k].forEach((x, i) => assert.ok(Math.abs(saved[k][i]! - x) < 1e-4 * Math.max(1, Math.abs(x)), `${k}: ${saved[k]} vs ${cli[k]}`));
  let voxels = 0,
    differ = 0;
  for (let i = 0; i < cli.data.length; i++) {
    const want = Number(cli.data[i]) ? 1 : 0;
    if (want) voxels++;
    if (Number(saved.data[i]) !== want) differ++;
  }
  process.stdout.write(`# liver: ${voxels} voxels from the CLI, ${differ} differ in the saved version\n`);
  assert.ok(voxels > 100_000, `the liver is segmented (${voxels} voxels)`);
  assert.equal(differ, 0, `${differ} voxels of the saved version differ from the CLI's mask`);
  assert.deepEqual(errors, []);

  // The review page draws the same case with the version over it (the liver in object 1's colour).
  await api('POST', `/projects/${P}/cases/${c}/submit`, {});
  const rev = await e2e.open(`/projects.html#/p/${P}/review/${c}`);
  await rev.page.waitForFunction(() => /ready|error/.test(document.body.dataset.pageState ?? ''), undefined, { timeout: 180_000 });
  assert.equal(await rev.page.evaluate(() => document.body.dataset.pageState), 'ready', (await rev.page.textContent('#message')) ?? '');
  assert.equal(await rev.page.getAttribute('#slice', 'max'), '19');
  await rev.page.locator('#review-opacity').fill('1');
  await rev.page.locator('#slice').fill(String(SLICE));
  await rev.page.waitForTimeout(500);
  const px = objectPixels(await rev.page.locator('#gl').screenshot());
  assert.ok(px > 2000, `the liver is drawn over the case on the review page (${px} px)`);
  await shot(rev.page, 'projdicom-3-review');
  assert.deepEqual(rev.errors, []);
});
