import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { maskDice } from '../../src/predictor/sam1/maskOps.js';
import { propagateObject } from '../../src/predictor/sam1Propagator.js';
import { discMask } from '../helpers/discMask.js';
import { markedSlice, sliceIndexEncoder } from '../helpers/sliceIndexEncoder.js';

const W = 64,
  H = 64;
const disc = (r: number) => discMask(W, H, r);

test("propagateObject fuseSlicesOn 'corrections': the one-box answer is not fused, a re-propagation after a click is", async () => {
  // The key slice (1) decodes as a disc of radius 14 (a hedge), its neighbours as radius 10.
  const radii = [10, 14, 10];
  const encoder = sliceIndexEncoder;
  const pixels = (k: number) => markedSlice(k, W, H);
  const decoder = {
    async decode(emb: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      const d = disc(radii[emb.data[0]!]!);
      const [x0, y0, x1, y1] = prompt.box ?? [0, 0, W - 1, H - 1];
      const logits = new Float32Array(W * H).fill(-5);
      for (let y = Math.ceil(y0); y <= Math.floor(y1); y++)
        for (let x = Math.ceil(x0); x <= Math.floor(x1); x++) if (d[y * W + x]) logits[y * W + x] = 5;
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
  const opts = {
    intensityModel: false,
    refineSteps: 0,
    minAreaFraction: 0,
    fuseSlices: 10, // σ ≫ slice distance: neighbour weights ≈ 1
    fuseSlicesOn: 'corrections' as const,
    voxelSpacing: [1, 1, 1] as const,
  };
  const prompts = [{ slice: 1, box: [10, 10, 54, 54] as [number, number, number, number] }];
  const emb = () => new SliceEmbeddings(encoder, pixels, W, H, 3);
  const first = await propagateObject(decoder, emb(), prompts, opts);
  assert.equal(maskDice(first.masks.get(1)!, disc(14)), 1, 'the one-box propagation keeps the key’s own mask');
  const again = await propagateObject(decoder, emb(), prompts, { ...opts, previousMasks: first.masks });
  assert.equal(maskDice(again.masks.get(1)!, disc(10)), 1, 'a re-propagation (previousMasks given) is fused with both neighbours');
  const always = await propagateObject(decoder, emb(), prompts, { ...opts, fuseSlicesOn: 'all' });
  assert.equal(maskDice(always.masks.get(1)!, disc(10)), 1, "'all' fuses the one-box answer too");
});
