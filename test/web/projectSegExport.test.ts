/**
 * DICOM SEG from the project pages, in Chromium against a real server on 127.0.0.1: a project
 * case whose upload is the shared CT series (given UIDs by dcmodify, as the DICOM tests do) with a
 * label version written through the API. The case page's Export offers "DICOM SEG" (a DICOM case)
 * and downloads the version as a SEG; the review page's Export defaults to DICOM SEG for it. Both
 * downloads, read back with our SEG reader on the series, equal the version voxel for voxel and
 * name the segment as the project's label. Then the case is accepted (API) and the dashboard's
 * Export card exports round 1 as DICOM SEG: a server job followed to done, whose Download gives a
 * zip holding the case's SEG (equal to the version) and its manifest. With Orthanc (the server's
 * PACS, test/dicom/orthanc.ts), the dashboard's Send round to PACS and the review page's Send B to
 * PACS each store a SEG of the version in the series' study there, and the review page lists both
 * sends with the SOP Instance UIDs Orthanc holds. Last, with two more accepted DICOM cases and the
 * server's STOWs held at a gate in front of Orthanc (test/dicom/stowGate.ts, passed one at a time):
 * the Export card's PACS bar and text advance (0 %, then a third and 1 SEG sent), Cancel send while
 * the second SEG is on its way (on the page reloaded mid-send, whose card found the running job and
 * showed it as before) shows "stopping" until that SEG is recorded, then "cancelled — 2 SEGs
 * sent"; the third case is never sent, and the job's sends recorded on the cases are the SEGs
 * Orthanc holds, one instance each. A zip export of the round started while the send is held waits
 * queued behind it (one project-export lane); the reloaded card finds it too ("queued", Export
 * disabled), follows it to done once the send stops, and its Download gives the three cases' SEGs.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { unzipSync, zipSync } from 'fflate';
import type { Browser, Page } from 'playwright-core';
import { readSeg } from '../../src/io/dicom/segRead.js';
import { readVolume } from '../../src/io/readVolume.js';
import type { Volume } from '../../src/io/volume.js';
import { encodeRle } from '../../src/server/rle.js';
import { hasTool, seriesWithUids } from '../dicom/dicomTools.js';
import { ROOT, openApp, serve, serverAndBrowser, shot, skipReason, type Served } from './browser.js';
import { caseShown } from './appDriver.js';
import { type RunningOrthanc, skipWithoutOrthanc, startOrthanc } from '../dicom/orthanc.js';
import { type StowGate, startStowGate } from '../dicom/stowGate.js';
import { jsonValue, searchInstances, searchSeries } from '../../src/io/dicomweb/client.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

// Browser globals inside page functions (this program has no DOM lib).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;

const SERIES = join(ROOT, '../shared/data/dicom/ct-series');
const P = 'clinic';
const skip =
  skipReason() ||
  (!existsSync(SERIES) && `needs ../shared/data/dicom/ct-series (${SERIES})`) ||
  (!hasTool('dcmodify') && 'needs dcmodify (.ci/setup.d/30-dicom.sh installs dcmtk)');
if (skip) process.stdout.write(`# skipping the project DICOM SEG export browser test: ${skip}\n`);

let server: Served;
let browser: Browser;
let caseName = '';
let ct: Volume;
let map: Uint8Array;
let studyUid = '';
let orthanc: RunningOrthanc | undefined;
/** The server's PACS: Orthanc through a gate that holds STOWs when the cancel test says so. */
let gate: StowGate | undefined;
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-web-projseg-'));

