/**
 * Videos on the real server (127.0.0.1): an mp4 built here with the bundled ffmpeg from a real
 * Kvasir-SEG colonoscopy frame (a 560x480 window sliding across it, so every frame has its
 * reference mask) is uploaded, segmented from one box on frame 0 in a session, propagated with
 * per-frame SSE masks, and its masks.npz compared with the reference — and with what
 * `medsam2 video` (segmentVideo) gives for the same box on the same mp4. Also: the PNG zip and
 * overlay mp4 downloads, the stored masks after the session leaves memory, a zip of frames, the
 * frame limit and a garbage .mp4.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PNG } from 'pngjs';
import { openNpzBytes } from '../../src/io/npz.js';
import { readNpz } from '../../src/io/npzFile.js';
import { readVideo } from '../../src/io/video.js';
import { ZipArchive, buildZip } from '../../src/io/zip.js';
import { dice } from '../../src/metrics/dice.js';
import { segmentVideo } from '../../src/pipelines/segmentVideo.js';
import { overlayFrame } from '../../src/pipelines/videoOverlay.js';
import { KVASIR_SKIP, maskBox, polypClipMp4, readClipMasksNpz, type SyntheticVideo } from '../pipelines/syntheticVideo.js';
import { serverPerFile } from '../helpers/serverHooks.js';
import { call, errorShape, startTestServer } from './harness.js';
import { readSse } from './sse.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// Frames encoded a second time in this file (the segmentVideo comparison, the replayed frames-zip
// session) are read from a cache of this file's own; its first session really encodes each frame
// (counted on /metrics below), whatever the run's shared cache holds.
cacheSam1EncodesInFile('file');

const skip = KVASIR_SKIP;
if (skip) process.stdout.write(`# skipping the server video tests: ${skip}\n`);

const FRAMES = 8;
const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;

/**
 * Mean absolute RGB difference of two frames inside the band where an object's name is drawn (from
 * 40 rows above the mask's bounding box to 40 below its top, 200 columns from its left) and outside it.
 */
function labelBandDiff(a: Uint8Array, b: Uint8Array, mask: Uint8Array, width: number, height: number): { band: number; rest: number } {
  let bx0 = width;
  let by0 = height;
  for (let i = 0; i < mask.length; i++)
    if (mask[i]) {
      bx0 = Math.min(bx0, i % width);
      by0 = Math.min(by0, Math.floor(i / width));
    }
  const sum = { band: 0, rest: 0 };
  const n = { band: 0, rest: 0 };
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const where = y >= by0 - 40 && y < by0 + 40 && x >= bx0 && x < bx0 + 200 ? 'band' : 'rest';
      const i = 3 * (y * width + x);
      sum[where] += Math.abs(a[i]! - b[i]!) + Math.abs(a[i + 1]! - b[i + 1]!) + Math.abs(a[i + 2]! - b[i + 2]!);
      n[where] += 3;
    }
  return { band: sum.band / n.band, rest: sum.rest / n.rest };
}

/** Frame 0 of an overlay.mp4 download, decoded. */
async function overlayFrame0(bytes: Uint8Array, name: string): Promise<Uint8Array> {
  writeFileSync(join(fx.dir, name), bytes);
  const ov = await readVideo(join(fx.dir, name), { maxFrames: 1 });
  return ov.frames[0]!;
}

let clip: SyntheticVideo;
let mp4 = '';
let mp4Bytes: Uint8Array;

const fx = serverPerFile('medsam2-server-video-', skip, {
  setUp: async (dir) => {
    ({ clip, mp4 } = await polypClipMp4(dir, FRAMES));
    mp4Bytes = new Uint8Array(readFileSync(mp4));
  },
});

