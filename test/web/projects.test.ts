/**
 * The annotation-project pages end to end in Debian's Chromium (issue #12): a real server with
 * bearer tokens on 127.0.0.1, a project on the shared CT-lesion case (cropped to 5 slices so the
 * model runs little: 3 slices) set up through the HTTP API, and three people in three browser contexts.
 * The admin signs in after a 401, pre-annotates from the dashboard (a server job with progress);
 * the annotator takes the next case from the queue, draws the reference key box with real mouse
 * events, saves, meets a 409 when someone else saved first, reloads, redoes and submits; the
 * reviewer sees the diff overlay (its colours checked in the canvas pixels against the voxel
 * diff of the two versions), returns the case with a comment, the annotator resubmits, the
 * reviewer accepts; the dashboard shows the counts and opens the report. Screenshots go to
 * test-output/web/projects-*.png.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { parseNpzMask } from '../../src/io/npzCase.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { encodeRle } from '../../src/server/rle.js';
import { labelMapFromNpz } from '../../web/src/projects/labelMapFile.js';
import { DIFF_BOTH, DIFF_ONLY_A, DIFF_ONLY_B, diffCodes, sliceMaskOf } from '../../web/src/projects/diffOverlay.js';
import { OBJECT_COLOURS } from '../../web/src/colours.js';
import { call, croppedLesion, startTestServer } from '../server/harness.js';
import { dragBox, goToSlice, ready, serverAndBrowser, shot, skipReason, waitStatus } from './browser.js';
import { caseShown } from './appDriver.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

// Browser globals inside page functions (this program has no DOM lib: it would retype Node's fetch).
declare const document: any, window: any;

const skip = skipReason();
if (skip) process.stdout.write(`# skipping the project pages e2e test: ${skip}\n`);

const P = 'lesions';
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-projweb-'));
const tokens = { admin: '', ann: '', rev: '' };
let caseName = '';
let crop: { path: string; key: number; slices: number };

// Bearer tokens and users made straight in the database: the server tests' harness, not serve().
const e2e = serverAndBrowser(skip, {
  start: () => startTestServer({ requireAuth: true }),
  ready: async (server): Promise<void> => {
    tokens.admin = await server.user('alice', 'admin');
    tokens.ann = await server.user('ann', 'annotator');
    tokens.rev = await server.user('rex', 'reviewer');
    // The project through the HTTP API: upload, create, members, add the case.
    crop = await croppedLesion(tmp, 1);
    const up = await call(server.url, 'POST', '/uploads?name=lesion-crop.npz', { body: readFileSync(crop.path), token: tokens.admin });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const created = await call(server.url, 'POST', '/projects', {
      token: tokens.admin,
      body: { name: P, labels: [{ value: 1, name: 'lesion', code: '52988006' }], guidelines: 'Outline the whole lesion on every slice.' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    for (const [user, role] of [
      ['ann', 'annotator'],
      ['rex', 'reviewer'],
    ])
      assert.equal((await call(server.url, 'PUT', `/projects/${P}/members/${user}`, { token: tokens.admin, body: { role } })).status, 200);
    const added = await call(server.url, 'POST', `/projects/${P}/cases`, { token: tokens.admin, body: { uploadIds: [up.body.id] } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    caseName = added.body[0].name;
  },
  tearDown: () => rmSync(tmp, { recursive: true, force: true }),
});

async function pageState(page: Page, state: 'ready' | 'error', timeout = 60_000): Promise<void> {
  await page.waitForFunction((s) => document.body.dataset.pageState === s, state, { timeout });
}

/** The Sign in… action of the 401 message, answering the token prompt. */
async function signIn(page: Page, token: string): Promise<void> {
  await pageState(page, 'error');
  assert.match((await page.textContent('#message')) ?? '', /token expired or wrong — sign in again/);
  assert.equal(await page.textContent('#message-action'), 'Sign in…');
  page.once('dialog', (d) => void d.accept(token));
  await page.click('#message-action');
  await pageState(page, 'ready');
}

async function count(page: Page, status: string): Promise<number> {
  return Number(await page.textContent(`#progress-card .legend [data-status="${status}"] .count`));
}

async function caseView(): Promise<any> {
  const r = await call(e2e.server.url, 'GET', `/projects/${P}/cases/${encodeURIComponent(caseName)}`, { token: tokens.admin });
  assert.equal(r.status, 200);
  return r.body;
}