async function api(method: string, path: string, body?: unknown, token?: string): Promise<any> {
  const bytes = body instanceof Uint8Array;
  const r = await fetch(server.url + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': bytes ? 'application/octet-stream' : 'application/json' }),
    },
    body: body === undefined ? undefined : bytes ? body : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

serverAndBrowser(
  skip,
  async (s, b) => {
    server = s;
    browser = b;
    const series = seriesWithUids(SERIES);
    studyUid = series.studyUid;
    const members: Record<string, Uint8Array> = {};
    for (const f of series.files) members[`ct/${f.split('/').pop()}`] = readFileSync(f);
    ct = await readVolume(series.dir);
    rmSync(series.dir, { recursive: true, force: true });
    const up = await api('POST', '/uploads?name=ct.zip', zipSync(members, { level: 1 }));
    await api('POST', '/projects', { name: P, labels: [{ value: 1, name: 'liver', colour: '#dd8844' }] });
    caseName = (await api('POST', `/projects/${P}/cases`, { uploadIds: [up.id], mode: 'manual' }))[0].name;
    const [nx, ny, nz] = ct.dims;
    map = new Uint8Array(nx * ny * nz);
    for (let z = 14; z <= 17; z++) for (let y = 199; y <= 374; y++) for (let x = 107; x <= 278; x++) map[z * nx * ny + y * nx + x] = 1;
    const c = encodeURIComponent(caseName);
    await api('POST', `/projects/${P}/cases/${c}/claim`);
    await api('POST', `/projects/${P}/cases/${c}/versions`, {
      baseVersion: -1,
      labelsRle: { dims: ct.dims, rle: encodeRle(map, nz * ny, nx) },
    });
  },
  {
    setUp: async () => {
      if (!skipWithoutOrthanc()) {
        orthanc = await startOrthanc();
        gate = await startStowGate(orthanc.dicomweb);
      }
    },
    // rex reviews (the local admin saved the version and submits it, and may not review its own work).
    start: () => serve({ users: { rex: 'reviewer' }, ...(gate ? { dicomweb: { stowUrl: gate.dicomweb } } : {}) }),
    tearDown: async () => {
      await gate?.close();
      await orthanc?.stop();
      rmSync(tmp, { recursive: true, force: true });
    },
  },
);

/** Clicks `button` and reads the download it starts as a SEG on the series grid. */
async function segDownload(page: Page, button: string): Promise<{ name: string; labels: string[]; wrong: number }> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 120_000 }), page.click(button)]);
  const path = join(tmp, download.suggestedFilename());
  await download.saveAs(path);
  const seg = readSeg({ name: path, bytes: new Uint8Array(readFileSync(path)) }, ct);
  const m = seg.mask(1);
  let wrong = 0;
  for (let i = 0; i < m.length; i++) if (m[i] !== map[i]) wrong++;
  return { name: download.suggestedFilename(), labels: seg.segments.map((s) => s.label), wrong };
}

test("a DICOM project case: the case page's and review page's Export give the version as a DICOM SEG with the project's label", {
  skip,
  timeout: 600_000,
}, async () => {
  const c = encodeURIComponent(caseName);
  const { page, errors } = await openApp(browser, server.url, `/?project=${P}&case=${c}`);
  await caseShown(page);
  assert.equal(await page.locator('#export-format option[value="seg.dcm"]').count(), 1, 'DICOM SEG is offered');
  await page.selectOption('#export-format', 'seg.dcm');
  const fromCase = await segDownload(page, '#export');
  assert.equal(fromCase.name, `${caseName}-v0.seg.dcm`);
  assert.deepEqual(fromCase.labels, ['liver']);
  assert.equal(fromCase.wrong, 0, `${fromCase.wrong} voxels of the case page's SEG differ from version 0`);
  await shot(page, 'projseg-1-case-export');
  assert.deepEqual(errors, []);

  const rev = await openApp(browser, server.url, `/projects.html#/p/${P}/review/${c}`);
  await rev.page.waitForFunction(() => /ready|error/.test(document.body.dataset.pageState ?? ''), undefined, { timeout: 180_000 });
  assert.equal(await rev.page.evaluate(() => document.body.dataset.pageState), 'ready', (await rev.page.textContent('#message')) ?? '');
  assert.equal(await rev.page.inputValue('#review-export-format'), 'dicom-seg', 'a DICOM case exports as DICOM SEG by default');
  const fromReview = await segDownload(rev.page, '#review-export');
  assert.deepEqual(fromReview.labels, ['liver']);
  assert.equal(fromReview.wrong, 0, `${fromReview.wrong} voxels of the review page's SEG differ from version 0`);
  await shot(rev.page, 'projseg-2-review-export');
  assert.deepEqual(rev.errors, []);
});

