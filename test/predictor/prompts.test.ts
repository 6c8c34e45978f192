import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MedsamError } from '../../src/common/errors.js';
import { boxFromMask, expandBox, recistFromLineMask, recistToBox, sliceGeometry, validatePrompts } from '../../src/predictor/prompts.js';
import { keyDecoderPrompt } from '../../src/predictor/sam1Propagator.js';

const geom = sliceGeometry([512, 400, 20], 2); // width 512, height 400, 20 slices

function rejects(prompts: Parameters<typeof validatePrompts>[0], re: RegExp) {
  assert.throws(
    () => validatePrompts(prompts, geom),
    (e: unknown) => e instanceof MedsamError && re.test(e.message),
    String(re),
  );
}

test('prompt validation names the bad value and the valid range', () => {
  rejects([{ slice: 3, box: [10, 10, 600, 50] }], /^prompt 1: box x1=600 is outside the image width 512 \(0\.\.511\)/);
  rejects([{ slice: 3, box: [10, -1, 20, 50] }], /box y0=-1 is outside the image height 400 \(0\.\.399\)/);
  rejects([{ slice: 20, box: [1, 1, 5, 5] }], /slice=20 is outside the volume \(0\.\.19\)/);
  rejects([{ slice: 1.5, box: [1, 1, 5, 5] }], /slice=1.5/);
  rejects([{ slice: 3, box: [50, 10, 20, 50] }], /x1 < x0/);
  rejects([{ slice: 3 }], /has no box, points, mask or recist/);
  rejects([{ slice: 3, points: [{ x: 5, y: 400, label: 1 }] }], /point 1 y=400 is outside the image height 400/);
  rejects([{ slice: 3, points: [{ x: 5, y: 5, label: 2 as never }] }], /label=2 must be 1 \(object\) or 0 \(background\)/);
  rejects([{ slice: 3, mask: new Uint8Array(10) }], /mask has 10 pixels, the slice has 512x400 = 204800/);
  rejects([{ slice: 3, mask: new Uint8Array(512 * 400) }], /mask is empty/);
  rejects([{ slice: 3, recist: [0, 0, 512, 3] }], /recist x1=512/);
  rejects([{ objId: 0, slice: 3, box: [1, 1, 5, 5] }], /objId=0 must be an integer 1\.\.255/);
  rejects([{ objId: 256, slice: 3, box: [1, 1, 5, 5] }], /objId=256/);
  rejects(
    [
      { slice: 3, box: [1, 1, 5, 5] },
      { slice: 3, box: [9, 9, 15, 15] },
    ],
    /^prompt 2: object 1 already has a prompt on slice 3/,
  );
  rejects([], /no prompts given/);
});

test('valid prompts get objId 1 by default; several objects and key slices are fine', () => {
  const v = validatePrompts(
    [
      { slice: 0, box: [0, 0, 511, 399] },
      { objId: 2, slice: 0, points: [{ x: 3, y: 4, label: 1 }] },
      { slice: 19, recist: [5, 5, 40, 60] },
    ],
    geom,
  );
  assert.deepEqual(
    v.map((p) => p.objId),
    [1, 2, 1],
  );
});

test('slice geometry follows the slice axis', () => {
  assert.deepEqual(sliceGeometry([512, 400, 20], 2), { width: 512, height: 400, count: 20 });
  assert.deepEqual(sliceGeometry([512, 400, 20], 1), { width: 512, height: 20, count: 400 });
  assert.deepEqual(sliceGeometry([512, 400, 20], 0), { width: 400, height: 20, count: 512 });
});

test('RECIST → box as MedSAM2 get_diameter_bbox: square around the midpoint, half-side = floor(length / 2)', () => {
  // Midpoint (25, 32.5) → (25, 32) after int truncation; length hypot(30, 35) = 46.1 → half 23.
  assert.deepEqual(recistToBox([10, 15, 40, 50], 512, 512), [2, 9, 48, 55]);
  // Horizontal line: length 20, half 10, centred on (110, 60).
  assert.deepEqual(recistToBox([100, 60, 120, 60], 512, 512), [100, 50, 120, 70]);
  // shift grows every side; the result is clamped to the image.
  assert.deepEqual(recistToBox([100, 60, 120, 60], 512, 512, 5), [95, 45, 125, 75]);
  assert.deepEqual(recistToBox([0, 2, 30, 2], 100, 10), [0, 0, 30, 9]);
});

test('RECIST endpoints from a drawn line mask: first and last pixels in row-major order', () => {
  const w = 8,
    h = 6,
    m = new Uint8Array(w * h);
  for (const [x, y] of [
    [6, 1],
    [5, 2],
    [4, 3],
    [3, 4],
  ])
    m[y * w + x] = 1;
  assert.deepEqual(recistFromLineMask(m, w, h), [6, 1, 3, 4]);
  assert.equal(recistFromLineMask(new Uint8Array(w * h), w, h), undefined);
});

test('boxFromMask is tight and inclusive; expandBox clamps', () => {
  const w = 10,
    h = 8,
    m = new Uint8Array(w * h);
  m[2 * w + 3] = 1;
  m[5 * w + 7] = 1;
  m[4 * w + 1] = 1;
  assert.deepEqual(boxFromMask(m, w, h), [1, 2, 7, 5]);
  assert.equal(boxFromMask(new Uint8Array(w * h), w, h), undefined);
  assert.deepEqual(expandBox([1, 2, 7, 5], 3, w, h), [0, 0, 9, 7]);
});

test('key-slice decoder prompt: RECIST becomes the MedSAM2 box plus a click on its midpoint', () => {
  assert.deepEqual(keyDecoderPrompt({ slice: 0, recist: [100, 60, 120, 60] }, 512, 512), {
    box: [100, 50, 120, 70],
    points: [{ x: 110, y: 60, label: 1 }],
  });
  assert.deepEqual(keyDecoderPrompt({ slice: 0, box: [1, 2, 3, 4], points: [{ x: 2, y: 3, label: 0 }] }, 512, 512), {
    box: [1, 2, 3, 4],
    points: [{ x: 2, y: 3, label: 0 }],
  });
});
