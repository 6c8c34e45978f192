/**
 * Send to PACS against a real Orthanc on 127.0.0.1 (test/dicom/orthanc.ts): the server started
 * with `dicomweb.stowUrl` = Orthanc's DICOMweb root, a project with a DICOM case (6 slices of the
 * shared CT series given UIDs by dcmodify, also stored in Orthanc as the PACS would hold it) and a
 * PNG case, label versions written through the API (no model run). An annotator may not send
 * (403); the reviewer sends v0 of the DICOM case and Orthanc then holds one SEG series in the
 * source study (QIDO), whose instance (WADO) our SEG reader puts back on the series voxel for
 * voxel, referencing the source series; the send is recorded on the case (who, version, UIDs).
 * The round send is a job (GET /jobs/{id}): it stores each accepted DICOM case's accepted version
 * and skips the PNG case with why; a second DICOM case whose image is then removed makes the next
 * round job fail part way with one line, the case sent before it staying sent and recorded; a
 * cancelled round job leaves every send it lists recorded; a server stopped while a cancelled send
 * waited for its SEG ends that job cancelled and stopped after the restart, nothing re-sent. The PNG case alone is a 409. With Orthanc stopped a send is a 502 naming the PACS in one line and nothing is
 * recorded.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { readSeg } from '../../src/io/dicom/segRead.js';
import { jsonValue, retrieveSeries, searchInstances, searchSeries, storeInstances } from '../../src/io/dicomweb/client.js';
import { readVolume } from '../../src/io/readVolume.js';
import { stowConfig } from '../../src/cli/commands/serve.js';
import { defaultConfig } from '../../src/server/config.js';
import type { HttpError } from '../../src/server/httpError.js';
import { pacsTarget, stowToPacs } from '../../src/server/projects/pacs.js';
import { encodeRle } from '../../src/server/rle.js';
import { seriesWithUids, skipWithoutTools } from '../dicom/dicomTools.js';
import { skipWithoutOrthanc, startOrthanc } from '../dicom/orthanc.js';
import { startStowGate } from '../dicom/stowGate.js';
import { ROOT } from '../helpers/cli.js';
import { call, type Res, startTestServer } from './harness.js';

const SERIES = join(ROOT, '../shared/data/dicom/ct-series');
const skip = (!existsSync(SERIES) && `../shared/data/dicom is absent (${SERIES})`) || skipWithoutTools('dcmodify') || skipWithoutOrthanc();
if (skip) process.stdout.write(`# skipping the project Send to PACS test: ${skip}\n`);

const why = (r: Res): string => (r.status >= 400 ? JSON.stringify(r.body) : `${r.status}`);

function tinyPng(): Uint8Array {
  const png = new PNG({ width: 16, height: 12 });
  for (let i = 0; i < png.data.length; i += 4) png.data.fill(i % 251, i, i + 3).fill(255, i + 3, i + 4);
  return new Uint8Array(PNG.sync.write(png));
}

test('Send to PACS: a DICOM case version STOWed to a real Orthanc as a SEG on its series, recorded on the case; round send; PACS down is a 502', {
  skip,
  timeout: 300_000,
}, async () => {
  const orthanc = await startOrthanc();
  // The server's PACS is Orthanc through a gate that holds STOWs when told (the cancel and the restart below).
  const gate = await startStowGate(orthanc.dicomweb);
  const pacs = gate.dicomweb;
  const src = seriesWithUids(SERIES, 6);
  let s: Awaited<ReturnType<typeof startTestServer>> | undefined;
  const cleanup: string[] = [];
  try {
    await storeInstances(
      orthanc.dicomweb,
      src.files.map((f) => new Uint8Array(readFileSync(f))),
    );
    s = await startTestServer({ requireAuth: true, dicomweb: { stowUrl: pacs } });
    let url = s.url;
    const boss = await s.user('boss', 'admin');
    const ann = await s.user('ann', 'annotator');
    const ok = async (token: string, method: string, path: string, body?: unknown, status = 200) => {
      const r = await call(url, method, path, { token, body });
      assert.equal(r.status, status, `${method} ${path}: ${why(r)}`);
      return r.body;
    };
    const members: Record<string, Uint8Array> = {};
    for (const f of src.files) members[`ct/${f.split('/').pop()}`] = readFileSync(f);
    const dicom = await ok(boss, 'POST', '/uploads?name=ct.zip', zipSync(members, { level: 1 }), 201);
    const pic = await ok(boss, 'POST', '/uploads?name=pic.png', tinyPng(), 201);
    await ok(boss, 'POST', '/projects', { name: 'pacs', labels: [{ value: 1, name: 'liver', colour: '#dd8844' }] }, 201);
    await ok(boss, 'PUT', '/projects/pacs/members/ann', { role: 'annotator' });
    const [ctCase, picCase] = (await ok(boss, 'POST', '/projects/pacs/cases', { uploadIds: [dicom.id, pic.id], mode: 'manual' }, 201)).map(
      (c: { name: string }) => c.name,
    ) as [string, string];
    const C = (name: string) => `/projects/pacs/cases/${encodeURIComponent(name)}`;
    assert.equal((await ok(ann, 'GET', '/projects/pacs')).pacs, pacs, 'the dashboard learns the PACS');

    const ct = await readVolume(src.dir);
    const [nx, ny, nz] = ct.dims;
    assert.equal(nz, 6);
    const map = new Uint8Array(nx * ny * nz);
    for (let z = 2; z <= 4; z++) for (let y = 199; y <= 374; y++) for (let x = 107; x <= 278; x++) map[z * nx * ny + y * nx + x] = 1;
    const save = async (name: string, dims: number[], m: Uint8Array) => {
      await ok(ann, 'POST', `${C(name)}/claim`);
      await ok(
        ann,
        'POST',
        `${C(name)}/versions`,
        { baseVersion: -1, labelsRle: { dims, rle: encodeRle(m, dims[2]! * dims[1]!, dims[0]!) } },
        201,
      );
      await ok(ann, 'POST', `${C(name)}/submit`);
    };
    await save(ctCase, ct.dims, map);
    await save(picCase, [16, 12, 1], new Uint8Array(16 * 12).fill(1, 20, 60));

    // ---- one version: annotators may not send; the reviewer's send lands in the source study ----
    const denied = await call(url, 'POST', `${C(ctCase)}/versions/0/send-to-pacs`, { token: ann });
    assert.equal(denied.status, 403, why(denied));
    const sent = await ok(boss, 'POST', `${C(ctCase)}/versions/0/send-to-pacs`);
    assert.equal(sent.version, 0);
    assert.equal(sent.sentBy, 'boss');
    assert.equal(sent.studyInstanceUid, src.studyUid);
    const segs = await searchSeries(orthanc.dicomweb, src.studyUid, { Modality: 'SEG' });
    assert.deepEqual(
      segs.map((x) => jsonValue(x, '0020000E')),
      [sent.seriesInstanceUid],
      'Orthanc holds the one SEG series in the source study',
    );
    const instances = await searchInstances(orthanc.dicomweb, src.studyUid, sent.seriesInstanceUid);
    assert.deepEqual(
      instances.map((x) => jsonValue(x, '00080018')),
      [sent.sopInstanceUid],
    );
    const [stored] = await retrieveSeries(orthanc.dicomweb, src.studyUid, sent.seriesInstanceUid);
    const seg = readSeg(stored!, ct);
    assert.equal(seg.referencedSeriesUid, src.seriesUid);
    assert.deepEqual(
      seg.segments.map((x) => x.label),
      ['liver'],
    );
    const back = seg.mask(1);
    let wrong = 0;
    for (let i = 0; i < back.length; i++) if (back[i] !== map[i]) wrong++;
    assert.equal(wrong, 0, `${wrong} voxels of the SEG in Orthanc differ from version 0`);

    const detail = await ok(ann, 'GET', C(ctCase));
    assert.equal(detail.pacs, pacs);
    assert.deepEqual(
      detail.pacsSends.map((x: Record<string, unknown>) => [x.version, x.sentBy, x.pacs, x.sopInstanceUid, x.seriesInstanceUid, x.jobId]),
      [[0, 'boss', pacs, sent.sopInstanceUid, sent.seriesInstanceUid, undefined]],
    );
    assert.equal(detail.pacsSends[0].sentAt, sent.sentAt);

    // ---- a PNG case has no series to reference: 409 ----
    const png = await call(url, 'POST', `${C(picCase)}/versions/0/send-to-pacs`, { token: boss });
    assert.equal(png.status, 409, why(png));
    assert.match(png.body.error, /not a DICOM series/);

    // ---- the round, a job: the accepted DICOM cases are sent, the PNG case skipped with why ----
    // The first 5 slices of the same series (other bytes, so another upload blob).
    const src2 = seriesWithUids(SERIES, 5);
    cleanup.push(src2.dir);
    const members2: Record<string, Uint8Array> = {};
    for (const f of src2.files) members2[`ct/${f.split('/').pop()}`] = readFileSync(f);
    const dicom2 = await ok(boss, 'POST', '/uploads?name=zz-ct.zip', zipSync(members2, { level: 1 }), 201);
    const [zzCase] = (await ok(boss, 'POST', '/projects/pacs/cases', { uploadIds: [dicom2.id], mode: 'manual' }, 201)).map(
      (c: { name: string }) => c.name,
    ) as [string];
    await save(zzCase, [nx, ny, 5], map.subarray(0, nx * ny * 5));
    for (const name of [ctCase, picCase, zzCase]) await ok(boss, 'POST', `${C(name)}/review`, { verdict: 'accept' });
    const segCount = async () => (await searchSeries(orthanc.dicomweb, src.studyUid, { Modality: 'SEG' })).length;
    const sendsOf = async (name: string) => (await ok(ann, 'GET', C(name))).pacsSends.length as number;
    /** Polls a job until it ends (GET /jobs/{id}); a cancelled PACS send until its result says it stopped. */
    const ended = async (jobId: string) => {
      let j: any;
      for (let i = 0; i < 1200; i++) {
        j = await ok(boss, 'GET', `/jobs/${jobId}`);
        if (!['queued', 'running'].includes(j.status) && !(j.status === 'cancelled' && j.result?.stopped === false)) return j;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`job ${jobId} did not end (or a cancelled one did not say stopped): ${JSON.stringify(j)}`);
    };
    /** Starts the round's send job and polls it until it ends. */
    const roundJob = async () => ended((await ok(boss, 'POST', '/projects/pacs/send-to-pacs', { round: 1 }, 202)).jobId);
    const done = await roundJob();
    assert.equal(done.status, 'done', JSON.stringify(done));
    assert.equal(done.kind, 'send-to-pacs');
    assert.equal(done.project, 'pacs');
    assert.equal(done.progress, 1);
    assert.equal(done.result.pacs, pacs);
    assert.equal(done.result.stopped, true);
    assert.deepEqual(done.result.sent.map((x: { case: string; version: number; sentBy: string }) => [x.case, x.version, x.sentBy]).sort(), [
      [ctCase, 0, 'boss'],
      [zzCase, 0, 'boss'],
    ]);
    assert.deepEqual(
      done.result.skipped.map((x: { case: string }) => x.case),
      [picCase],
    );
    assert.match(done.result.skipped[0].why, /png, not a DICOM series/);
    assert.equal(await segCount(), 3, 'two more SEG series in the study');
    assert.equal(await sendsOf(ctCase), 2);
    assert.equal(await sendsOf(zzCase), 1);
    assert.ok(
      (await ok(boss, 'GET', '/jobs')).some((j: { id: string; kind: string }) => j.id === done.id && j.kind === 'send-to-pacs'),
      'listed by GET /jobs',
    );

    const order = done.result.sent.map((x: { case: string }) => x.case) as string[];
    const [first, second] = order as [string, string];

    // ---- a restart mid-round: the resumed job sends only the case it had not recorded; each case holds one SEG from it ----
    const segInstances = async () => {
      const series = (await searchSeries(orthanc.dicomweb, src.studyUid, { Modality: 'SEG' })).map((x) => jsonValue(x, '0020000E')!);
      const out = new Map<string, number>();
      for (const u of series) out.set(u, (await searchInstances(orthanc.dicomweb, src.studyUid, u)).length);
      return out;
    };
    const instancesBefore = [...(await segInstances()).values()].reduce((a, b) => a + b, 0);
    const stows = gate.arrived;
    gate.hold();
    const { jobId: resumed } = await ok(boss, 'POST', '/projects/pacs/send-to-pacs', { round: 1 }, 202);
    await gate.waitArrived(stows + 1);
    await gate.pass(1);
    // The second STOW reached the gate: the first case was sent and recorded (a case is recorded before the next starts).
    await gate.waitArrived(stows + 2);
    const beforeRestart = await ok(boss, 'GET', `/jobs/${resumed}`);
    assert.equal(beforeRestart.status, 'running');
    assert.deepEqual(
      beforeRestart.result.sent.map((x: { case: string }) => x.case),
      [first],
    );
    // The server stops (its database closed) while the second case's SEG is on its way; the PACS then takes
    // that SEG, which the stopped server can no longer record: the window between the STOW and the record.
    await s.shutdown();
    await gate.pass(1);
    await gate.open();
    s = await startTestServer({ dataDir: s.dataDir, requireAuth: true, dicomweb: { stowUrl: pacs } });
    url = s.url;
    const after = await ended(resumed);
    assert.equal(after.status, 'done', JSON.stringify(after));
    assert.equal(gate.arrived, stows + 3, 'after the restart the job sent one SEG: the case not recorded, not the case recorded');
    assert.deepEqual(
      after.result.sent.map((x: { case: string }) => x.case),
      [first, second],
      'the result lists the cases sent before and after the restart',
    );
    assert.deepEqual(after.result.sent[0], beforeRestart.result.sent[0], 'the case sent before the restart, as recorded then');
    assert.equal(after.result.stopped, true);
    const segsNow = await segInstances();
    for (const [i, name] of [first, second].entries()) {
      const mine = (await ok(ann, 'GET', C(name))).pacsSends.filter((x: { jobId?: string }) => x.jobId === resumed);
      assert.equal(mine.length, 1, `${name}: one send recorded for the job`);
      assert.equal(mine[0].sopInstanceUid, after.result.sent[i].sopInstanceUid);
      assert.equal(segsNow.get(after.result.sent[i].seriesInstanceUid), 1, `${name}: Orthanc holds exactly one SEG instance from the job`);
    }
    assert.equal(
      [...segsNow.values()].reduce((a, b) => a + b, 0),
      instancesBefore + 2,
      'the job added one SEG instance per case to the PACS',
    );

    // ---- a failure part way: the case sent before it stays sent, recorded and listed; the job fails with one line ----
    const sendsBefore = new Map([
      [first, await sendsOf(first)],
      [second, await sendsOf(second)],
    ]);
    const secondUpload = second === zzCase ? dicom2 : dicom;
    rmSync(join(s.dataDir, 'blobs', secondUpload.sha256.slice(0, 2), secondUpload.sha256));
    const failed = await roundJob();
    assert.equal(failed.status, 'failed', JSON.stringify(failed));
    assert.match(failed.error, new RegExp(`the image of case ${second} is not on this server`));
    assert.doesNotMatch(failed.error, /\n/);
    assert.deepEqual(
      failed.result.sent.map((x: { case: string }) => x.case),
      [first],
    );
    assert.equal(await sendsOf(first), sendsBefore.get(first)! + 1, 'the case sent before the failure is recorded');
    assert.equal(await sendsOf(second), sendsBefore.get(second), 'the failed case is not');
    assert.equal(failed.result.stopped, true);

    // ---- a cancel (DELETE /jobs/{id}) while the first SEG is on its way: that one is sent, recorded and listed, nothing after it ----
    const before = await sendsOf(first);
    const stowsBefore = gate.arrived;
    gate.hold();
    const { jobId } = await ok(boss, 'POST', '/projects/pacs/send-to-pacs', { round: 1 }, 202);
    await gate.waitArrived(stowsBefore + 1);
    const cancelled = await ok(boss, 'DELETE', `/jobs/${jobId}`);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.result.stopped, false, 'cancelled, not stopped yet: a SEG is on its way');
    await gate.open();
    const stopped = await ended(jobId);
    assert.equal(stopped.status, 'cancelled');
    assert.equal(stopped.result.stopped, true);
    assert.deepEqual(
      stopped.result.sent.map((x: { case: string }) => x.case),
      [first],
      'the SEG on its way at the cancel is listed',
    );
    assert.equal(await sendsOf(first), before + 1, 'and recorded');
    assert.equal(gate.arrived, stowsBefore + 1, 'nothing after the cancel is sent');

    // ---- a cancel while the round's last (here: only) case is on its way: that case goes, and the job says stopped ----
    const firstUpload = second === zzCase ? dicom : dicom2;
    const [lastCase] = (await ok(boss, 'POST', '/projects/pacs/cases', { uploadIds: [firstUpload.id], mode: 'manual', round: 3 }, 201)).map(
      (c: { name: string }) => c.name,
    ) as [string];
    await save(lastCase, first === ctCase ? ct.dims : [nx, ny, 5], first === ctCase ? map : map.subarray(0, nx * ny * 5));
    await ok(boss, 'POST', `${C(lastCase)}/review`, { verdict: 'accept' });
    gate.hold();
    const { jobId: lastJob } = await ok(boss, 'POST', '/projects/pacs/send-to-pacs', { round: 3 }, 202);
    await gate.waitArrived(stowsBefore + 2);
    assert.equal((await ok(boss, 'DELETE', `/jobs/${lastJob}`)).result.stopped, false);
    await gate.open();
    const lastEnded = await ended(lastJob);
    assert.deepEqual(
      [lastEnded.status, lastEnded.result.stopped, lastEnded.result.sent.map((x: { case: string }) => x.case)],
      ['cancelled', true, [lastCase]],
    );
    assert.equal(await sendsOf(lastCase), 1);

    // ---- a restart while a cancelled send still waits for its SEG: after it the job ends cancelled and stopped, nothing re-sent ----
    const stowsAtStop = gate.arrived;
    const firstSends = await sendsOf(first);
    gate.hold();
    const { jobId: stopping } = await ok(boss, 'POST', '/projects/pacs/send-to-pacs', { round: 1 }, 202);
    await gate.waitArrived(stowsAtStop + 1);
    assert.equal((await ok(boss, 'DELETE', `/jobs/${stopping}`)).result.stopped, false, 'cancelled, its SEG on the way');
    // The server stops with that SEG on its way; the PACS then takes it, which the stopped server can no longer record.
    await s.shutdown();
    await gate.pass(1);
    await gate.open();
    s = await startTestServer({ dataDir: s.dataDir, requireAuth: true, dicomweb: { stowUrl: pacs } });
    url = s.url;
    const afterStop = await ended(stopping);
    assert.deepEqual(
      [afterStop.status, afterStop.result.stopped, afterStop.result.sent],
      ['cancelled', true, []],
      'cancelled and stopped, listing the sends recorded for it (none)',
    );
    assert.equal(gate.arrived, stowsAtStop + 1, 'nothing sent again after the restart');
    assert.equal(await sendsOf(first), firstSends, "the case's sends as recorded before the stop");
    assert.equal((await ok(boss, 'GET', `/jobs/${stopping}`)).status, 'cancelled', 'and it stays cancelled (not resumed)');

    // The round route refuses up front what the job could not send: no PACS-able case (a round of PNGs only).
    const nothing = await call(url, 'POST', '/projects/pacs/send-to-pacs', { token: boss, body: { round: 2 } });
    assert.equal(nothing.status, 409, why(nothing));

    // ---- a PACS that answers with an error (here Orthanc under a wrong root): 502 "refused", what it said ----
    const badRoot = { base: `${orthanc.http}/no-dicom-web`, shown: `${orthanc.http}/no-dicom-web`, headers: {} };
    await assert.rejects(stowToPacs(badRoot, new Uint8Array(stored!.bytes), src.studyUid, 'the SEG'), (e: HttpError) => {
      assert.equal(e.status, 502);
      assert.match(e.message, new RegExp(`^PACS at ${badRoot.shown} refused the SEG: HTTP 404`));
      assert.match(e.fix ?? '', /PACS's log/);
      return true;
    });

    // ---- the PACS down: 502 naming it in one line, nothing recorded; a round job fails with that line ----
    const ctSendsBefore = await sendsOf(ctCase);
    await orthanc.stop();
    await gate.close();
    const downRound = await roundJob();
    assert.equal(downRound.status, 'failed');
    assert.match(downRound.error, new RegExp(`^PACS at ${pacs} cannot be reached for the SEG of case ${first} v0`));
    assert.deepEqual(downRound.result?.sent ?? [], []);
    const down = await call(url, 'POST', `${C(ctCase)}/versions/0/send-to-pacs`, { token: boss });
    assert.equal(down.status, 502, why(down));
    assert.match(
      down.body.error,
      new RegExp(`^PACS at ${pacs} cannot be reached for the SEG of case ${ctCase} v0: fetch failed \\(connect ECONNREFUSED`),
    );
    assert.doesNotMatch(down.body.error, /\n/);
    assert.match(down.body.fix, /--stow-url/);
    assert.equal(await sendsOf(ctCase), ctSendsBefore, 'a failed send is not recorded');
  } finally {
    await s?.stop();
    await gate.close();
    await orthanc.stop();
    rmSync(src.dir, { recursive: true, force: true });
    for (const d of cleanup) rmSync(d, { recursive: true, force: true });
  }
});

test('--stow-url: a DICOMweb root (dicomweb:// or http), never a study; credentials in the URL become Basic auth and never show', () => {
  assert.deepEqual(stowConfig('dicomweb://pacs:8042/dicom-web/'), { stowUrl: 'http://pacs:8042/dicom-web' });
  assert.deepEqual(stowConfig('https://pacs/dicom-web', ' Bearer t0k '), {
    stowUrl: 'https://pacs/dicom-web',
    authorization: 'Bearer t0k',
  });
  assert.throws(() => stowConfig('http://pacs/dicom-web/studies/1.2.3'), /names a study.*service root/);
  assert.throws(() => stowConfig('pacs:8042'), /not a DICOMweb URL/);
  const config = { ...defaultConfig('/nowhere'), dicomweb: stowConfig('http://ann:s%3Acret@pacs:8042/dicom-web') };
  const t = pacsTarget(config)!;
  assert.equal(t.shown, 'http://pacs:8042/dicom-web');
  assert.equal(t.base, 'http://pacs:8042/dicom-web');
  assert.deepEqual(t.headers, { Authorization: `Basic ${Buffer.from('ann:s:cret').toString('base64')}` });
  assert.equal(pacsTarget(defaultConfig('/nowhere')), undefined);
});