/** Submits the case and has rex accept it (once: the export and the round send need it accepted). */
let accepted: Promise<void> | undefined;
function acceptCase(): Promise<void> {
  const c = encodeURIComponent(caseName);
  accepted ??= (async () => {
    await api('POST', `/projects/${P}/cases/${c}/submit`);
    await api('PUT', `/projects/${P}/members/rex`, { role: 'reviewer' });
    await api('POST', `/projects/${P}/cases/${c}/review`, { verdict: 'accept' }, server.tokens.rex);
  })();
  return accepted;
}

async function dashboard(): Promise<{ page: Page; errors: string[] }> {
  const d = await openApp(browser, server.url, `/projects.html#/p/${P}`);
  await d.page.waitForFunction(() => /ready|error/.test(document.body.dataset.pageState ?? ''), undefined, { timeout: 60_000 });
  assert.equal(await d.page.evaluate(() => document.body.dataset.pageState), 'ready', (await d.page.textContent('#message')) ?? '');
  return d;
}

test("the dashboard's Export card: a 409 in the message bar before any case is accepted; then round 1 as DICOM SEG through a job, downloaded as a zip holding the accepted version's SEG", {
  skip,
  timeout: 300_000,
}, async () => {
  const { page, errors } = await dashboard();
  if (!accepted) {
    // Before the case is accepted the round has nothing to export: the server's 409 in the message bar, one line.
    await page.click('#export-start');
    await page.waitForSelector('#message[data-kind="error"]:not([hidden])', { timeout: 30_000 });
    assert.match((await page.textContent('#message-text')) ?? '', /^round 1 of clinic has no accepted case$/);
    assert.ok(!(await page.isDisabled('#export-start')), 'Export can be tried again');
    await acceptCase();
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.pageState === 'ready', undefined, { timeout: 60_000 });
  }
  assert.deepEqual(await page.locator('#export-format option').evaluateAll((os: any[]) => os.map((o) => o.value)), [
    'medsam2-npz',
    'nifti',
    'dicom-seg',
  ]);
  assert.equal(await page.inputValue('#export-round'), '1');
  await page.selectOption('#export-format', 'dicom-seg');
  await page.click('#export-start');
  await page.waitForFunction(
    () =>
      /done|failed|cancelled/.test(document.getElementById('export-state')?.dataset.status ?? '') ||
      document.body.dataset.pageState === 'error',
    undefined,
    { timeout: 120_000 },
  );
  assert.equal(await page.getAttribute('#export-state', 'data-status'), 'done', (await page.textContent('#message')) ?? '');
  assert.match((await page.textContent('#export-state')) ?? '', /round 1, dicom-seg: done — 2 files/);
  await shot(page, 'projseg-3-dashboard-export');
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('#export-download')]);
  assert.equal(download.suggestedFilename(), `${P}-round1-dicom-seg.zip`);
  const path = join(tmp, download.suggestedFilename());
  await download.saveAs(path);
  const files = unzipSync(new Uint8Array(readFileSync(path)));
  const root = `${P}-round1`;
  assert.deepEqual(Object.keys(files).sort(), [`${root}/${caseName}.seg.dcm`, `${root}/manifest.json`].sort());
  const manifest = JSON.parse(new TextDecoder().decode(files[`${root}/manifest.json`]));
  assert.deepEqual(
    manifest.cases.map((x: { case: string; acceptedVersion: number }) => [x.case, x.acceptedVersion]),
    [[caseName, 0]],
  );
  const seg = readSeg({ name: 'export.seg.dcm', bytes: files[`${root}/${caseName}.seg.dcm`]! }, ct);
  assert.deepEqual(
    seg.segments.map((x) => x.label),
    ['liver'],
  );
  const m = seg.mask(1);
  let wrong = 0;
  for (let i = 0; i < m.length; i++) if (m[i] !== map[i]) wrong++;
  assert.equal(wrong, 0, `${wrong} voxels of the exported SEG differ from the accepted version`);
  assert.match((await page.textContent('#message')) ?? '', /downloaded clinic-round1-dicom-seg\.zip/);
  assert.deepEqual(errors, []);
});

