import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { maskArea, maskDice } from '../../src/predictor/sam1/maskOps.js';
import {
  cropAround,
  cropPixels,
  OUTSIDE_LOGIT,
  pasteLogits,
  resampleLowRes,
  touchesCropEdge,
  ZoomedSlices,
} from '../../src/predictor/sam1/zoomedSlices.js';
import { propagateObject } from '../../src/predictor/sam1Propagator.js';

test('cropAround: a square of zoom x the box, moved inside the slice; the whole slice when it would not fit', () => {
  // A 20 x 10 box in the middle of a 512 slice, zoom 3: a 60-px square centred on it.
  assert.deepEqual(cropAround([100, 200, 119, 209], 3, 32, 512, 512), { x0: 80, y0: 175, w: 60, h: 60 });
  // Near the top-left border: moved inside, not cut.
  assert.deepEqual(cropAround([0, 2, 19, 11], 3, 32, 512, 512), { x0: 0, y0: 0, w: 60, h: 60 });
  // Near the bottom-right border.
  assert.deepEqual(cropAround([500, 505, 511, 511], 3, 32, 512, 512), { x0: 476, y0: 476, w: 36, h: 36 });
  // The minimum side.
  assert.deepEqual(cropAround([50, 50, 52, 52], 3, 32, 512, 512), { x0: 36, y0: 36, w: 32, h: 32 });
  // As large as the slice: the whole slice (its own embedding).
  assert.deepEqual(cropAround([10, 10, 200, 60], 3, 32, 512, 512), { x0: 0, y0: 0, w: 512, h: 512 });
  // Non-square slice (ct-organs' 122 x 101): a 105-px square is cut to the 101 rows.
  assert.deepEqual(cropAround([40, 30, 74, 60], 3, 32, 122, 101), { x0: 5, y0: 0, w: 105, h: 101 });
  assert.deepEqual(cropAround([40, 30, 80, 60], 3, 32, 122, 101), { x0: 0, y0: 0, w: 122, h: 101 });
});

test('touchesCropEdge: only crop edges inside the slice count', () => {
  const r = { x0: 80, y0: 175, w: 60, h: 60 };
  assert.equal(touchesCropEdge([100, 200, 119, 209], r, 512, 512), false);
  assert.equal(touchesCropEdge([80, 200, 119, 209], r, 512, 512), true);
  assert.equal(touchesCropEdge([100, 200, 139, 209], r, 512, 512), true);
  // A crop at the slice's own edge: the object may end there.
  assert.equal(touchesCropEdge([0, 0, 10, 10], { x0: 0, y0: 0, w: 60, h: 60 }, 512, 512), false);
});

test('cropPixels and pasteLogits: the crop goes back where it came from, background everywhere else', () => {
  const w = 7,
    h = 5;
  const px = Uint8Array.from({ length: w * h }, (_, i) => i);
  const r = { x0: 2, y0: 1, w: 3, h: 2 };
  assert.deepEqual([...cropPixels(px, w, h, r)], [9, 10, 11, 16, 17, 18]);
  const full = pasteLogits(Float32Array.from([1, 2, 3, 4, 5, 6]), r, w, h);
  assert.deepEqual([...full.subarray(7, 14)], [OUTSIDE_LOGIT, OUTSIDE_LOGIT, 1, 2, 3, OUTSIDE_LOGIT, OUTSIDE_LOGIT]);
  assert.equal(full.filter((v) => v === OUTSIDE_LOGIT).length, w * h - 6);
  // RGB slices (video frames) are cut per pixel, not per byte.
  const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => i);
  assert.deepEqual([...cropPixels(rgb, w, h, { x0: 1, y0: 0, w: 1, h: 1 })], [3, 4, 5]);
});

test('resampleLowRes: a mask prompt made on the whole slice lands on the same pixels of a crop', () => {
  const w = 512,
    h = 512;
  const whole = { x0: 0, y0: 0, w, h },
    crop = { x0: 192, y0: 256, w: 128, h: 128 };
  // Low-res logits of a disc of radius 16 px at slice (256, 320): 4 slice px per cell on a 512 slice.
  const low = new Float32Array(256 * 256);
  for (let i = 0; i < 256; i++)
    for (let j = 0; j < 256; j++) low[i * 256 + j] = Math.hypot(j * 2 + 1 - 256, i * 2 + 1 - 320) <= 16 ? 10 : -10;
  const out = resampleLowRes(low, whole, samFrame(h, w, 1024), crop, samFrame(128, 128, 1024));
  // In the crop's frame (8 model px per crop px, half a crop px per cell) the disc is at crop (64, 64): cell (128, 128).
  assert.ok(out[128 * 256 + 128]! > 5);
  assert.ok(out[128 * 256 + 128 + 40]! < -5, 'a cell 20 crop px right of the centre is background');
  assert.ok(out[0]! < -5);
  // And back: only the cells inside the crop keep the disc.
  const back = resampleLowRes(out, crop, samFrame(128, 128, 1024), whole, samFrame(h, w, 1024));
  assert.ok(back[160 * 256 + 128]! > 5);
  assert.ok(back[10 * 256 + 10]! < -5);
});