async function versionLabels(v: number): Promise<Uint8Array> {
  const r = await call(e2e.server.url, 'GET', `/projects/${P}/cases/${encodeURIComponent(caseName)}/versions/${v}/labelmap?format=npz`, {
    token: tokens.admin,
  });
  assert.equal(r.status, 200);
  return labelMapFromNpz(r.body as Uint8Array).labels;
}

/** Opens the annotation view from the queue's Next case and waits until the case is shown. */
async function nextCase(page: Page): Promise<void> {
  await page.click('#next-case');
  await page.waitForURL(/\?project=/, { timeout: 60_000 });
  await ready(page);
  await caseShown(page, 180_000);
}

async function drawKeyBox(page: Page, box: [number, number, number, number]): Promise<void> {
  await page.selectOption('#layout', 'axial');
  await goToSlice(page, crop.key);
  await dragBox(page, box);
  await waitStatus(page, new RegExp(`slice ${crop.key}: \\d+ px`));
}

/** Canvas pixels within `tol` of each diff colour (the overlay at opacity 1). */
function colourPixels(png: Buffer, tol = 30): Record<number, number> {
  const img = PNG.sync.read(png);
  const out: Record<number, number> = { [DIFF_ONLY_A]: 0, [DIFF_ONLY_B]: 0, [DIFF_BOTH]: 0 };
  for (let i = 0; i < img.data.length; i += 4)
    for (const code of [DIFF_ONLY_A, DIFF_ONLY_B, DIFF_BOTH]) {
      const c = OBJECT_COLOURS[code - 1]!;
      if (Math.abs(img.data[i]! - c[0]) <= tol && Math.abs(img.data[i + 1]! - c[1]) <= tol && Math.abs(img.data[i + 2]! - c[2]) <= tol)
        out[code]!++;
    }
  return out;
}