test('Send to PACS from the dashboard (the round) and the review page (version B): SEGs in Orthanc, the sends listed on the case', {
  skip: skip || skipWithoutOrthanc(),
  timeout: 300_000,
}, async () => {
  await acceptCase();
  const pacs = gate!.dicomweb;
  const segSeries = async () =>
    (await searchSeries(orthanc!.dicomweb, studyUid, { Modality: 'SEG' })).map((x) => jsonValue(x, '0020000E')!);
  const { page, errors } = await dashboard();
  assert.ok(!(await page.isDisabled('#send-round-pacs')));
  assert.match((await page.getAttribute('#send-round-pacs', 'title')) ?? '', new RegExp(`at ${pacs}`));
  await page.click('#send-round-pacs');
  await page.waitForSelector('#message:not([hidden])', { timeout: 60_000 });
  assert.equal(await page.textContent('#message-text'), `sent 1 DICOM SEG of round 1 to the PACS at ${pacs}`);
  assert.equal((await segSeries()).length, 1, 'Orthanc holds the round send');
  await shot(page, 'projseg-4-dashboard-sent-to-pacs');
  assert.deepEqual(errors, []);

  const c = encodeURIComponent(caseName);
  const rev = await openApp(browser, server.url, `/projects.html#/p/${P}/review/${c}`);
  await rev.page.waitForFunction(() => /ready|error/.test(document.body.dataset.pageState ?? ''), undefined, { timeout: 180_000 });
  assert.equal(await rev.page.evaluate(() => document.body.dataset.pageState), 'ready', (await rev.page.textContent('#message')) ?? '');
  assert.equal(await rev.page.locator('#pacs-sends li').count(), 1, 'the round send is listed on the case');
  assert.ok(!(await rev.page.isDisabled('#review-send-pacs')));
  await rev.page.click('#review-send-pacs');
  await rev.page.waitForFunction(() => document.querySelectorAll('#pacs-sends li').length === 2, undefined, { timeout: 60_000 });
  const series = await segSeries();
  assert.equal(series.length, 2, 'Orthanc holds both sends');
  const sops = (await Promise.all(series.map((u) => searchInstances(orthanc!.dicomweb, studyUid, u))))
    .flat()
    .map((x) => jsonValue(x, '00080018')!);
  const listed = await rev.page.locator('#pacs-sends li').allTextContents();
  for (const sop of sops)
    assert.ok(
      listed.some((l) => l.includes(sop)),
      `SOP ${sop} in Orthanc is listed: ${listed.join(' | ')}`,
    );
  assert.match(listed[1]!, /^v0 by local, /);
  assert.match(
    (await rev.page.textContent('#message-text')) ?? '',
    new RegExp(`sent v0 to the PACS at ${pacs} as SEG (${sops.map((x) => x.replace(/\./g, '\\.')).join('|')})$`),
  );
  await shot(rev.page, 'projseg-5-review-sent-to-pacs');
  assert.deepEqual(rev.errors, []);
});

