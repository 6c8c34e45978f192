/**
 * GET /uploads/{id}/volume.nii.gz on a real server (127.0.0.1, bearer tokens): a DICOM zip comes
 * back as the series' voxels and geometry exactly as readVolume reads the folder, a JPEG as the
 * luminance readVolume gives; ETag → 304; another user's upload 404; a video upload 400. No model
 * runs (uploads only).
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { zipSync } from 'fflate';
import { readVolume } from '../../src/io/readVolume.js';
import type { Volume } from '../../src/io/volume.js';
import { ROOT } from '../helpers/cli.js';
import { startTestServer, type TestServer } from './harness.js';

const SERIES = join(ROOT, '../shared/data/dicom/ct-series');
const JPEG = join(ROOT, '../shared/data/endoscopy/kvasir/images/cju0qkwl35piu0993l0dewei2.jpg');
const skip = ![SERIES, JPEG].every(existsSync) && `needs ../shared/data (${SERIES})`;
if (skip) process.stdout.write(`# skipping the display-volume route test: ${skip}\n`);

let server: TestServer;
const tokens: Record<string, string> = {};
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-display-'));

before(async () => {
  if (skip) return;
  server = await startTestServer({ requireAuth: true });
  for (const who of ['ann', 'bob']) tokens[who] = await server.user(who, 'annotator');
});

after(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const auth = (who: string) => ({ authorization: `Bearer ${tokens[who]}` });

async function upload(bytes: Uint8Array, name: string, who = 'ann'): Promise<string> {
  const r = await fetch(`${server.url}/uploads?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    body: bytes,
    headers: { 'content-type': 'application/octet-stream', ...auth(who) },
  });
  assert.equal(r.status, 201, await r.clone().text());
  return ((await r.json()) as { id: string }).id;
}

async function display(id: string, name: string): Promise<{ volume: Volume; etag: string }> {
  const r = await fetch(`${server.url}/uploads/${id}/volume.nii.gz`, { headers: auth('ann') });
  assert.equal(r.status, 200, await r.clone().text());
  const bytes = new Uint8Array(await r.arrayBuffer());
  assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b], 'gzip');
  writeFileSync(join(tmp, name), bytes);
  return { volume: await readVolume(join(tmp, name)), etag: r.headers.get('etag') ?? '' };
}

function assertSame(got: Volume, want: Volume): void {
  assert.deepEqual(got.dims, want.dims);
  for (const k of ['spacing', 'origin', 'direction'] as const)
    got[k].forEach((x, i) =>
      assert.ok(Math.abs(x - want[k][i]!) < 1e-4 * Math.max(1, Math.abs(want[k][i]!)), `${k}: ${got[k]} vs ${want[k]}`),
    );
  let diff = 0;
  for (let i = 0; i < want.data.length; i++) if (Number(got.data[i]) !== Number(want.data[i])) diff++;
  assert.equal(diff, 0, `${diff} voxels differ`);
}

test('a DICOM zip and a JPEG come back as the server read them; ETag 304; others 404; a video 400', {
  skip,
  timeout: 120_000,
}, async () => {
  const members: Record<string, Uint8Array> = {};
  for (const f of readdirSync(SERIES)) members[f] = readFileSync(join(SERIES, f));
  const ct = await upload(zipSync(members, { level: 0 }), 'ct.zip');
  const { volume, etag } = await display(ct, 'ct.nii.gz');
  assertSame(volume, await readVolume(SERIES));
  assert.equal(volume.data.constructor, Int16Array, 'HU kept in their own type');

  const again = await fetch(`${server.url}/uploads/${ct}/volume.nii.gz`, { headers: { ...auth('ann'), 'if-none-match': etag } });
  assert.equal(again.status, 304);

  const jpeg = await upload(new Uint8Array(readFileSync(JPEG)), 'polyp.jpg');
  assertSame((await display(jpeg, 'jpeg.nii.gz')).volume, await readVolume(JPEG));

  const other = await fetch(`${server.url}/uploads/${ct}/volume.nii.gz`, { headers: auth('bob') });
  assert.equal(other.status, 404, "another user's upload is not visible");
  const anon = await fetch(`${server.url}/uploads/${ct}/volume.nii.gz`);
  assert.equal(anon.status, 401);

  const frames = await upload(zipSync({ 'f0.jpg': readFileSync(JPEG), 'f1.jpg': readFileSync(JPEG) }, { level: 0 }), 'frames.zip');
  const video = await fetch(`${server.url}/uploads/${frames}/volume.nii.gz`, { headers: auth('ann') });
  assert.equal(video.status, 400);
  assert.match(((await video.json()) as { error: string }).error, /is a video, not a volume/);
});