test('dashboard, queue, annotate (save, 409, submit), review with a diff overlay, return, accept', { skip, timeout: 900_000 }, async () => {
  const t0 = performance.now();
  const lap = (what: string) => process.stdout.write(`# ${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const ref = parseNpzMask(readFileSync(crop.path), 'crop');
  const refBin = Uint8Array.from(ref.data as ArrayLike<number>, (v) => (v ? 1 : 0));
  const key = promptFromReference('key-box', { reference: refBin, dims: ref.dims });
  assert.equal(key.slice, crop.key);

  // ---- admin: dashboard (a 401 first: no token yet), pre-annotate as a job ----
  const admin = await e2e.open(`/projects.html#/p/${P}`);
  await signIn(admin.page, tokens.admin);
  assert.equal(await count(admin.page, 'new'), 1);
  assert.match((await admin.page.textContent('#members')) ?? '', /ann\s*annotator/);
  await admin.page.selectOption('#pre-source', 'recist');
  await admin.page.click('#pre-annotate');
  await admin.page.waitForFunction(
    () =>
      /done|failed|cancelled/.test(document.getElementById('pre-state')?.dataset.status ?? '') ||
      document.body.dataset.pageState === 'error',
    undefined,
    { timeout: 300_000 },
  );
  assert.equal(
    await admin.page.evaluate(() => document.getElementById('pre-state')?.dataset.status ?? document.body.dataset.pageState),
    'done',
    `pre-annotation: ${await admin.page.textContent('#pre-state').catch(() => '')} ${await admin.page.textContent('#message')}`,
  );
  await pageState(admin.page, 'ready');
  await admin.page.waitForFunction(
    () => document.querySelector('#progress-card [data-status="pre_annotated"] .count')?.textContent === '1',
  );
  await shot(admin.page, 'projects-1-dashboard-pre-annotated');
  lap('pre-annotated');

  // ---- annotator: my queue → next case → box → save ----
  const ann = await e2e.open(`/projects.html#/p/${P}/queue`);
  await signIn(ann.page, tokens.ann);
  assert.match((await ann.page.textContent('#cases')) ?? '', new RegExp(`${caseName}.*pre-annotated`));
  await shot(ann.page, 'projects-2-queue');
  await nextCase(ann.page);
  assert.equal(await ann.page.getAttribute('#case-version', 'data-base'), '0');
  await shot(ann.page, 'projects-3-case-v0');
  await drawKeyBox(ann.page, key.box!);
  await ann.page.click('#case-save');
  await ann.page.waitForFunction(() => /saved as v1/.test(document.getElementById('case-status').textContent), undefined, {
    timeout: 60_000,
  });
  await shot(ann.page, 'projects-4-case-saved-v1');
  lap('saved v1');

  // Someone else (the same account in another tab, here over HTTP) saves the reference on top of v1 …
  const [nx, ny, nz] = ref.dims;
  const other = await call(e2e.server.url, 'POST', `/projects/${P}/cases/${encodeURIComponent(caseName)}/versions`, {
    token: tokens.ann,
    body: { baseVersion: 1, labelsRle: { dims: ref.dims, rle: encodeRle(refBin, nz * ny, nx) } },
  });
  assert.equal(other.status, 201, JSON.stringify(other.body));
  // … so this tab's next save (on v1) is a 409 with a visible reload action, never an overwrite.
  await ann.page.click('#case-save');
  await ann.page.waitForSelector('#case-conflict:not([hidden])', { timeout: 60_000 });
  assert.match((await ann.page.textContent('#case-conflict')) ?? '', /someone else saved this case/);
  assert.equal((await caseView()).case.latestVersion, 2, 'the stale save stored nothing');
  await shot(ann.page, 'projects-5-conflict-409');
  await ann.page.click('#case-reload');
  await ready(ann.page);
  await ann.page.waitForFunction(() => document.body.dataset.caseReady === 'true', undefined, { timeout: 180_000 });
  assert.equal(await ann.page.getAttribute('#case-version', 'data-base'), '2');
  await drawKeyBox(ann.page, key.box!);
  await ann.page.click('#case-submit');
  await ann.page.waitForURL(/projects\.html/, { timeout: 60_000 });
  await pageState(ann.page, 'ready');
  assert.match((await ann.page.textContent('#cases')) ?? '', new RegExp(`${caseName}.*submitted`));
  lap('submitted');

  // ---- reviewer: the diff overlay of v0 (model) and v3 (annotator), return with a comment ----
  const rev = await e2e.open(`/projects.html#/p/${P}/review`);
  await signIn(rev.page, tokens.rev);
  await rev.page.click(`#to-review a`);
  await pageState(rev.page, 'ready', 120_000);
  const server03 = await call(e2e.server.url, 'GET', `/projects/${P}/cases/${encodeURIComponent(caseName)}/diff?a=0&b=3`, {
    token: tokens.rev,
  });
  assert.match((await rev.page.textContent('#diff-server')) ?? '', new RegExp(`DSC ${server03.body.dsc.toFixed(3)}`));
  await rev.page.locator('#review-opacity').fill('1');
  /** The overlay on the slice shown: each colour's pixels in the canvas against the voxel diff of the two versions. */
  const checkOverlay = async (a: number, b: number, name: string) => {
    await rev.page.waitForFunction((want) => document.body.dataset.overlay === want, `diff:${a}:${b}`, { timeout: 120_000 });
    const { codes, counts } = diffCodes(await versionLabels(a), await versionLabels(b));
    assert.deepEqual(await rev.page.evaluate(() => window.medsam2Review.counts), counts);
    const z = Number(/slice (\d+)/.exec((await rev.page.textContent('#slice-label')) ?? '')![1]);
    const onSlice = (code: number) => sliceMaskOf(codes, ref.dims, z, code).reduce((s, v) => s + v, 0);
    const px = colourPixels(await rev.page.locator('#gl').screenshot());
    await shot(rev.page, name);
    process.stdout.write(
      `# diff v${a}→v${b} on slice ${z}: voxels A ${onSlice(1)} B ${onSlice(2)} both ${onSlice(3)}; pixels ${JSON.stringify(px)}\n`,
    );
    assert.ok(onSlice(DIFF_ONLY_A) + onSlice(DIFF_ONLY_B) > 0, 'the shown slice has changed voxels');
    for (const code of [DIFF_ONLY_A, DIFF_ONLY_B, DIFF_BOTH]) {
      // A voxel covers about 2 pixels here (the 512² slice is drawn about 740 px high).
      if (onSlice(code) >= 20) assert.ok(px[code]! >= onSlice(code) * 0.5, `colour ${code}: ${px[code]} px for ${onSlice(code)} voxels`);
      if (onSlice(code) === 0) assert.ok(px[code]! < 20, `colour ${code} shows ${px[code]} px with no voxel`);
    }
    return { z, onlyA: onSlice(DIFF_ONLY_A), onlyB: onSlice(DIFF_ONLY_B) };
  };
  const forward = await checkOverlay(0, 3, 'projects-6-review-diff');
  // The version picker: the same two versions swapped swap the two colours.
  await rev.page.selectOption('#version-a', '3');
  await rev.page.selectOption('#version-b', '0');
  const swapped = await checkOverlay(3, 0, 'projects-6b-review-diff-swapped');
  if (swapped.z === forward.z) assert.deepEqual([swapped.onlyA, swapped.onlyB], [forward.onlyB, forward.onlyA]);
  await rev.page.fill('#review-comment', 'the lower edge is missing on the key slice');
  await rev.page.click('#return');
  await rev.page.waitForSelector('#verdict[data-verdict="return"]');
  assert.equal((await caseView()).case.status, 'returned');
  lap('returned');

  // ---- annotator: the queue shows the returned case with the comment; it is resubmitted over HTTP ----
  await ann.page.reload();
  await pageState(ann.page, 'ready');
  assert.match((await ann.page.textContent('#cases')) ?? '', /returned.*the lower edge is missing/);
  await shot(ann.page, 'projects-7-queue-returned');
  const again = await call(e2e.server.url, 'POST', `/projects/${P}/next`, { token: tokens.ann });
  assert.equal(again.body.name, caseName, 'the returned case comes back first');
  assert.equal(
    (await call(e2e.server.url, 'POST', `/projects/${P}/cases/${encodeURIComponent(caseName)}/submit`, { token: tokens.ann })).status,
    200,
  );

  // ---- reviewer accepts; the dashboard counts it and opens the report ----
  await rev.page.reload();
  await pageState(rev.page, 'ready', 120_000);
  await rev.page.click('#accept');
  await rev.page.waitForSelector('#verdict[data-verdict="accept"]');
  await admin.page.reload();
  await pageState(admin.page, 'ready');
  assert.equal(await count(admin.page, 'accepted'), 1);
  assert.equal(await count(admin.page, 'pre_annotated'), 0);
  assert.match((await admin.page.textContent('#by-person')) ?? '', /ann\s*1\s*1/);
  await shot(admin.page, 'projects-8-dashboard-accepted');
  const [report] = await Promise.all([admin.page.waitForEvent('popup'), admin.page.click('#open-report')]);
  await report.waitForURL(/^blob:/, { timeout: 30_000 });
  await report.waitForLoadState();
  assert.match((await report.textContent('body')) ?? '', new RegExp(P));
  await shot(report, 'projects-9-report');

  // Every tool use, save and submit reached the interaction log.
  const log = (await caseView()).interactions;
  assert.ok(log.count >= 5, JSON.stringify(log));
  assert.ok(log.byPerson.ann.count >= 5, JSON.stringify(log));

  // The project list (#/) shows the project and its progress.
  await rev.page.goto(`${e2e.server.url}/projects.html#/`);
  await pageState(rev.page, 'ready');
  assert.match((await rev.page.textContent('#project-list')) ?? '', /lesions.*1 \/ 1 accepted/);

  // Errors a person can act on: a project that is not theirs (404), then the server gone.
  await rev.page.goto(`${e2e.server.url}/projects.html#/p/nope`);
  await pageState(rev.page, 'error');
  assert.match((await rev.page.textContent('#message')) ?? '', /no project 'nope' \(not found\)/);
  assert.equal(await rev.page.textContent('#message-action'), 'Back to projects');
  await shot(rev.page, 'projects-10-not-found');
  await e2e.server.stop();
  await admin.page.click('#pre-annotate');
  await admin.page.waitForSelector('#message[data-kind="error"]:not([hidden])');
  assert.match((await admin.page.textContent('#message')) ?? '', /the medsam2 server cannot be reached/);
  assert.equal(await admin.page.textContent('#message-action'), 'Retry');
  await shot(admin.page, 'projects-11-server-down');
  for (const p of [admin, ann, rev]) assert.deepEqual(p.errors, []);
  lap('done');
});