test("the Export card follows a round send to the PACS and Cancel send stops it after the SEG on its way: bar and text advance, the job's sends equal Orthanc's", {
  skip: skip || skipWithoutOrthanc(),
  timeout: 300_000,
}, async () => {
  await acceptCase();
  // Two more accepted DICOM cases in round 1 (4 and 5 slices of the series: other uploads), a box on slices 1–3.
  const [nx, ny] = ct.dims;
  const added: string[] = [];
  for (const n of [4, 5]) {
    const series = seriesWithUids(SERIES, n);
    const members: Record<string, Uint8Array> = {};
    for (const f of series.files) members[`ct/${f.split('/').pop()}`] = readFileSync(f);
    rmSync(series.dir, { recursive: true, force: true });
    const up = await api('POST', `/uploads?name=ct${n}.zip`, zipSync(members, { level: 1 }));
    const name = (await api('POST', `/projects/${P}/cases`, { uploadIds: [up.id], mode: 'manual' }))[0].name as string;
    const labels = new Uint8Array(nx * ny * n);
    for (let z = 1; z <= 3; z++) for (let y = 199; y <= 374; y++) for (let x = 107; x <= 278; x++) labels[z * nx * ny + y * nx + x] = 1;
    const c = `/projects/${P}/cases/${encodeURIComponent(name)}`;
    await api('POST', `${c}/claim`);
    await api('POST', `${c}/versions`, { baseVersion: -1, labelsRle: { dims: [nx, ny, n], rle: encodeRle(labels, n * ny, nx) } });
    await api('POST', `${c}/submit`);
    await api('POST', `${c}/review`, { verdict: 'accept' }, server.tokens.rex);
    added.push(name);
  }
  const orthancSegs = async () => {
    const out = new Map<string, string[]>();
    for (const x of await searchSeries(orthanc!.dicomweb, studyUid, { Modality: 'SEG' })) {
      const u = jsonValue(x, '0020000E')!;
      out.set(
        u,
        (await searchInstances(orthanc!.dicomweb, studyUid, u)).map((i) => jsonValue(i, '00080018')!),
      );
    }
    return out;
  };
  const segsBefore = (await orthancSegs()).size;
  const stows = gate!.arrived;
  // The gate holds every STOW until the test passes it: what is on its way at each step is known, with no timing.
  gate!.hold();
  const { page, errors } = await dashboard();
  const bar = () => page.evaluate(() => (document.getElementById('pacs-progress') as { value: number }).value);
  const stateText = async (re: RegExp) => {
    await page.waitForFunction((src: string) => new RegExp(src).test(document.getElementById('pacs-state')?.textContent ?? ''), re.source, {
      timeout: 60_000,
    });
    return (await page.textContent('#pacs-state')) ?? '';
  };
  await page.click('#send-round-pacs');
  await gate!.waitArrived(stows + 1);
  assert.equal(await stateText(/running 0 %/), 'PACS send of round 1: running 0 % — 0 SEGs sent');
  assert.equal(await bar(), 0);
  assert.ok(await page.isVisible('#pacs-cancel'), 'Cancel send shows while the job runs');
  assert.ok(await page.isDisabled('#send-round-pacs'), 'no second send meanwhile');
  await gate!.pass(1);
  // The second STOW at the gate: the first case is sent and recorded; the card shows it.
  await gate!.waitArrived(stows + 2);
  assert.equal(await stateText(/1 SEG sent/), 'PACS send of round 1: running 33 % — 1 SEG sent');
  assert.ok(Math.abs((await bar()) - 1 / 3) < 1e-6, `the bar at a third: ${await bar()}`);
  await shot(page, 'projseg-6-pacs-send-running');
  // A zip export of the round started now waits queued behind the send (one project-export lane).
  const exportState = (status: string) =>
    page.waitForFunction((s: string) => document.getElementById('export-state')?.dataset.status === s, status, { timeout: 120_000 });
  await page.selectOption('#export-format', 'dicom-seg');
  await page.click('#export-start');
  await exportState('queued');
  // A reload while the send runs (the second SEG still at the gate): the card finds the project's send and
  // its export and shows them as before, count, Cancel send and the export's state included; the rest of
  // the test goes on on this page.
  await page.reload();
  await page.waitForFunction(() => document.body.dataset.pageState === 'ready', undefined, { timeout: 60_000 });
  assert.equal(await stateText(/1 SEG sent/), 'PACS send of round 1: running 33 % — 1 SEG sent');
  assert.ok(Math.abs((await bar()) - 1 / 3) < 1e-6, `the bar at a third after the reload: ${await bar()}`);
  assert.ok(await page.isVisible('#pacs-cancel'), 'Cancel send shows after the reload');
  assert.ok(await page.isDisabled('#send-round-pacs'), 'no second send after the reload either');
  await exportState('queued');
  assert.equal(await page.textContent('#export-state'), 'round 1, dicom-seg: queued 0 %', 'the export found after the reload');
  assert.equal(await page.inputValue('#export-format'), 'dicom-seg', "the format picker says the job's format");
  assert.ok(await page.isDisabled('#export-start'), 'no second export while it waits');
  assert.ok(await page.isHidden('#export-download'));
  await shot(page, 'projseg-6b-pacs-send-after-reload');

  await page.click('#pacs-cancel');
  // Cancelled while the second SEG is on its way: the card waits for it.
  assert.equal(await stateText(/stopping/), 'PACS send of round 1: cancelled, stopping after the SEG on its way — 1 SEG sent');
  assert.ok(await page.isHidden('#pacs-cancel'));
  await gate!.open();
  assert.equal(await stateText(/cancelled — /), 'PACS send of round 1: cancelled — 2 SEGs sent');
  assert.equal(await page.getAttribute('#pacs-state', 'data-status'), 'cancelled');
  assert.ok(!(await page.isDisabled('#send-round-pacs')), 'Send round to PACS can be pressed again');
  await page.waitForSelector('#message:not([hidden])', { timeout: 30_000 });
  assert.equal(
    await page.textContent('#message-text'),
    `cancelled by local: sent 2 DICOM SEGs of round 1 to the PACS at ${gate!.dicomweb} before it stopped`,
  );
  await shot(page, 'projseg-7-pacs-send-cancelled');
  assert.equal(gate!.arrived, stows + 2, 'nothing was sent after the cancel');
  // The export picked up after the reload runs once the send has stopped; the card follows it to done and offers the zip.
  await exportState('done');
  assert.equal(await page.textContent('#export-state'), 'round 1, dicom-seg: done — 4 files');
  await shot(page, 'projseg-8-export-after-reload-done');
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.click('#export-download')]);
  assert.equal(download.suggestedFilename(), `${P}-round1-dicom-seg.zip`);
  const zipPath = join(tmp, 'after-reload.zip');
  await download.saveAs(zipPath);
  assert.deepEqual(
    Object.keys(unzipSync(new Uint8Array(readFileSync(zipPath)))).sort(),
    [caseName, ...added]
      .map((n) => `${P}-round1/${n}.seg.dcm`)
      .concat(`${P}-round1/manifest.json`)
      .sort(),
  );

  // The job's sends, as recorded on the cases and listed in its result, are what Orthanc holds: one SEG each.
  const job = (await api('GET', '/jobs')).filter((j: { kind: string }) => j.kind === 'send-to-pacs').at(-1);
  assert.equal(job.status, 'cancelled');
  assert.equal(job.result.stopped, true);
  assert.equal(job.result.sent.length, 2);
  const segs = await orthancSegs();
  assert.equal(segs.size, segsBefore + 2, 'two SEG series more in Orthanc');
  const recorded: string[] = [];
  for (const name of [caseName, ...added]) {
    const sends = (await api('GET', `/projects/${P}/cases/${encodeURIComponent(name)}`)).pacsSends.filter(
      (x: { jobId?: string }) => x.jobId === job.id,
    );
    assert.ok(sends.length <= 1, `${name}: at most one send by the job`);
    for (const x of sends) {
      recorded.push(x.sopInstanceUid);
      assert.deepEqual(segs.get(x.seriesInstanceUid), [x.sopInstanceUid], `${name}: Orthanc holds the recorded SEG, one instance`);
    }
  }
  assert.deepEqual(recorded.sort(), job.result.sent.map((x: { sopInstanceUid: string }) => x.sopInstanceUid).sort());
  assert.deepEqual(errors, []);
});
