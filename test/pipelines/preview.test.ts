import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PNG } from 'pngjs';
import { IDENTITY_DIRECTION, type Volume } from '../../src/io/volume.js';
import { labelColour, renderOverlayRgba, renderPreviewPng } from '../../src/pipelines/preview.js';

const px = (rgba: Uint8Array, w: number, x: number, y: number) => [...rgba.subarray((y * w + x) * 4, (y * w + x) * 4 + 4)];

test('overlay: gray image, filled label with solid contour, box and points', () => {
  const w = 20,
    h = 20;
  const gray = new Uint8Array(w * h).fill(100);
  const labels = new Uint8Array(w * h);
  for (let y = 5; y <= 10; y++) for (let x = 5; x <= 10; x++) labels[y * w + x] = 2;
  const { rgba, width, height } = renderOverlayRgba({
    gray,
    width: w,
    height: h,
    labels,
    boxes: [[2, 2, 15, 15]],
    points: [{ x: 17, y: 17, label: 0 }],
    scale: 1,
  });
  assert.deepEqual([width, height], [20, 20]);
  const c = labelColour(2);
  assert.deepEqual(px(rgba, w, 5, 7), [...c, 255]); // contour: solid colour
  assert.deepEqual(px(rgba, w, 7, 7), [...c.map((v) => Math.round(100 * 0.6 + v * 0.4)), 255]); // interior: 40% blend
  assert.deepEqual(px(rgba, w, 12, 12), [100, 100, 100, 255]); // untouched
  assert.deepEqual(px(rgba, w, 2, 8), [30, 144, 255, 255]); // box edge
  assert.deepEqual(px(rgba, w, 17, 17), [255, 0, 0, 255]); // negative point
});

test('preview PNG of a volume slice upscales small images and draws only prompts on that slice', () => {
  const dims: [number, number, number] = [40, 30, 3];
  const data = new Int16Array(40 * 30 * 3).map((_, i) => (i % 40) * 10 - 200);
  const vol: Volume = {
    data,
    dims,
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [...IDENTITY_DIRECTION],
    source: { format: 'nifti', path: 'x' },
  };
  const mask = { data: new Uint8Array(data.length), dims };
  const png = PNG.sync.read(
    Buffer.from(renderPreviewPng(vol, mask, { slice: 1, prompts: [{ slice: 2, box: [0, 0, 39, 29] }], window: { width: 400, level: 0 } })),
  );
  assert.deepEqual([png.width, png.height], [40 * 8, 30 * 8]); // 384 px short side would need 13x; capped at 8x
  // no drawn box (it is on slice 2) and a gray ramp left to right
  for (let i = 0; i < png.data.length; i += 4) assert.ok(png.data[i] === png.data[i + 1] && png.data[i + 1] === png.data[i + 2]);
  assert.ok(png.data[0]! < png.data[(png.width - 1) * 4]!);
});
