/**
 * The project pages' pure logic, without a browser: the review page's diff overlay (cross-checked
 * against the library's Dice on the shared CT-lesion reference mask), reading a version's label
 * map from the npz the server writes (voxel order byte-exact against src/io), the dashboard's
 * numbers, the interaction log's batching (nothing lost when a send fails), the routes, the
 * person-facing errors, and when Send to PACS is disabled and why.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodeNpzMask, parseNpzMask } from '../../src/io/npzCase.js';
import { dice } from '../../src/metrics/dice.js';
import { describeError } from '../../web/src/projects/actionableError.js';
import { isDicomCase, NO_PACS, pacsSendBlocker } from '../../web/src/projects/dicomCase.js';
import { busiestSlice, DIFF_BOTH, DIFF_ONLY_A, DIFF_ONLY_B, diceOf, diffCodes, sliceMaskOf } from '../../web/src/projects/diffOverlay.js';
import { InteractionLog, type InteractionEvent } from '../../web/src/projects/interactionLog.js';
import { labelMapFromNpz } from '../../web/src/projects/labelMapFile.js';
import { formatSeconds, personTable, statusSegments } from '../../web/src/projects/progressModel.js';
import { annotateUrl, caseFromQuery, parseRoute, routeHash, type Route } from '../../web/src/projects/router.js';
const CT_LESION = fileURLToPath(new URL('../../../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz', import.meta.url));

const noData = existsSync(CT_LESION) ? false : `../shared/data is absent (${CT_LESION})`;

/** The reference lesion mask shifted by `dx` columns (a plausible "correction"). */
function shifted(m: Uint8Array, dims: [number, number, number], dx: number): Uint8Array {
  const out = new Uint8Array(m.length);
  for (let z = 0; z < dims[2]; z++)
    for (let y = 0; y < dims[1]; y++)
      for (let x = 0; x < dims[0]; x++) {
        const sx = x - dx;
        if (sx >= 0 && sx < dims[0]) out[(z * dims[1] + y) * dims[0] + x] = m[(z * dims[1] + y) * dims[0] + sx]!;
      }
  return out;
}

test('diff overlay of two versions of the real CT-lesion mask: codes partition the union, Dice equals the library', {
  skip: noData,
}, () => {
  const ref = parseNpzMask(readFileSync(CT_LESION), 'ct-lesion');
  const a = ref.data as Uint8Array;
  const b = shifted(a, ref.dims, 3);
  const { codes, counts } = diffCodes(a, b);
  const nA = a.reduce((s, v) => s + (v ? 1 : 0), 0);
  const nB = b.reduce((s, v) => s + (v ? 1 : 0), 0);
  assert.ok(nA > 100 && counts.onlyA > 0 && counts.onlyB > 0 && counts.both > 0, JSON.stringify(counts));
  assert.equal(counts.both + counts.onlyA, nA);
  assert.equal(counts.both + counts.onlyB, nB);
  assert.equal(diceOf(counts), dice(a, b));
  for (let i = 0; i < a.length; i++) {
    const want = a[i] && b[i] ? DIFF_BOTH : a[i] ? DIFF_ONLY_A : b[i] ? DIFF_ONLY_B : 0;
    if (codes[i] !== want) assert.fail(`voxel ${i}: code ${codes[i]}, want ${want}`);
  }
  // The slice the review page opens on holds the most changed voxels.
  const z = busiestSlice(codes, ref.dims, [DIFF_ONLY_A, DIFF_ONLY_B]);
  const changed = (zz: number) =>
    sliceMaskOf(codes, ref.dims, zz, DIFF_ONLY_A).reduce((s, v) => s + v, 0) +
    sliceMaskOf(codes, ref.dims, zz, DIFF_ONLY_B).reduce((s, v) => s + v, 0);
  for (let zz = 0; zz < ref.dims[2]; zz++) assert.ok(changed(zz) <= changed(z));
  assert.ok(changed(z) > 0);
});

test('diff overlay: one label only, identical and empty versions, different grids refused', () => {
  const a = Uint8Array.from([0, 1, 2, 2, 0, 1]);
  const b = Uint8Array.from([0, 2, 2, 1, 1, 0]);
  assert.deepEqual([...diffCodes(a, b, 2).codes], [0, DIFF_ONLY_B, DIFF_BOTH, DIFF_ONLY_A, 0, 0]);
  assert.deepEqual([...diffCodes(a, b).codes], [0, DIFF_BOTH, DIFF_BOTH, DIFF_BOTH, DIFF_ONLY_B, DIFF_ONLY_A]);
  assert.equal(diceOf(diffCodes(a, a).counts), 1);
  assert.equal(diceOf(diffCodes(new Uint8Array(4), new Uint8Array(4)).counts), 1);
  assert.equal(busiestSlice(new Uint8Array(8), [2, 2, 2], [1]), -1);
  assert.throws(() => diffCodes(a, new Uint8Array(5)), /different grids/);
});

test('a version label map read from the npz the server writes keeps every voxel in place', { skip: noData }, () => {
  const ref = parseNpzMask(readFileSync(CT_LESION), 'ct-lesion');
  const bytes = encodeNpzMask(ref, 'version.npz');
  const { labels, dims } = labelMapFromNpz(bytes);
  assert.deepEqual(dims, ref.dims);
  assert.deepEqual(Buffer.from(labels), Buffer.from(ref.data as Uint8Array));
  assert.throws(() => labelMapFromNpz(Uint8Array.from([1, 2, 3])), /not a readable \.npz/);
});

