// The session-12 stop rules that read a carry's recent history (carryHistoryStops.ts), through
// propagateObject on the synthetic disc stack of sam1Propagator.test.ts's kind: opt-in, off by default.
import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { predictedIoUDrop, steadyShrink } from '../../src/predictor/sam1/carryHistoryStops.js';
import { propagateObject } from '../../src/predictor/sam1Propagator.js';
import { sliceIndexEncoder } from '../helpers/sliceIndexEncoder.js';

const W = 64,
  H = 64;

/** Bright discs of the given radii; the fake decoder returns the disc inside the box with IoU estimate iou(k). */
function world(radii: number[], iou: (k: number) => number) {
  const disc = (k: number) => {
    const m = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if ((x - 32) ** 2 + (y - 32) ** 2 <= radii[k]! ** 2) m[y * W + x] = 1;
    return m;
  };
  const pixels = (k: number) => {
    const img = Uint8Array.from(disc(k), (v) => (v ? 200 : 50));
    img[0] = k;
    return img;
  };
  const decoder = {
    async decode(emb: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      const k = emb.data[0]!;
      const d = disc(k);
      const [x0, y0, x1, y1] = prompt.box ?? [0, 0, W - 1, H - 1];
      const logits = new Float32Array(W * H).fill(-5);
      for (let y = Math.ceil(y0); y <= Math.floor(y1); y++)
        for (let x = Math.ceil(x0); x <= Math.floor(x1); x++) if (d[y * W + x]) logits[y * W + x] = 5;
      return { logits, lowRes: new Float32Array(256 * 256), iou: iou(k) };
    },
  };
  return { decoder, slices: () => new SliceEmbeddings(sliceIndexEncoder, pixels, W, H, radii.length) };
}
const key = [{ slice: 2, box: [18, 18, 46, 46] as [number, number, number, number] }];
const sorted = (m: Map<number, Uint8Array>) => [...m.keys()].sort((a, b) => a - b);

test('predictedIoUDrop and steadyShrink read the last kept slices', () => {
  const h = [0.9, 0.8, 0.7].map((predictedIoU) => ({ predictedIoU, area: 100, prevArea: 100 }));
  assert.equal(predictedIoUDrop(h.slice(0, 1), 0.1), undefined); // one slice is no level yet
  assert.ok(Math.abs(predictedIoUDrop(h, 0.6)! - 0.2) < 1e-9); // mean of the last 3 (0.8) − 0.6
  assert.ok(Math.abs(predictedIoUDrop(h, 0.6, 2)! - 0.15) < 1e-9);
  const shrinking = [100, 80, 64].map((area) => ({ predictedIoU: 0.9, area, prevArea: area / 0.8 }));
  assert.equal(steadyShrink(shrinking.slice(0, 2), shrinking[2]!, 3, 0.85), true);
  assert.equal(steadyShrink(shrinking.slice(0, 2), shrinking[2]!, 3, 0.75), false);
  assert.equal(steadyShrink(shrinking.slice(0, 1), shrinking[2]!, 3, 0.85), false); // too few kept
});

test('maxIoUDrop stops where the decoder becomes less sure than it was; off by default', async () => {
  const wld = world([12, 12, 12, 12, 12, 12, 12, 12, 12, 12], (k) => (k >= 7 ? 0.7 : 0.9));
  const plain = await propagateObject(wld.decoder, wld.slices(), key);
  assert.deepEqual(sorted(plain.masks), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const r = await propagateObject(wld.decoder, wld.slices(), key, { maxIoUDrop: 0.1 });
  assert.equal(r.stops[0]!.up, 'iou-drop');
  assert.deepEqual(sorted(r.masks), [0, 1, 2, 3, 4, 5, 6]);
});

test('steadyShrink stops a mask that shrinks on every one of the last slices; off by default', async () => {
  const wld = world([12, 12, 12, 12, 11, 10, 9, 8, 7, 6], () => 0.9);
  const plain = await propagateObject(wld.decoder, wld.slices(), key);
  assert.deepEqual(sorted(plain.masks), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const r = await propagateObject(wld.decoder, wld.slices(), key, { steadyShrink: { slices: 3, ratio: 0.9 } });
  assert.equal(r.stops[0]!.up, 'shrinking');
  assert.deepEqual(sorted(r.masks), [0, 1, 2, 3, 4, 5]);
});
