import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { samFrame } from '../../src/preprocess/samImage.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { binarise } from '../../src/predictor/sam1/maskOps.js';
import { boxJitterDecoder, flipAveraged, jitteredBoxes } from '../../src/predictor/sam1/testTimeEnsemble.js';
import { propagateObject } from '../../src/predictor/sam1Propagator.js';

const W = 40,
  H = 30;
/** A fake encoder whose embedding is the slice itself, so the fake decoder can look at the pixels. */
const pixelEncoder = {
  encode: async (s: Uint8Array, h: number, w: number): Promise<Sam1Embedding> => ({
    data: Float32Array.from(s),
    dims: [h, w],
    frame: samFrame(h, w, 1024),
  }),
};
/** Bright pixels inside the (inclusive) box: +4, everything else −4. */
const brightInBox = {
  calls: [] as Sam1Prompt[],
  async decode(emb: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
    this.calls.push(prompt);
    const [x0, y0, x1, y1] = prompt.box!;
    const logits = new Float32Array(W * H).fill(-4);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++) if (x >= x0 && x <= x1 && y >= y0 && y <= y1 && emb.data[y * W + x]! > 100) logits[y * W + x] = 4;
    return { logits, lowRes: new Float32Array(256 * 256), iou: 0.8 };
  },
};
/** An object that is not left-right symmetric (an L) on a dark slice. */
function lSlice(): Uint8Array {
  const img = new Uint8Array(W * H).fill(20);
  for (let y = 5; y <= 20; y++) for (let x = 6; x <= 9; x++) img[y * W + x] = 200;
  for (let y = 17; y <= 20; y++) for (let x = 6; x <= 25; x++) img[y * W + x] = 200;
  return img;
}

test('jitteredBoxes: the box, four 1-px moves, grown and shrunk, clamped to the slice', () => {
  assert.deepEqual(jitteredBoxes([5, 6, 20, 25], 1, W, H), [
    [5, 6, 20, 25],
    [4, 6, 19, 25],
    [6, 6, 21, 25],
    [5, 5, 20, 24],
    [5, 7, 20, 26],
    [4, 5, 21, 26],
    [6, 7, 19, 24],
  ]);
  // At the slice's corner the moves are clamped; a 2-px box is not shrunk (it would invert).
  const edge = jitteredBoxes([0, 0, 2, 2], 2, W, H);
  assert.equal(edge.length, 6);
  for (const b of edge) assert.ok(b.every((v) => v >= 0));
});

test('boxJitterDecoder averages 7 decodes of the same embedding and mask input; a pixel only the grown box and one move reach stays out', async () => {
  const emb = await pixelEncoder.encode(lSlice(), H, W);
  brightInBox.calls = [];
  const d = await boxJitterDecoder(brightInBox, 1).decode(emb, { box: [6, 5, 9, 20] });
  assert.equal(brightInBox.calls.length, 7);
  const m = binarise(d.logits);
  // The stem (x 6..9) is in; column 10 of the foot (bright, 1 px right of the box) is reached by the
  // right move and the grown box only (2 of 7 votes): out.
  assert.equal(m[10 * W + 7], 1);
  assert.equal(m[18 * W + 10], 0);
});

test('flipAveraged: the mirrored decode mirrored back lands on the same pixels (an asymmetric object gives the plain mask exactly)', async () => {
  const slices = new SliceEmbeddings(pixelEncoder, () => lSlice(), W, H, 1);
  const plain = await brightInBox.decode(await slices.get(0), { box: [6, 5, 25, 20] });
  const avg = await flipAveraged(brightInBox, await slices.get(0), await slices.mirrored(0), { box: [6, 5, 25, 20] }, W, H);
  assert.deepEqual(binarise(avg.logits), binarise(plain.logits));
  assert.deepEqual(Array.from(avg.logits), Array.from(plain.logits));
  // A box 1 px off on the right in the mirror would lose the foot's last column: it is there.
  assert.equal(binarise(avg.logits)[20 * W + 25], 1);
  assert.equal(slices.encoded, 2);
});

test('keyFlip and boxJitter change only the key decode: one extra encode of the key slice, 7 key decodes', async () => {
  const stack = [lSlice(), lSlice(), lSlice()];
  let encodes = 0;
  const enc = {
    encode: (s: Uint8Array, h: number, w: number) => {
      encodes++;
      return pixelEncoder.encode(s, h, w);
    },
  };
  const mk = () => new SliceEmbeddings(enc, (k) => stack[k]!, W, H, 3);
  brightInBox.calls = [];
  const plain = await propagateObject(brightInBox, mk(), [{ slice: 1, box: [6, 5, 25, 20] }], { pixelEdges: false });
  const plainCalls = brightInBox.calls.length;
  encodes = 0;
  brightInBox.calls = [];
  const ens = await propagateObject(brightInBox, mk(), [{ slice: 1, box: [6, 5, 25, 20] }], {
    pixelEdges: false,
    keyFlip: true,
    boxJitter: 1,
  });
  assert.equal(encodes, 4);
  // Key: 7 jittered boxes on the plain and 7 on the mirrored embedding instead of 1; the rest as before.
  assert.equal(brightInBox.calls.length, plainCalls + 13);
  assert.deepEqual([...ens.masks.keys()].sort(), [...plain.masks.keys()].sort());
});
