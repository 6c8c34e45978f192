import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readVideo, writeVideo } from '../../src/io/video.js';

function syntheticFrames(n: number, w: number, h: number): Uint8Array[] {
  return Array.from({ length: n }, (_, t) => {
    const f = new Uint8Array(w * h * 3);
    // a bright square moving right on a dark background
    for (let y = 10; y < 30; y++) for (let x = 5 + 4 * t; x < 25 + 4 * t; x++) f.fill(220, (y * w + x) * 3, (y * w + x) * 3 + 3);
    return f;
  });
}

test('writeVideo → readVideo keeps frame count, size and content (H.264 round trip)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-video-'));
  const [w, h, n] = [64, 48, 6];
  const frames = syntheticFrames(n, w, h);
  const p = join(dir, 'clip.mp4');
  await writeVideo(p, frames, w, h, 10);
  const v = await readVideo(p);
  assert.equal(v.width, w);
  assert.equal(v.height, h);
  assert.equal(v.frames.length, n);
  assert.equal(v.fps, 10);
  // lossy codec: the square's centre stays bright and a far corner stays dark in every frame
  v.frames.forEach((f, t) => {
    const cx = 15 + 4 * t;
    assert.ok(f[(20 * w + cx) * 3]! > 150, `frame ${t} square centre is ${f[(20 * w + cx) * 3]}`);
    assert.ok(f[(45 * w + 62) * 3]! < 40, `frame ${t} background is bright`);
  });
  assert.deepEqual(readdirSync(dir), ['clip.mp4'], 'no temp files left behind');
});

test('odd frame sizes are padded to even for yuv420p', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-video-'));
  const p = join(dir, 'odd.mp4');
  await writeVideo(p, syntheticFrames(2, 63, 47), 63, 47, 5);
  const v = await readVideo(p);
  assert.deepEqual([v.width, v.height, v.frames.length], [64, 48, 2]);
});

test('a corrupt video fails with one clear error and no output', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'medsam2-video-'));
  const bad = join(dir, 'bad.mp4');
  writeFileSync(bad, Buffer.from('this is not a video at all'.repeat(20)));
  await assert.rejects(readVideo(bad), /ffmpeg failed on .*bad\.mp4|no video stream/);
  await assert.rejects(readVideo(join(dir, 'missing.mp4')), /does not exist/);
  writeFileSync(join(dir, 'empty.mp4'), '');
  await assert.rejects(readVideo(join(dir, 'empty.mp4')), /empty/);
  await assert.rejects(writeVideo(join(dir, 'nope', 'x.mp4'), syntheticFrames(1, 8, 8), 8, 8), /does not exist/);
  assert.ok(!existsSync(join(dir, 'nope')));
});