/** A fake encoder that records each picture's size; a fake decoder that answers the prompt box filled (crop coordinates). */
function fakes() {
  const encoded: [number, number][] = [];
  const encoder = {
    encode: async (_s: Uint8Array, h: number, w: number): Promise<Sam1Embedding> => {
      encoded.push([h, w]);
      return { data: new Float32Array(1), dims: [1], frame: samFrame(h, w, 1024) };
    },
  };
  const decoder = {
    async decode(emb: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      const { srcH: h, srcW: w } = emb.frame;
      const logits = new Float32Array(w * h).fill(-5);
      const [x0, y0, x1, y1] = prompt.box!;
      for (let y = Math.ceil(y0); y < Math.min(h, y1); y++) for (let x = Math.ceil(x0); x < Math.min(w, x1); x++) logits[y * w + x] = 5;
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
  return { encoded, encoder, decoder };
}

test('ZoomedSlices: a slice-coordinate box decoded on a crop gives slice-sized logits in the right place', async () => {
  const { encoded, encoder, decoder } = fakes();
  const slices = new SliceEmbeddings(encoder, () => new Uint8Array(200 * 100), 200, 100, 1);
  const z = new ZoomedSlices(slices, decoder);
  const rect = cropAround([120, 40, 129, 49], 3, 16, 200, 100);
  const d = await z.decoder.decode(await z.embedding(0, rect), { box: [120, 40, 130, 50] });
  assert.deepEqual(encoded, [[30, 30]]);
  assert.equal(d.logits.length, 200 * 100);
  const fg = [...d.logits.keys()].filter((i) => d.logits[i]! > 0);
  assert.equal(fg.length, 100);
  assert.ok(fg.every((i) => i % 200 >= 120 && i % 200 < 130 && Math.floor(i / 200) >= 40 && Math.floor(i / 200) < 50));
  // Outside the crop: the large negative logit; inside it but outside the box: the decoder's own.
  assert.equal(d.logits[0], OUTSIDE_LOGIT);
  assert.equal(d.logits[41 * 200 + 111], -5);
  // The same crop again is not encoded again.
  await z.embedding(0, rect);
  assert.equal(encoded.length, 1);
  // A mask prompt it did not make (a whole-slice decode's) is resampled into the crop, not handed over as is.
  const seen: (Float32Array | undefined)[] = [];
  const z2 = new ZoomedSlices(slices, {
    decode: (e, p, m) => {
      seen.push(m);
      return decoder.decode(e, p);
    },
  });
  const wholeLow = new Float32Array(256 * 256).fill(-10);
  await z2.decoder.decode(await z2.embedding(0, rect), { box: [120, 40, 130, 50] }, wholeLow);
  assert.notEqual(seen[0], wholeLow);
  assert.equal(seen[0]!.length, 256 * 256);
  // Without a crop it goes through untouched.
  await z2.decoder.decode(await z2.embedding(0, { x0: 0, y0: 0, w: 200, h: 100 }), { box: [120, 40, 130, 50] }, wholeLow);
  assert.equal(seen[1], wholeLow);
});

test('propagateObject with zoom: a small object is decoded on crops around it, and its masks are those without zoom', async () => {
  const W = 256,
    H = 256,
    N = 5;
  const disc = (k: number) => {
    const m = new Uint8Array(W * H);
    const r = 10 - Math.abs(k - 2) * 2;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - 200) ** 2 + (y - 60) ** 2 <= r * r) m[y * W + x] = 1;
    return m;
  };
  const run = async (zoom?: number) => {
    const { encoded, encoder, decoder } = fakes();
    const slices = new SliceEmbeddings(encoder, (k) => Uint8Array.from(disc(k), (v) => (v ? 200 : 20)), W, H, N);
    const res = await propagateObject(decoder, slices, [{ slice: 2, box: [190, 50, 210, 70] }], { zoom, intensityModel: false });
    return { encoded, res };
  };
  const plain = await run();
  const zoomed = await run(3);
  assert.ok(plain.encoded.every(([h, w]) => h === H && w === W));
  // Every slice's object is decoded on a crop of 3 x its box, none on the whole slice.
  assert.ok(zoomed.encoded.length >= N);
  assert.ok(
    zoomed.encoded.every(([h, w]) => h === w && h < 80),
    JSON.stringify(zoomed.encoded),
  );
  // The box-filling decoder answers the same mask wherever it is cropped: zoom changes the picture, not the geometry.
  for (const [k, m] of plain.res.masks) {
    const zm = zoomed.res.masks.get(k)!;
    assert.ok(maskArea(m) > 0);
    assert.equal(maskDice(m, zm), 1, `slice ${k}`);
  }
});

test("zoomMode 'output' and 'masks': the whole-slice propagation decides the extent, crops only re-make its masks", async () => {
  const W = 256,
    H = 256,
    N = 5;
  const disc = (k: number) => {
    const m = new Uint8Array(W * H);
    const r = k === 4 ? 0 : 10 - Math.abs(k - 2) * 2;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - 60) ** 2 + (y - 190) ** 2 <= r * r) m[y * W + x] = 1;
    return m;
  };
  const run = async (opts: { zoom?: number; zoomMode?: 'output' | 'masks' }) => {
    const { encoded, encoder, decoder } = fakes();
    const slices = new SliceEmbeddings(encoder, (k) => Uint8Array.from(disc(k), (v) => (v ? 200 : 20)), W, H, N);
    const res = await propagateObject(decoder, slices, [{ slice: 2, box: [50, 180, 70, 200] }], { ...opts, maxSlices: 1 });
    return { crops: encoded.filter(([h, w]) => h < H || w < W).length, res };
  };
  const plain = await run({});
  assert.equal(plain.crops, 0);
  for (const zoomMode of ['output', 'masks'] as const) {
    const z = await run({ zoom: 3, zoomMode });
    assert.ok(z.crops > 0, zoomMode);
    assert.deepEqual([...z.res.masks.keys()].sort(), [...plain.res.masks.keys()].sort(), zoomMode);
    for (const [k, m] of plain.res.masks) assert.equal(maskDice(m, z.res.masks.get(k)!), 1, `${zoomMode} slice ${k}`);
  }
});
