// Frame folders (src/pipelines/videoFrames.ts, videoOutputs.ts): odd-sized frames are resized to
// the first frame's size with one note; masks/<frame>.png keep the input frame names; a rerun
// replaces its own named masks while a user's file in masks/ is still refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { loadFrames } from '../../src/pipelines/videoFrames.js';
import { writeVideoOutputs } from '../../src/pipelines/videoOutputs.js';
import { readImage2D } from '../../src/io/imageFile.js';
import { tmp } from './ioTestUtil.js';

function rgbPng(w: number, h: number, v: (x: number, y: number) => number): Uint8Array {
  const d = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.fill(v(x, y), 3 * (y * w + x), 3 * (y * w + x) + 3);
  return encodePng({ width: w, height: h, data: d, channels: 3, depth: 8 });
}

test('mixed-size frame folder: resized to the first frame with one note; masks keep the frame names', async () => {
  const dir = tmp();
  const frames = join(dir, 'clip');
  mkdirSync(frames);
  writeFileSync(
    join(frames, 'scope_a.png'),
    rgbPng(16, 12, (x) => x * 10),
  );
  writeFileSync(
    join(frames, 'scope_b.png'),
    rgbPng(32, 24, (x) => x * 5),
  ); // same picture at twice the size
  writeFileSync(
    join(frames, 'scope_c.png'),
    rgbPng(16, 12, () => 90),
  );
  const notes: string[] = [];
  const v = await loadFrames(frames, { onNote: (m) => notes.push(m) });
  assert.deepEqual([v.width, v.height, v.frames.length], [16, 12, 3]);
  assert.equal(notes.length, 1);
  assert.match(
    notes[0]!,
    /1 of 3 frames .* differ in size from the first \(scope_a\.png, 16x12\) and were resized to it, e\.g\. scope_b\.png \(32x24\)/,
  );
  assert.equal(v.frames[1]!.length, 16 * 12 * 3);
  // The downsized ramp is still a left-to-right ramp.
  const row = Array.from({ length: 16 }, (_, x) => v.frames[1]![3 * (6 * 16 + x)]!);
  assert.ok(
    row.every((p, i) => i === 0 || p >= row[i - 1]!),
    `ramp kept: ${row}`,
  );
  assert.deepEqual(v.names, ['scope_a', 'scope_b', 'scope_c']);

  const out = join(dir, 'out');
  const labels = v.frames.map((_, k) => Uint8Array.from({ length: 16 * 12 }, (_, i) => (i % 16 > k + 4 ? 1 : 0)));
  const data = { width: v.width, height: v.height, fps: 5, frames: v.frames, labels, names: v.names };
  await writeVideoOutputs(out, data);
  await writeVideoOutputs(out, data); // a rerun replaces its own named masks
  assert.deepEqual(readdirSync(join(out, 'masks')), ['scope_a.png', 'scope_b.png', 'scope_c.png']);
  assert.deepEqual(readImage2D(join(out, 'masks', 'scope_b.png')).data, labels[1]);
  writeFileSync(
    join(out, 'masks', 'notes.png'),
    rgbPng(4, 4, () => 1),
  ); // a user's own picture
  await assert.rejects(writeVideoOutputs(out, data), /notes\.png, which medsam2 did not write/);
});
