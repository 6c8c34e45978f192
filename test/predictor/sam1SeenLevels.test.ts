// The intensity vote of propagation calls object only the grey levels the key mask showed
// (src/predictor/sam1/seenLevels.ts): a bright structure the key never held is surroundings, not object.
import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { buildIntensityModel, smooth3x3 } from '../../src/predictor/sam1/intensityModel.js';
import { seenLevelsOnly } from '../../src/predictor/sam1/seenLevels.js';
import { propagateObject } from '../../src/predictor/sam1Propagator.js';
import { sliceIndexEncoder } from '../helpers/sliceIndexEncoder.js';

const W = 64,
  H = 64;
const disc = (r: number) => {
  const m = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - 32) ** 2 + (y - 32) ** 2 <= r * r) m[y * W + x] = 1;
  return m;
};

test('seenLevelsOnly: a grey level neither the key mask nor its ring holds is no longer object-like', () => {
  const key = disc(10);
  const img = smooth3x3(
    Uint8Array.from(key, (v) => (v ? 120 : 60)),
    W,
    H,
  );
  const model = buildIntensityModel(img, key, W, H);
  // The Laplace-smoothed vote: the mask holds fewer pixels than its ring, so its floor is higher and an
  // unseen level (250: contrast, bone) votes object.
  assert.equal(model.objectLike[250], 1);
  const seen = seenLevelsOnly(model, img, key);
  assert.equal(seen.objectLike[250], 0);
  assert.equal(seen.objectLike[120], 1);
  assert.equal(seen.objectLike[60], 0);
});

test('propagation with seenLevels 1 stops where a bright structure the key never showed takes the object’s place', async () => {
  // Slices 0–1: a grey-120 object of radius 10 in grey-60 tissue; slices 2–4: where it ends, a grey-250
  // structure of the same size (CT lesion 000002's contrast-filled bowel). The fake decoder segments
  // whatever is not tissue inside the box, as SAM would.
  const grey = [120, 120, 250, 250, 250];
  const pixels = (k: number) => {
    const img = Uint8Array.from(disc(10), (v) => (v ? grey[k]! : 60));
    img[0] = k;
    return img;
  };
  const decoder = {
    async decode(e: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      const img = pixels(e.data[0]!);
      const [x0, y0, x1, y1] = prompt.box!;
      const logits = new Float32Array(W * H).fill(-5);
      for (let y = Math.ceil(y0) - 2; y <= Math.floor(y1) + 2; y++)
        for (let x = Math.ceil(x0) - 2; x <= Math.floor(x1) + 2; x++) if (img[y * W + x] !== 60 && y * W + x > 0) logits[y * W + x] = 5;
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
  const run = (opts: object) =>
    propagateObject(
      decoder,
      new SliceEmbeddings(sliceIndexEncoder, pixels, W, H, grey.length),
      [{ slice: 0, box: [22, 22, 42, 42] }],
      opts,
    );
  const sorted = (r: { masks: Map<number, Uint8Array> }) => [...r.masks.keys()].sort((a, b) => a - b);
  const stopped = await run({ seenLevels: 1 });
  assert.deepEqual(sorted(stopped), [0, 1]);
  assert.equal(stopped.stops[0]!.up, 'background');
  // The plain vote (seenLevels 0, the default before session 15): the unseen bright level is
  // object-like and the carry runs on.
  assert.deepEqual(sorted(await run({ seenLevels: 0 })), [0, 1, 2, 3, 4]);
  // The default is seenLevels 1.
  assert.deepEqual(sorted(await run({})), [0, 1]);
});