/** medsam2_ort_run_seconds_count for the default model and one module, from /metrics. */
async function ortRuns(module: string): Promise<number> {
  const text = await (await fetch(`${fx.server.url}/metrics`)).text();
  const m = new RegExp(`^medsam2_ort_run_seconds_count\\{model="minisam",module="${module}"\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${fx.server.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('a video session on the server', { skip }, () => {
  test('upload mp4, box on frame 0, propagate (SSE per frame), masks.npz DSC ≥ medsam2 video − 0.01, PNG zip, overlay mp4, stored masks', async () => {
    const up = await call(fx.server.url, 'POST', '/uploads?name=clip.mp4', { body: mp4Bytes });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal(up.body.kind, 'video');
    assert.equal(up.body.format, 'video');
    assert.equal(up.body.frames, FRAMES);
    assert.equal(up.body.fps, 10);
    assert.deepEqual(up.body.dims, [560, 480, FRAMES]);
    const again = await call(fx.server.url, 'POST', '/uploads?name=copy.mp4', { body: mp4Bytes });
    assert.equal(again.body.sha256, up.body.sha256, 'same bytes, same content hash');

    const ses = await call(fx.server.url, 'POST', '/sessions', { body: { uploadId: up.body.id } });
    assert.equal(ses.status, 201, JSON.stringify(ses.body));
    assert.equal(ses.body.kind, 'video');
    assert.deepEqual([ses.body.numSlices, ses.body.rows, ses.body.cols], [FRAMES, 480, 560]);
    const id = ses.body.id as string;

    const box = maskBox(clip.masks[0]!, clip.width);
    const decoderBefore = await ortRuns('prompt_mask_decoder');
    const p = await call(fx.server.url, 'POST', `/sessions/${id}/prompts`, { body: { objId: 1, slice: 0, box } });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.ok(p.body.area > 50000, `area on frame 0: ${p.body.area}`);
    // /metrics: the click's ORT runs, by module (one decoder run for a box; the frame's encoder run).
    assert.equal(await ortRuns('prompt_mask_decoder'), decoderBefore + 1);
    assert.equal(await ortRuns('image_encoder'), 1);

    const res = await fetch(`${fx.server.url}/sessions/${id}/propagate`, {
      method: 'POST',
      headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
      body: '{}',
    });
    const events = await readSse(res);
    const masked = new Set(events.filter((e) => e.event === 'mask').map((e) => e.data.slice as number));
    assert.equal(events.at(-1)!.event, 'done', JSON.stringify(events.at(-1)));
    assert.deepEqual(
      [...masked].sort((a, b) => a - b),
      [...Array(FRAMES).keys()],
      'a mask event for every frame',
    );

    assert.equal(await ortRuns('image_encoder'), FRAMES, 'each frame encoded once');
    const npz = await call(fx.server.url, 'GET', `/sessions/${id}/video/masks.npz`);
    assert.equal(npz.status, 200);
    const { segs, frameMask, dsc } = await readClipMasksNpz(npz.body as Uint8Array, clip);
    const px = 480 * 560;

    // What `medsam2 video clip.mp4 --frame 0 --box …` gives (same library call, same decoded frames).
    const ref = await segmentVideo(mp4, [{ frame: 0, box }], { threads: 2 });
    const refDsc = clip.masks.map((m, k) => dice(ref.labels[k]!, m));
    console.log(
      `# server video DSC per frame ${dsc.map((d) => d.toFixed(3)).join(' ')}, mean ${mean(dsc).toFixed(4)}; medsam2 video mean ${mean(refDsc).toFixed(4)}`,
    );
    assert.ok(mean(dsc) >= mean(refDsc) - 0.01, `server mean DSC ${mean(dsc).toFixed(4)} < CLI ${mean(refDsc).toFixed(4)} − 0.01`);
    assert.ok(mean(dsc) > 0.8, `mean DSC ${mean(dsc).toFixed(4)}`);

    const zip = await call(fx.server.url, 'GET', `/sessions/${id}/video/masks.zip`);
    assert.equal(zip.status, 200);
    const archive = ZipArchive.open(zip.body as Uint8Array, 'masks.zip');
    assert.deepEqual(archive.names(), ['labels.json', ...[...Array(FRAMES).keys()].map((k) => `masks/${String(k).padStart(5, '0')}.png`)]);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(archive.read('labels.json'))), { labels: [{ value: 1, name: 'object 1' }] });
    const png3 = PNG.sync.read(Buffer.from(archive.read('masks/00003.png')));
    assert.deepEqual([png3.width, png3.height], [560, 480]);
    let same = 0;
    for (let i = 0; i < px; i++) if ((png3.data[4 * i]! === 1) === (frameMask(3)[i] === 1)) same++;
    assert.equal(same, px, 'masks/00003.png holds frame 3 of masks.npz');

    const mp4Out = await call(fx.server.url, 'GET', `/sessions/${id}/video/overlay.mp4`);
    assert.equal(mp4Out.status, 200);
    assert.equal(mp4Out.headers.get('content-type'), 'video/mp4');
    writeFileSync(join(fx.dir, 'overlay.mp4'), mp4Out.body as Uint8Array);
    const ov = await readVideo(join(fx.dir, 'overlay.mp4'));
    assert.deepEqual([ov.frames.length, ov.width, ov.height], [FRAMES, 560, 480]);
    // The object's name ("object 1": none given yet) is drawn beside its mask: frame 0 differs from the
    // same overlay drawn here without names in that band, and matches it (up to H.264) elsewhere.
    const plain0 = overlayFrame((await readVideo(mp4, { maxFrames: 1 })).frames[0]!, frameMask(0), 560, 480);
    const unnamed = labelBandDiff(ov.frames[0]!, plain0, frameMask(0), 560, 480);
    console.log(
      `# overlay frame 0 vs no-name overlay: mean |Δ| ${unnamed.band.toFixed(2)} in the name band, ${unnamed.rest.toFixed(2)} elsewhere`,
    );
    assert.ok(unnamed.band > 4 * unnamed.rest && unnamed.band > 3, JSON.stringify(unnamed));

    // The box prompt in effect, for the client to outline on frame 0 (no clicks were made).
    assert.deepEqual((await call(fx.server.url, 'GET', `/sessions/${id}/video/prompts`)).body, {
      clicks: [],
      boxes: [{ objId: 1, frame: 0, box }],
    });

    // Naming the object: listed with the session's objects and written into masks.zip's labels.json;
    // bad names (errorShape: one line) and unknown objects are refused.
    const rename = (objId: number | string, body: unknown) => call(fx.server.url, 'PATCH', `/sessions/${id}/objects/${objId}`, { body });
    const named = await rename(1, { name: '  polyp (sessile) ' });
    assert.equal(named.status, 200, JSON.stringify(named.body));
    assert.equal(named.body.objects[0].name, 'polyp (sessile)', 'stored without the surrounding spaces');
    for (const [body, status, why] of [
      [{ name: '' }, 400, /the object name is empty/],
      [{ name: '   ' }, 400, /the object name is empty/],
      [{ name: 'x'.repeat(65) }, 400, /is 65 characters long, more than 64/],
      [{ name: 'polyp\nsessile' }, 400, /unprintable character \(U\+000A\)/],
      [{ name: 'polyp\u202e' }, 400, /unprintable character \(U\+202E\)/],
      [{ name: 7 }, 400, /must be a string/],
      [{}, 400, /name/],
    ] as const) {
      const r = await rename(1, body);
      assert.equal(r.status, status, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
      assert.match(errorShape(r), why);
    }
    assert.equal((await rename(1, { name: 'é'.repeat(64) })).status, 200, '64 characters are fine (not bytes)');
    assert.equal((await rename(1, { name: 'نیم\u200cفاصله' })).status, 200, 'a zero-width non-joiner (Persian) is printable text');
    assert.equal((await rename(1, { name: 'polyp' })).status, 200);
    const unknown = await rename(2, { name: 'instrument' });
    assert.equal(unknown.status, 404);
    assert.match(errorShape(unknown), /has no object 2/);
    assert.equal((await call(fx.server.url, 'PATCH', `/sessions/nope/objects/1`, { body: { name: 'a' } })).status, 404);
    assert.equal((await call(fx.server.url, 'GET', `/sessions/${id}`)).body.objects[0].name, 'polyp');
    const namedZip = ZipArchive.open((await call(fx.server.url, 'GET', `/sessions/${id}/video/masks.zip`)).body as Uint8Array, 'masks.zip');
    assert.deepEqual(JSON.parse(new TextDecoder().decode(namedZip.read('labels.json'))), { labels: [{ value: 1, name: 'polyp' }] });
    // masks.npz carries the names as a text array (numpy '<U5', no pickle) beside their label values.
    const namedNpz = openNpzBytes((await call(fx.server.url, 'GET', `/sessions/${id}/video/masks.npz`)).body as Uint8Array);
    assert.deepEqual(namedNpz.keys().sort(), ['name_values', 'names', 'segs']);
    assert.deepEqual(namedNpz.strings('names'), ['polyp']);
    assert.deepEqual([...(namedNpz.get('name_values').data as Int32Array)], [1]);
    assert.deepEqual(namedNpz.get('segs').data, segs.data);
    // overlay.mp4 now draws "polyp" where it drew "object 1": frame 0 changes in the name band only.
    const renamed0 = await overlayFrame0(
      (await call(fx.server.url, 'GET', `/sessions/${id}/video/overlay.mp4`)).body as Uint8Array,
      'overlay-named.mp4',
    );
    const renamed = labelBandDiff(renamed0, ov.frames[0]!, frameMask(0), 560, 480);
    assert.ok(renamed.band > 4 * renamed.rest && renamed.band > 1, JSON.stringify(renamed));
    // Deleting the object ends its name and its box; undoing the delete brings both back (no model runs).
    assert.deepEqual((await call(fx.server.url, 'DELETE', `/sessions/${id}/objects/1`)).body.objects, []);
    assert.deepEqual((await call(fx.server.url, 'GET', `/sessions/${id}/video/prompts`)).body.boxes, []);
    assert.equal((await rename(1, { name: 'polyp' })).status, 404, 'a deleted object cannot be named');
    assert.deepEqual((await call(fx.server.url, 'POST', `/sessions/${id}/undo`)).body, { undone: true });
    assert.equal((await call(fx.server.url, 'GET', `/sessions/${id}`)).body.objects[0].name, 'polyp');
    assert.equal((await call(fx.server.url, 'GET', `/sessions/${id}/video/prompts`)).body.boxes.length, 1);

    // The session leaves memory (idle expiry): its stored masks are served without a replay.
    assert.equal(await fx.server.sessions.sweepIdle(Date.now() + 1e9), 1);
    const view = await call(fx.server.url, 'GET', `/sessions/${id}`);
    assert.equal(view.body.live, false);
    assert.equal(view.body.persisted, true);
    assert.deepEqual(view.body.objects[0].slices, [...Array(FRAMES).keys()]);
    assert.equal(view.body.objects[0].name, 'polyp', 'the name is kept when the session leaves memory');
    const stored = await call(fx.server.url, 'GET', `/sessions/${id}/video/masks.npz`);
    assert.deepEqual((await readNpz(stored.body as Uint8Array)).segs!.data, segs.data);
    const s5 = await call(fx.server.url, 'GET', `/sessions/${id}/slices/5`);
    assert.equal(
      s5.body.objects[0].area,
      frameMask(5).reduce((a, b) => a + b, 0),
    );
    assert.equal((await call(fx.server.url, 'GET', `/sessions/${id}`)).body.live, false, 'no replay was needed');

    // A volume download route on a video session and a video route on an unknown file are 4xx.
    assert.equal((await call(fx.server.url, 'GET', `/sessions/${id}/video/masks.exe`)).status, 400);
  });

  test('a zip of PNG frames is a video upload; garbage .mp4 and a video past the frame limit are 4xx with one line', async () => {
    const members: Record<string, Uint8Array> = {};
    clip.frames.slice(0, 3).forEach((f, i) => {
      const png = new PNG({ width: 560, height: 480, colorType: 2, inputColorType: 2, inputHasAlpha: false });
      png.data = Buffer.from(f);
      members[`clip/frame${i + 8}.png`] = new Uint8Array(PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false }));
    });
    const z = await call(fx.server.url, 'POST', '/uploads?name=frames.zip', { body: buildZip(members, false) });
    assert.equal(z.status, 201, JSON.stringify(z.body));
    assert.deepEqual([z.body.kind, z.body.format, z.body.frames, z.body.fps], ['video', 'frames-zip', 3, 25]);

    // A session on it survives leaving memory (idle expiry, as after kill -9): the next change
    // rebuilds it by replaying its log on the decoded frames, and undo then works on the rebuilt one.
    const ses = await call(fx.server.url, 'POST', '/sessions', { body: { uploadId: z.body.id } });
    const id = ses.body.id as string;
    const box = maskBox(clip.masks[0]!, clip.width);
    assert.equal((await call(fx.server.url, 'POST', `/sessions/${id}/prompts`, { body: { objId: 1, slice: 0, box } })).status, 200);
    assert.equal((await call(fx.server.url, 'POST', `/sessions/${id}/propagate`, { body: {} })).status, 200);
    const before = (await call(fx.server.url, 'GET', `/sessions/${id}/slices/2`)).body.objects[0].mask;
    await fx.server.sessions.sweepIdle(Date.now() + 1e9);
    const restoresBefore = await metric('medsam2_session_restores_total');
    const undo = await call(fx.server.url, 'POST', `/sessions/${id}/undo`);
    assert.deepEqual(undo.body, { undone: true });
    assert.equal(await metric('medsam2_session_restores_total'), restoresBefore + 1, 'rebuilt by replay');
    assert.deepEqual((await call(fx.server.url, 'GET', `/sessions/${id}`)).body.objects[0].slices, [0], 'the propagation is undone');
    assert.equal((await call(fx.server.url, 'POST', `/sessions/${id}/propagate`, { body: {} })).status, 200);
    assert.deepEqual((await call(fx.server.url, 'GET', `/sessions/${id}/slices/2`)).body.objects[0].mask, before, 'same masks again');
    assert.equal((await call(fx.server.url, 'DELETE', `/sessions/${id}`)).body.status, 'closed');

    const garbage = new Uint8Array(4096).map((_, i) => (i * 7919) & 255);
    const g = await call(fx.server.url, 'POST', '/uploads?name=broken.mp4', { body: garbage });
    assert.equal(g.status, 400);
    assert.match(errorShape(g), /broken\.mp4/);
    assert.doesNotMatch(errorShape(g), new RegExp(fx.server.dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));

    const small = await startTestServer({ limits: { maxSlices: FRAMES - 1 } });
    try {
      const r = await call(small.url, 'POST', '/uploads?name=clip.mp4', { body: mp4Bytes });
      assert.equal(r.status, 413);
      assert.match(errorShape(r), new RegExp(`has ${FRAMES} frames, which exceeds the server's limit of ${FRAMES - 1}`));
      const many = await call(small.url, 'POST', '/uploads?name=frames.zip', {
        body: buildZip(Object.fromEntries([...Array(FRAMES)].map((_, i) => [`f${i}.png`, Object.values(members)[0]!])), false),
      });
      assert.equal(many.status, 413);
      assert.equal((await call(small.url, 'GET', '/uploads')).body.length, 0, 'nothing kept');
    } finally {
      await small.stop();
    }
  });
});