test('dashboard numbers: status bar in life-cycle order with shares, person × status table', () => {
  const { total, segments } = statusSegments({ accepted: 1, new: 2, submitted: 1, custom: 0 });
  assert.equal(total, 4);
  assert.deepEqual(
    segments.map((s) => s.status),
    ['new', 'pre_annotated', 'in_progress', 'submitted', 'returned', 'accepted', 'custom'],
  );
  assert.equal(segments[0]!.percent, 50);
  assert.equal(segments.find((s) => s.status === 'accepted')!.percent, 25);
  assert.equal(
    segments.reduce((s, x) => s + x.percent, 0),
    100,
  );
  assert.equal(statusSegments({}).segments[0]!.percent, 0);
  const t = personTable({ bob: { submitted: 2 }, ann: { in_progress: 1, accepted: 3, returned: 0 } });
  assert.deepEqual(t.statuses, ['in_progress', 'submitted', 'accepted']);
  assert.deepEqual(t.rows, [
    { person: 'ann', counts: [1, 0, 3], total: 4 },
    { person: 'bob', counts: [0, 2, 0], total: 2 },
  ]);
  assert.equal(formatSeconds(42.4), '42 s');
  assert.equal(formatSeconds(150), '2.5 min');
  assert.equal(formatSeconds(null), '—');
});

test('interaction log: batches by size, keeps order, and loses nothing when a send fails', async () => {
  const sent: InteractionEvent[][] = [];
  let fail = false;
  let t = 1000;
  const log = new InteractionLog({
    batchSize: 3,
    now: () => t++,
    send: async (ev) => {
      if (fail) throw new Error('server down');
      sent.push(ev);
    },
  });
  log.record('box', 4);
  log.record('positive', 4);
  assert.equal(sent.length, 0);
  log.record('scroll', 5);
  await log.flush();
  assert.deepEqual(sent, [
    [
      { tool: 'box', slice: 4, t: 1000 },
      { tool: 'positive', slice: 4, t: 1001 },
      { tool: 'scroll', slice: 5, t: 1002 },
    ],
  ]);
  fail = true;
  log.record('propagate');
  await assert.rejects(log.flush(), /server down/);
  log.record('undo', null);
  assert.equal(log.waiting, 2);
  fail = false;
  await log.flush();
  assert.deepEqual(sent[1], [
    { tool: 'propagate', t: 1003 },
    { tool: 'undo', t: 1004 },
  ]);
  assert.equal(log.sent, 5);
  assert.equal(log.waiting, 0);
});

test('routes round-trip through the hash, names with slashes and spaces included', () => {
  const routes: Route[] = [
    { page: 'projects' },
    { page: 'dashboard', project: 'liver lesions' },
    { page: 'queue', project: 'p' },
    { page: 'reviews', project: 'p' },
    { page: 'review', project: 'p/x', caseName: 'CT_1 a' },
  ];
  for (const r of routes) assert.deepEqual(parseRoute(routeHash(r)), r);
  assert.deepEqual(parseRoute(''), { page: 'projects' });
  assert.deepEqual(parseRoute('#/p/%E0%A4%A'), { page: 'dashboard', project: '%E0%A4%A' });
  assert.deepEqual(caseFromQuery(new URL(annotateUrl('p 1', 'c&d'), 'http://x/').search), { project: 'p 1', caseName: 'c&d' });
  assert.equal(caseFromQuery('?project=p'), undefined);
});

/** As web/src/api.ts's ApiError (that file needs the DOM types this test program does not load). */
class ApiError extends Error {
  constructor(
    message: string,
    readonly fix: string | undefined,
    readonly status: number,
  ) {
    super(message);
  }
}

test('errors become one line and one action a person can take', () => {
  assert.deepEqual(describeError(new ApiError('invalid token', undefined, 401)).action, 'sign-in');
  assert.match(describeError(new ApiError('invalid token', undefined, 401)).message, /token expired or wrong — sign in again/);
  const c = describeError(new ApiError('case c is at version 2, this save was based on version 1', 'reload', 409));
  assert.equal(c.action, 'reload');
  assert.match(c.message, /at version 2, this save was based on version 1/);
  assert.equal(describeError(new ApiError('no project x', undefined, 404)).action, 'back');
  assert.match(describeError(new ApiError('x', undefined, 0)).message, /cannot be reached/);
  assert.equal(describeError(new Error('boom'), 'saving').message, 'saving failed: boom');
});

test('Send to PACS: only a DICOM case on a server with a PACS; otherwise the tooltip says why', () => {
  const pacs = 'http://pacs:8042/dicom-web';
  assert.equal(pacsSendBlocker({ sourceFormat: 'dicom-zip' }, pacs), null);
  assert.equal(pacsSendBlocker({ sourceFormat: 'dicom-zip' }, null), NO_PACS);
  assert.match(NO_PACS, /no PACS configured.*--stow-url/);
  // A non-DICOM case says what its image is, PACS or not.
  for (const p of [pacs, null]) {
    assert.match(pacsSendBlocker({ sourceFormat: 'png' }, p) ?? '', /image is png: a DICOM SEG needs the DICOM series/);
    assert.match(pacsSendBlocker({ sourceFormat: null }, p) ?? '', /image is not a DICOM series/);
  }
  assert.deepEqual(
    ['dicom-zip', 'nifti', undefined].map((f) => isDicomCase({ sourceFormat: f })),
    [true, false, false],
  );
});
