/**
 * A batch job on a video upload (real server on 127.0.0.1): an mp4 built here with the bundled
 * ffmpeg from a real Kvasir-SEG frame (as video.test.ts does) gets one box on frame 0 in the
 * prompt schema of video sessions; the job propagates through every frame and its masks.npz has
 * the reference DSC that `medsam2 video` (segmentVideo) gives for the same box on the same mp4,
 * with masks.zip beside it. Prompts a video cannot take (a policy, a RECIST line, a frame past
 * the end) are 400 at submit time, and the volume result route points at the video downloads.
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ZipArchive } from '../../src/io/zip.js';
import { dice } from '../../src/metrics/dice.js';
import { segmentVideo } from '../../src/pipelines/segmentVideo.js';
import { KVASIR_SKIP, maskBox, polypClipMp4, readClipMasksNpz, type SyntheticVideo } from '../pipelines/syntheticVideo.js';
import { serverPerFile } from '../helpers/serverHooks.js';
import { call, errorShape } from './harness.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's frame embeddings come from the run's shared cache (each clip frame encoded once per run).
cacheSam1EncodesInFile();

if (KVASIR_SKIP) process.stdout.write(`# skipping the video batch job test: ${KVASIR_SKIP}\n`);

const FRAMES = 5;
const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;

let clip: SyntheticVideo;
let mp4 = '';

const fx = serverPerFile('medsam2-video-job-', KVASIR_SKIP, {
  setUp: async (dir) => {
    ({ clip, mp4 } = await polypClipMp4(dir, FRAMES));
  },
});

describe('a batch job on a video upload', { skip: KVASIR_SKIP }, () => {
  test('box on frame 0 → masks.npz with the DSC of medsam2 video; bad video prompts are 400', async () => {
    const up = await call(fx.server.url, 'POST', '/uploads?name=clip.mp4', { body: new Uint8Array(readFileSync(mp4)) });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    const box = maskBox(clip.masks[0]!, clip.width);

    const refuse = async (body: unknown, message: RegExp) => {
      const r = await call(fx.server.url, 'POST', '/jobs', { body: { uploadId: up.body.id, ...(body as object) } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(errorShape(r), message);
    };
    await refuse({ policy: 'key-box' }, /is a video/);
    await refuse({ prompts: [{ slice: 0, recist: [100, 100, 200, 200] }] }, /RECIST line is for volumes/);
    await refuse({ prompts: [{ slice: FRAMES, box }] }, new RegExp(`frame ${FRAMES} is outside the video`));
    assert.deepEqual((await call(fx.server.url, 'GET', '/jobs')).body, [], 'nothing was queued');

    const sub = await call(fx.server.url, 'POST', '/jobs', { body: { uploadId: up.body.id, prompts: [{ objId: 1, slice: 0, box }] } });
    assert.equal(sub.status, 202, JSON.stringify(sub.body));
    assert.equal(sub.body.kind, 'segment-video');
    let j = sub.body;
    for (let i = 0; i < 3000 && (j.status === 'queued' || j.status === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      j = (await call(fx.server.url, 'GET', `/jobs/${j.id}`)).body;
    }
    assert.equal(j.status, 'done', JSON.stringify(j));
    assert.equal(j.resultUrl, `/jobs/${j.id}/video/masks.npz`);
    assert.equal(j.result.slicesSegmented, FRAMES);
    assert.deepEqual(j.result.objects, [{ objId: 1, slices: FRAMES }]);

    const npz = await call(fx.server.url, 'GET', j.resultUrl);
    assert.equal(npz.status, 200);
    const { dsc } = await readClipMasksNpz(npz.body as Uint8Array, clip);
    const ref = await segmentVideo(mp4, [{ frame: 0, box }], { threads: 2 });
    const refDsc = clip.masks.map((m, k) => dice(ref.labels[k]!, m));
    console.log(`# video job DSC mean ${mean(dsc).toFixed(4)}; medsam2 video mean ${mean(refDsc).toFixed(4)}`);
    assert.ok(mean(dsc) >= mean(refDsc) - 0.01, `job mean DSC ${mean(dsc).toFixed(4)} < CLI ${mean(refDsc).toFixed(4)} − 0.01`);
    assert.ok(mean(dsc) > 0.8, `mean DSC ${mean(dsc).toFixed(4)}`);

    const zip = await call(fx.server.url, 'GET', `/jobs/${j.id}/video/masks.zip`);
    assert.equal(zip.status, 200);
    const archive = ZipArchive.open(zip.body as Uint8Array, 'masks.zip');
    assert.equal(archive.names().filter((n) => n.startsWith('masks/')).length, FRAMES);
    // A job's objects have no names: labels.json lists the label values its masks hold.
    assert.deepEqual(JSON.parse(new TextDecoder().decode(archive.read('labels.json'))), { labels: [{ value: 1, name: 'object 1' }] });
    const vol = await call(fx.server.url, 'GET', `/jobs/${j.id}/result`);
    assert.equal(vol.status, 400);
    assert.match(errorShape(vol), /segmented a video/);
  });
});
