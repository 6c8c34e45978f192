import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import SwaggerParser from '@apidevtools/swagger-parser';
import { buildZip } from '../../src/io/zip.js';
import { MedsamError } from '../../src/common/errors.js';
import { readVolumeBytes } from '../../src/io/volumeBytes.js';
import { readerSeeds } from '../../scripts/fuzz/readerSeeds.js';
import { caseInput } from '../../scripts/fuzz/runCase.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { readVolume } from '../../src/io/readVolume.js';
import { dice } from '../../src/metrics/dice.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import type { OpenSession } from '../../src/server/sessions/sessionManager.js';
import { CT_LESION, SHARED_SKIP, call, croppedLesion, errorShape, startTestServer, type TestServer } from './harness.js';
import { LEGACY_SWEEP_MARKER } from '../../src/server/store/legacyCheckpoints.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

/** These tests need no interactive Session; one that is opened by mistake fails loudly. */
const noSessions: OpenSession = async () => {
  throw new Error('no sessions in this test');
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe('medsam2 serve: API surface on a real loopback server', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer({}, noSessions);
  });
  after(async () => {
    await s.stop();
  });

  it('serves /healthz, a valid OpenAPI 3 document, a docs page and Prometheus metrics', async () => {
    const h = await call(s.url, 'GET', '/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'ok');
    const doc = await call(s.url, 'GET', '/openapi.json');
    assert.equal(doc.status, 200);
    const api = (await SwaggerParser.validate(structuredClone(doc.body))) as { openapi: string; paths: Record<string, unknown> };
    assert.match(api.openapi, /^3\./);
    for (const p of [
      '/uploads',
      '/sessions',
      '/sessions/{id}/prompts',
      '/sessions/{id}/propagate',
      '/sessions/{id}/labelmap',
      '/jobs',
      '/jobs/{id}/result',
    ]) {
      assert.ok(api.paths[p], `OpenAPI has ${p}`);
    }
    const docs = await fetch(s.url + '/docs');
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /\/sessions\/\{id\}\/propagate/);
    const m = await fetch(s.url + '/metrics');
    const text = await m.text();
    assert.match(text, /medsam2_http_request_duration_seconds_bucket\{[^}]*route="\/healthz"/);
    assert.match(text, /medsam2_sessions_live/);
  });

  it('answers malformed, unknown and oversized requests with one-line 4xx errors', async () => {
    const bad = await call(s.url, 'POST', '/jobs', { raw: '{"uploadId": ' });
    assert.equal(bad.status, 400);
    assert.match(errorShape(bad), /not valid JSON/);
    const wrongType = await call(s.url, 'POST', '/jobs', { body: { uploadId: 5, policy: 'key-box', axis: 'z' } });
    assert.equal(wrongType.status, 400);
    assert.match(errorShape(wrongType), /invalid request/);
    const extra = await call(s.url, 'POST', '/sessions', { body: { uploadId: 'x', path: '/etc/passwd' } });
    assert.equal(extra.status, 400);
    assert.match(errorShape(extra), /additional properties/);
    const noRoute = await call(s.url, 'GET', '/nope');
    assert.equal(noRoute.status, 404);
    errorShape(noRoute);
    const huge = await call(s.url, 'POST', '/jobs', { raw: JSON.stringify({ uploadId: 'x'.repeat(9 * 1024 * 1024) }) });
    assert.equal(huge.status, 413);
    errorShape(huge);
    const missing = await call(s.url, 'GET', '/sessions/00000000-0000-0000-0000-000000000000');
    assert.equal(missing.status, 404);
    const badFormat = await call(s.url, 'POST', '/uploads?name=notes.txt', { body: new TextEncoder().encode('hello world, not an image') });
    assert.equal(badFormat.status, 415);
    assert.match(errorShape(badFormat), /cannot tell the image format/);
    const empty = await call(s.url, 'POST', '/uploads?name=a.nii', { body: new Uint8Array(0) });
    assert.equal(empty.status, 400);
    errorShape(empty);
    const broken = await call(s.url, 'POST', '/uploads?name=scan.nii.gz', { body: new Uint8Array(gzipSync(new Uint8Array(1000))) });
    assert.equal(broken.status, 400);
    assert.match(errorShape(broken), /upload 'scan\.nii\.gz'/);
    assert.ok(!broken.body.error.includes(s.dataDir), `no server path in messages: ${broken.body.error}`);
    assert.deepEqual(
      filesUnder(s.dataDir).filter((f) => f.includes('/blobs/')),
      [],
      'rejected uploads leave no blob',
    );
  });

  it("refuses fuzzer-mutated uploads with the reader's one-line message and stores nothing", async () => {
    // The first mutations (scripts/fuzzReaders.ts, seed 11) of four formats that the reader refuses.
    const seeds = await readerSeeds();
    const picked: { name: string; bytes: Uint8Array; message: string }[] = [];
    for (const [format, as] of [
      ['nifti', 'nifti'],
      ['nrrd-raw', 'nrrd'],
      ['metaimage', 'metaimage'],
      ['npz', 'npz'],
    ] as const) {
      for (let i = 0; ; i++) {
        const c = caseInput(seeds, 11, i);
        if (c.seed.format !== format) continue;
        try {
          // Read under the upload's name, as the server's message names it.
          readVolumeBytes(c.bytes, `upload '${c.seed.name}'`, { format: as, onWarning: () => {} });
        } catch (e) {
          assert.ok(e instanceof MedsamError, `${format} #${i}: ${e}`);
          // A message cut at its length limit is cut elsewhere on the server (its label is the stored path until rewritten).
          if (/… \(\d+ more characters\)/.test(e.message)) continue;
          picked.push({ name: c.seed.name, bytes: c.bytes, message: e.message });
          break;
        }
      }
    }
    for (const p of picked) {
      const r = await call(s.url, 'POST', `/uploads?name=${p.name}`, { body: p.bytes });
      assert.equal(r.status, 400, `${p.name}: ${JSON.stringify(r.body)}`);
      assert.equal(`${errorShape(r)} — ${r.body.fix}`, p.message);
    }
    assert.deepEqual((await call(s.url, 'GET', '/uploads')).body, [], 'no upload stored');
    assert.deepEqual(
      filesUnder(s.dataDir).filter((f) => f.includes('/blobs/')),
      [],
      'no blob kept',
    );
  });

  it('stores uploads by sha256 only: names are metadata, traversal names reach no path', { skip: SHARED_SKIP }, async () => {
    const bytes = new Uint8Array(readFileSync(CT_LESION));
    const evil = `../../../escape-${process.pid}.npz`;
    const a = await call(s.url, 'POST', `/uploads?name=${encodeURIComponent(evil)}`, { body: bytes });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    assert.deepEqual(a.body.dims, [512, 512, 16]);
    assert.equal(a.body.name, evil);
    const b = await call(s.url, 'POST', `/uploads?name=${encodeURIComponent('..\\..\\x\u0000y.npz')}`, { body: bytes });
    assert.equal(b.status, 201);
    assert.equal(b.body.sha256, a.body.sha256, 'same bytes, same content address');
    assert.notEqual(b.body.id, a.body.id);
    assert.equal(b.body.name, '..\\..\\x_y.npz', 'control characters are replaced');
    for (const p of [resolve(s.dataDir, evil), resolve(s.dataDir, 'blobs', evil), resolve(s.dataDir, 'tmp', evil)])
      assert.equal(existsSync(p), false, p);
    const files = filesUnder(s.dataDir).map((f) => f.slice(s.dataDir.length + 1));
    assert.deepEqual(
      files.filter((f) => f.startsWith('blobs')),
      [`blobs/${a.body.sha256.slice(0, 2)}/${a.body.sha256}`],
    );
    assert.deepEqual(
      files.filter((f) => f.startsWith('tmp')),
      [],
      'no temp files left',
    );
  });

  it('runs a batch job with a prompt policy: the label map matches the CLI pipeline (DSC vs reference)', {
    skip: SHARED_SKIP,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'medsam2-job-'));
    const crop = await croppedLesion(dir);
    const up = await call(s.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
    const job = await call(s.url, 'POST', '/jobs', { body: { uploadId: up.body.id, policy: 'key-box' } });
    assert.equal(job.status, 202, JSON.stringify(job.body));
    let j = job.body;
    for (let i = 0; i < 600 && (j.status === 'queued' || j.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      j = (await call(s.url, 'GET', `/jobs/${j.id}`)).body;
    }
    assert.equal(j.status, 'done', JSON.stringify(j));
    assert.equal(j.resultUrl, `/jobs/${j.id}/result`);
    const res = await call(s.url, 'GET', `${j.resultUrl}?format=nii.gz`);
    assert.equal(res.status, 200);
    try {
      writeFileSync(join(dir, 'labels.nii.gz'), res.body as Uint8Array);
      const labels = await readVolume(join(dir, 'labels.nii.gz'));
      const c = await readNpzCase(crop.path);
      assert.deepEqual(labels.dims, c.image.dims);
      assert.deepEqual(
        labels.spacing.map((v) => +v.toFixed(5)),
        c.image.spacing.map((v) => +v.toFixed(5)),
      );
      const ref = c.label!.data as Uint8Array;
      const prompt = promptFromReference('key-box', { reference: ref, dims: c.image.dims });
      const cli = await segmentVolume(c.image, [prompt], { threads: 2 });
      const dServer = dice(labels.data as ArrayLike<number>, ref);
      const dCli = dice(cli.mask.data as ArrayLike<number>, ref);
      assert.ok(dServer >= dCli - 1e-9, `server DSC ${dServer} >= CLI DSC ${dCli}`);
      assert.ok(dServer > 0.7, `DSC ${dServer}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const notDone = await call(s.url, 'GET', `/jobs/00000000-0000-0000-0000-000000000000/result`);
    assert.equal(notDone.status, 404);
  });
});

describe('medsam2 serve: limits', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer(
      {
        limits: {
          maxUploadBytes: 2_000_000,
          maxDecompressedBytes: 16 * 1024 * 1024,
          maxVoxels: 600_000,
          maxSlices: 64,
          expensivePerMinute: 12,
        },
      },
      noSessions,
    );
  });
  after(async () => {
    await s.stop();
  });

  it('refuses an upload over the byte limit and keeps no partial file', async () => {
    const r = await call(s.url, 'POST', '/uploads?name=big.nii', { body: new Uint8Array(2_000_001) });
    assert.equal(r.status, 413);
    assert.match(errorShape(r), /larger than the server's limit of 2000000 bytes/);
    assert.deepEqual(
      // (the database, and the marker of the start-up's legacy-checkpoint sweep)
      filesUnder(s.dataDir).filter((f) => !f.endsWith('.sqlite') && !f.includes('.sqlite-') && !f.endsWith(LEGACY_SWEEP_MARKER)),
      [],
    );
  });

  it('refuses a gzip bomb and a zip bomb by what they would decompress to', async () => {
    // 20 MiB of zeros: a few KiB compressed, past the 16 MiB decompression limit.
    const zeros = new Uint8Array(20 * 1024 * 1024);
    const gz = gzipSync(zeros, { level: 1 });
    const r1 = await call(s.url, 'POST', '/uploads?name=bomb.nii.gz', { body: new Uint8Array(gz) });
    assert.equal(r1.status, 413);
    assert.match(errorShape(r1), /decompresses to more than 16777216 bytes/);
    const zip = buildZip({ 'imgs.npy': zeros }, true);
    assert.ok(zip.length < 2_000_000);
    const r2 = await call(s.url, 'POST', '/uploads?name=bomb.npz', { body: zip });
    assert.equal(r2.status, 413);
    assert.match(errorShape(r2), /decompress to more than/);
    const r3 = await call(s.url, 'POST', '/uploads?name=series.zip', { body: buildZip({ 'a.dcm': zeros }, true) });
    assert.equal(r3.status, 413);
    assert.match(errorShape(r3), /decompress to more than/);
  });

  it('refuses volumes over the voxel and slice limits', { skip: SHARED_SKIP }, async () => {
    const r = await call(s.url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(CT_LESION)) });
    assert.equal(r.status, 413);
    assert.match(errorShape(r), /512x512x16 = 4194304 voxels/);
  });

  it('rate-limits the expensive endpoints per user', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 14; i++) codes.push((await call(s.url, 'POST', '/uploads?name=a.nii', { body: new Uint8Array(0) })).status);
    // Earlier tests in this suite used some of the 12 per minute.
    const first = codes.indexOf(429);
    assert.ok(first >= 5, codes.join(','));
    assert.ok(codes.slice(0, first).every((c) => c === 400) && codes.slice(first).every((c) => c === 429), codes.join(','));
    const r = await call(s.url, 'POST', '/uploads?name=a.nii', { body: new Uint8Array(0) });
    assert.match(errorShape(r), /rate limit/);
    assert.equal((await call(s.url, 'GET', '/healthz')).status, 200, 'cheap endpoints are not limited');
  });
});

describe('medsam2 serve: auth', () => {
  let s: TestServer;
  let tokens: Record<string, string>;
  before(async () => {
    s = await startTestServer({ requireAuth: true }, noSessions);
    tokens = {
      admin: await s.user('root', 'admin'),
      alice: await s.user('alice', 'annotator'),
      bob: await s.user('bob', 'annotator'),
      vic: await s.user('vic', 'viewer'),
    };
  });
  after(async () => {
    await s.stop();
  });

  it("401 without or with a bad token, 403 for a role that may not, 404 for another user's resource", { skip: SHARED_SKIP }, async () => {
    assert.equal((await call(s.url, 'GET', '/healthz')).status, 200, 'health is public');
    const none = await call(s.url, 'GET', '/sessions');
    assert.equal(none.status, 401);
    assert.match(errorShape(none), /authentication required/);
    const forged = tokens.alice!.slice(0, -2) + (tokens.alice!.endsWith('AA') ? 'BB' : 'AA');
    assert.equal((await call(s.url, 'GET', '/sessions', { token: forged })).status, 401);
    assert.equal((await call(s.url, 'GET', '/sessions', { token: 'garbage' })).status, 401);
    const bytes = new Uint8Array(readFileSync(CT_LESION));
    const viewer = await call(s.url, 'POST', '/uploads?name=a.npz', { body: bytes, token: tokens.vic });
    assert.equal(viewer.status, 403);
    errorShape(viewer);
    const up = await call(s.url, 'POST', '/uploads?name=a.npz', { body: bytes, token: tokens.alice });
    assert.equal(up.status, 201);
    assert.equal((await call(s.url, 'GET', `/uploads/${up.body.id}`, { token: tokens.alice })).status, 200);
    assert.equal((await call(s.url, 'GET', `/uploads/${up.body.id}`, { token: tokens.bob })).status, 404);
    assert.equal((await call(s.url, 'GET', `/uploads/${up.body.id}`, { token: tokens.admin })).status, 200);
    const bobSession = await call(s.url, 'POST', '/sessions', { body: { uploadId: up.body.id }, token: tokens.bob });
    assert.equal(bobSession.status, 404);
    const bobJob = await call(s.url, 'POST', '/jobs', { body: { uploadId: up.body.id, policy: 'key-box' }, token: tokens.bob });
    assert.equal(bobJob.status, 404);
    assert.deepEqual((await call(s.url, 'GET', '/uploads', { token: tokens.bob })).body, []);
    // Only a salted hash is stored.
    const users = await s.repo.listUsers();
    for (const u of users)
      for (const t of Object.values(tokens)) {
        // The secret is everything after ms2_<16 hex>_ (its base64url may itself contain '_').
        const secret = t.slice('ms2_'.length + 16 + 1);
        assert.equal(secret.length, 43, t);
        assert.ok(!t.includes(u.tokenHash) && !u.tokenHash.includes(secret), u.name);
      }
  });
});
