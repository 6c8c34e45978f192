import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { maskArea, maskDice } from '../../src/predictor/sam1/maskOps.js';
import { fusedLogits, fusionWeight, gaussianWeight, overlapWeight } from '../../src/predictor/sam1/throughPlaneFusion.js';
import { propagateObject } from '../../src/predictor/sam1Propagator.js';
import { discMask } from '../helpers/discMask.js';
import { markedSlice, sliceIndexEncoder } from '../helpers/sliceIndexEncoder.js';

const W = 64,
  H = 64;
const disc = (r: number) => discMask(W, H, r);

test('fusionWeight / fusedLogits: Gaussian in mm, clamped, missing neighbours do not vote', () => {
  assert.equal(fusionWeight(0, 3, 3), 1);
  assert.ok(Math.abs(fusionWeight(1, 3, 3) - Math.exp(-0.5)) < 1e-12);
  assert.ok(fusionWeight(1, 5, 3) < fusionWeight(1, 3, 3), 'thicker slices lean on their neighbours less');
  const logits = new Map([
    [0, Float32Array.of(20, -4)],
    [1, Float32Array.of(-2, 2)],
  ]);
  // Slice 1: own weight 1, slice 0 weight e^-0.5 (clamped to ±10), slice 2 absent.
  const wt = Math.exp(-0.5);
  const f = fusedLogits(logits, 1, gaussianWeight(1, 1, 1));
  assert.ok(Math.abs(f[0]! - (-2 + wt * 10) / (1 + wt)) < 1e-5);
  assert.ok(Math.abs(f[1]! - (2 - wt * 4) / (1 + wt)) < 1e-5);
  // Overlap weights: IoU of the neighbour's mask with the slice's own (disc 10 in disc 14: 314/615), to a power.
  const masks = new Map([
    [0, disc(14)],
    [1, disc(10)],
  ]);
  const iou = maskArea(disc(10)) / maskArea(disc(14));
  assert.ok(Math.abs(overlapWeight(masks, 1)(0) - iou) < 1e-12);
  assert.ok(Math.abs(overlapWeight(masks, 1, 2)(0) - iou ** 2) < 1e-12);
  assert.equal(overlapWeight(masks, 1)(1), 1);
  assert.equal(overlapWeight(masks, 1)(2), 0);
});

test('propagateObject fuseSlices: a slice whose decode hedged takes its neighbours’ boundary; stops and carries unchanged', async () => {
  // The key slice (1) is decoded as a disc of radius 14 (a hedge), its neighbours as radius 10.
  const radii = [10, 14, 10];
  const encoder = sliceIndexEncoder;
  const pixels = (k: number) => markedSlice(k, W, H);
  let decodes = 0;
  const decoder = {
    async decode(emb: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      decodes++;
      const d = disc(radii[emb.data[0]!]!);
      const [x0, y0, x1, y1] = prompt.box ?? [0, 0, W - 1, H - 1];
      const logits = new Float32Array(W * H).fill(-5);
      for (let y = Math.ceil(y0); y <= Math.floor(y1); y++)
        for (let x = Math.ceil(x0); x <= Math.floor(x1); x++) if (d[y * W + x]) logits[y * W + x] = 5;
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
  const opts = { intensityModel: false, refineSteps: 0, minAreaFraction: 0 };
  const prompts = [{ slice: 1, box: [10, 10, 54, 54] as [number, number, number, number] }];
  const plain = await propagateObject(decoder, new SliceEmbeddings(encoder, pixels, W, H, 3), prompts, opts);
  const plainDecodes = decodes;
  decodes = 0;
  const fused = await propagateObject(decoder, new SliceEmbeddings(encoder, pixels, W, H, 3), prompts, {
    ...opts,
    fuseSlices: 10, // × the key's radius (14 px of 1 mm): σ 140 mm, neighbour weights ≈ 1
    voxelSpacing: [1, 1, 1],
  });
  assert.equal(maskDice(plain.masks.get(1)!, disc(14)), 1, 'without fusion the key keeps its hedge');
  assert.equal(maskDice(fused.masks.get(1)!, disc(10)), 1, 'fused with both neighbours (weights ≈ 1): radius 10');
  // The end slices have one neighbour each: (5 + 5) / 2 inside radius 10, (−5 + 5)/2 = 0 (not > 0) in the ring.
  assert.equal(maskDice(fused.masks.get(0)!, disc(10)), 1);
  assert.equal(maskArea(fused.masks.get(2)!), maskArea(disc(10)));
  assert.deepEqual(fused.stops, plain.stops);
  assert.equal(decodes, plainDecodes, 'fusion costs no decode');
  // A thick slice spacing (σ 0.1 × 14 mm, slices 14 mm apart: weight e^-50) leaves every slice its own mask.
  const thick = await propagateObject(decoder, new SliceEmbeddings(encoder, pixels, W, H, 3), prompts, {
    ...opts,
    fuseSlices: 0.1,
    voxelSpacing: [1, 1, 14],
  });
  assert.equal(maskDice(thick.masks.get(1)!, disc(14)), 1);
  // A clicked key keeps what the click made (it neither is fused nor votes).
  const clicked = await propagateObject(
    decoder,
    new SliceEmbeddings(encoder, pixels, W, H, 3),
    [{ ...prompts[0]!, points: [{ x: 32, y: 32, label: 1 }] }],
    {
      ...opts,
      fuseSlices: 10,
      voxelSpacing: [1, 1, 1],
    },
  );
  assert.equal(maskDice(clicked.masks.get(1)!, disc(14)), 1);
});
