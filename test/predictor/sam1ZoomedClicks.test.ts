import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { maskArea } from '../../src/predictor/sam1/maskOps.js';
import { ZoomedSlices } from '../../src/predictor/sam1/zoomedSlices.js';
import { correctObject, propagateObject } from '../../src/predictor/sam1Propagator.js';

/**
 * zoomClicks (issue 13, session 9): only a key with clicks is decoded on a crop around it; the user's
 * box key and the slices carried from either are decoded on whole slices; no crop under
 * zoomClickMinSide (128 px), so a small slice (ct-organs' 122 x 101) is never zoomed. And the low-res
 * logits a crop made keep their crop when a later propagation (another ZoomedSlices) gets them back
 * (clickLogits 'stored' handed them to a crop as if they were the whole slice's).
 */

/** Fake encoder recording each picture's size; fake decoder answering the prompt box filled, recording its mask inputs. */
function fakes() {
  const encoded: [number, number][] = [];
  const maskInputs: (Float32Array | undefined)[] = [];
  const encoder = {
    encode: async (_s: Uint8Array, h: number, w: number): Promise<Sam1Embedding> => {
      encoded.push([h, w]);
      return { data: new Float32Array(1), dims: [1], frame: samFrame(h, w, 1024) };
    },
  };
  const decoder = {
    async decode(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded> {
      maskInputs.push(maskInput);
      const { srcH: h, srcW: w } = emb.frame;
      const logits = new Float32Array(w * h).fill(-5);
      const [x0, y0, x1, y1] = prompt.box!;
      for (let y = Math.ceil(y0); y < Math.min(h, y1); y++) for (let x = Math.ceil(x0); x < Math.min(w, x1); x++) logits[y * w + x] = 5;
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
  return { encoded, maskInputs, encoder, decoder };
}

/** A small disc (radius 10 - 2|k - 3|) at (x, y) on slices 0..6 of a W x H volume, as pixels 200 / 20. */
function volume(W: number, H: number, cx: number, cy: number) {
  const disc = (k: number) => {
    const m = new Uint8Array(W * H);
    const r = 10 - Math.abs(k - 3) * 2;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * W + x] = 1;
    return m;
  };
  return { disc, pixels: (k: number) => Uint8Array.from(disc(k), (v) => (v ? 200 : 20)) };
}

test('zoomClicks: a clicked key is decoded on a crop around it, the box key and every carried slice on whole slices', async () => {
  const W = 512,
    H = 512;
  const vol = volume(W, H, 300, 200);
  const run = async (zoomClicks?: number, zoomClickCarry?: 'whole' | 'crop') => {
    const f = fakes();
    const slices = new SliceEmbeddings(f.encoder, vol.pixels, W, H, 7);
    // 'keep': the box-filling fake decoder needs a box (the default 'guarded' also decodes without it).
    const opts = { intensityModel: false, zoomClicks, zoomClickCarry, negativeClickBox: 'keep' as const };
    const prompts = [{ slice: 3, box: [290, 190, 310, 210] as [number, number, number, number] }];
    const first = await propagateObject(f.decoder, slices, prompts, opts);
    const boxCrops = f.encoded.filter(([h, w]) => h < H || w < W).length;
    const r = await correctObject(f.decoder, slices, prompts, first, { slice: 5, x: 300, y: 200, label: 0 }, opts);
    const crops = f.encoded.filter(([h, w]) => h < H || w < W);
    return { boxCrops, crops, masks: r.propagation.masks };
  };
  const off = await run();
  assert.equal(off.crops.length, 0);
  const on = await run(3);
  // The box's propagation is untouched; the click's slice (5) is the one crop: 128 px (the minimum side), square.
  assert.equal(on.boxCrops, 0);
  assert.deepEqual(on.crops, [[128, 128]]);
  // The box-filling decoder answers the same masks wherever it decodes (slice geometry round-trips).
  assert.deepEqual([...on.masks.keys()].sort(), [...off.masks.keys()].sort());
  for (const [k, m] of off.masks) assert.deepEqual([...on.masks.get(k)!], [...m], `slice ${k}`);
  // 'crop': the carry from the clicked key (slice 6) decodes in its crop too.
  const carry = await run(3, 'crop');
  assert.ok(carry.crops.length >= 2, JSON.stringify(carry.crops));
  assert.ok(carry.crops.every(([h, w]) => h === 128 && w === 128));
});

test('zoomClicks: nothing is zoomed on a slice smaller than zoomClickMinSide (ct-organs 122 x 101)', async () => {
  const W = 122,
    H = 101;
  const vol = volume(W, H, 60, 50);
  const f = fakes();
  const slices = new SliceEmbeddings(f.encoder, vol.pixels, W, H, 7);
  const opts = { intensityModel: false, zoomClicks: 3, negativeClickBox: 'keep' as const };
  const prompts = [{ slice: 3, box: [50, 40, 70, 60] as [number, number, number, number] }];
  const first = await propagateObject(f.decoder, slices, prompts, opts);
  const r = await correctObject(f.decoder, slices, prompts, first, { slice: 5, x: 60, y: 50, label: 0 }, opts);
  assert.ok(maskArea(r.propagation.masks.get(5)!) > 0);
  assert.ok(f.encoded.every(([h, w]) => h === H && w === W));
});

test('ZoomedSlices: low-res logits made on a crop are resampled when another ZoomedSlices gets them back', async () => {
  const W = 512,
    H = 512;
  const f = fakes();
  const slices = new SliceEmbeddings(f.encoder, () => new Uint8Array(W * H), W, H, 1);
  const crop = { x0: 200, y0: 200, w: 128, h: 128 };
  // A crop's answer, from one propagation's ZoomedSlices …
  const a = new ZoomedSlices(slices, f.decoder);
  const made = await a.decoder.decode(await a.embedding(0, crop), { box: [250, 250, 270, 270] });
  // … handed to the next propagation's on the whole slice: resampled out of the crop, not taken as the whole slice's.
  const b = new ZoomedSlices(slices, f.decoder);
  await b.decoder.decode(await b.embedding(0, { x0: 0, y0: 0, w: W, h: H }), { box: [250, 250, 270, 270] }, made.lowRes);
  assert.notEqual(f.maskInputs.at(-1), made.lowRes);
  // On the crop it was made in, it goes through as it is.
  await b.decoder.decode(await b.embedding(0, crop), { box: [250, 250, 270, 270] }, made.lowRes);
  assert.equal(f.maskInputs.at(-1), made.lowRes);
});

test("negativeClickBox 'drop': a negative click's slice is decoded from its clicks and logits, without the box (not the user's)", async () => {
  const W = 128,
    H = 128;
  const vol = volume(W, H, 60, 60);
  for (const negativeClickBox of ['keep', 'drop'] as const) {
    const prompts: Sam1Prompt[] = [];
    const f = fakes();
    const decoder = {
      decode: (e: Sam1Embedding, p: Sam1Prompt, m?: Float32Array) => {
        prompts.push(p);
        // Without a box the fake answers the disc round the first positive click.
        return f.decoder.decode(
          e,
          p.box ? p : { box: [p.points![0]!.x - 6, p.points![0]!.y - 6, p.points![0]!.x + 6, p.points![0]!.y + 6] },
          m,
        );
      },
    };
    const slices = new SliceEmbeddings(f.encoder, vol.pixels, W, H, 7);
    const opts = { intensityModel: false, negativeClickBox };
    const first = await propagateObject(decoder, slices, [{ slice: 3, box: [45, 45, 75, 75] }], opts);
    const before = prompts.length;
    await correctObject(decoder, slices, [{ slice: 3, box: [45, 45, 75, 75] }], first, { slice: 4, x: 50, y: 50, label: 0 }, opts);
    // The clicked decode: the negative click and the pin of what it leaves, with the prior's logits.
    const clicked = prompts.slice(before).find((p) => p.points?.some((q) => q.label === 0))!;
    assert.equal(clicked.box === undefined, negativeClickBox === 'drop', negativeClickBox);
    assert.ok(clicked.points!.some((q) => q.label === 1));
    // On the user's own key (the main key) the box is the user's: kept either way.
    const onMain = prompts.length;
    await correctObject(decoder, slices, [{ slice: 3, box: [45, 45, 75, 75] }], first, { slice: 3, x: 50, y: 50, label: 0 }, opts);
    const mainClicked = prompts.slice(onMain).find((p) => p.points?.some((q) => q.label === 0))!;
    assert.deepEqual(mainClicked.box, [45, 45, 76, 76], "the user's box (in pixel-edge coordinates)");
  }
});
