import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Sam1Decoded, Sam1Embedding, Sam1Prompt } from '../../src/engine/sam1Engine.js';
import { SliceEmbeddings } from '../../src/predictor/sam1/embeddingCache.js';
import { maskArea, maskDice } from '../../src/predictor/sam1/maskOps.js';
import { looksKept, shiftedBox, shiftedSide } from '../../src/predictor/sam1/negativeClickShift.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { correctObject, propagateObject, type Sam1PropagationOptions } from '../../src/predictor/sam1Propagator.js';
import { discMask } from '../helpers/discMask.js';
import { markedSlice, sliceIndexEncoder } from '../helpers/sliceIndexEncoder.js';

const W = 64,
  H = 64;
/** `m` without its pixels at x >= x0 (a negative click's cut of the right side). */
const cutRight = (m: Uint8Array, x0: number) => Uint8Array.from(m, (v, i) => (v && i % W < x0 ? 1 : 0));

test('shiftedBox: a one-sided cut moves the old box away from it by the cut width; an even cut moves nothing', () => {
  // The mask: a radius-10 disc at x 36, the object the same disc at x 30 (6 px left of it).
  const prior = discMask(W, H, 10, 36, 32);
  const kept = cutRight(prior, 41); // the right 5 px cut
  const p = boxFromMask(prior, W, H)!;
  assert.deepEqual(shiftedBox(prior, kept, W, H), [p[0] - 6, p[1], p[2] - 6, p[3]]);
  // Both sides cut alike: a size correction, no shift.
  const even = Uint8Array.from(prior, (v, i) => (v && i % W > 27 && i % W < 45 ? 1 : 0));
  assert.equal(shiftedBox(prior, even, W, H), undefined);
  // At the slice's edge the box moves only as far as the slice goes.
  const nearEdge = discMask(W, H, 10, 13, 32);
  assert.equal(shiftedBox(nearEdge, cutRight(nearEdge, 18), W, H)![0], 0);
  const atEdge = discMask(W, H, 10, 10, 32);
  assert.equal(shiftedBox(atEdge, cutRight(atEdge, 15), W, H), undefined, 'no room to move');
});

test('shiftedSide: only what the old mask missed, touching what the click kept, and no more than the click removed', () => {
  // The mask: a radius-10 disc 6 px right of the object; the click took what lies off the object.
  const prior = discMask(W, H, 10, 36, 32);
  const object = discMask(W, H, 10, 30, 32);
  const kept = Uint8Array.from(prior, (v, i) => v & object[i]!);
  const removed = maskArea(prior) - maskArea(kept);
  // The shifted decode finds the object: its part left of the old mask is added.
  const added = shiftedSide(kept, object, prior, W, H)!;
  assert.ok(added, 'the missed side is added');
  for (let i = 0; i < added.length; i++) if (added[i]) assert.ok(object[i] && !prior[i], 'added pixels are new object pixels');
  assert.ok(maskArea(added) > 0 && maskArea(added) <= removed);
  // A blob apart from the kept mask is not added.
  const apart = discMask(W, H, 4, 8, 8);
  assert.equal(
    shiftedSide(
      kept,
      Uint8Array.from(apart, (v, i) => v | kept[i]!),
      prior,
      W,
      H,
    ),
    undefined,
  );
  // An answer that grows the object by more than the click removed is refused whole.
  assert.equal(shiftedSide(kept, discMask(W, H, 16, 30, 32), prior, W, H), undefined);
});

test('looksKept: the added side must look like what the click kept, not like what it removed', () => {
  // Grey levels: the kept part 200, the removed part 60; an added part of 200 looks kept, of 60 removed.
  const kept = discMask(W, H, 8, 30, 32);
  const removed = Uint8Array.from(discMask(W, H, 12, 34, 32), (v, i) => (v && !kept[i] ? 1 : 0));
  const added = Uint8Array.from(discMask(W, H, 3, 20, 32), (v, i) => (v && !kept[i] ? 1 : 0));
  const image = (addedGrey: number) => Uint8Array.from(kept, (v, i) => (v ? 200 : removed[i] ? 60 : added[i] ? addedGrey : 120));
  assert.equal(looksKept(image(200), kept, removed, added), true);
  assert.equal(looksKept(image(60), kept, removed, added), false);
  assert.equal(looksKept(image(200), kept, removed, new Uint8Array(W * H)), false, 'nothing to add');
});

/** A stand-in decoder that follows the box: logits (radius − distance) round the box's centre, radius half its shorter side (+ ½ px, so a mask's box answers that mask), −5 outside it. */
function boxCentredDecoder(w: number, h: number) {
  return {
    async decode(_emb: Sam1Embedding, prompt: Sam1Prompt): Promise<Sam1Decoded> {
      const [x0, y0, x1, y1] = prompt.box ?? [0, 0, w - 1, h - 1];
      const cx = (x0 + x1) / 2,
        cy = (y0 + y1) / 2,
        r = Math.min(x1 - x0, y1 - y0) / 2 + 0.5;
      const logits = Float32Array.from({ length: w * h }, (_, i) => {
        const x = i % w,
          y = Math.floor(i / w);
        return x >= x0 && x <= x1 && y >= y0 && y <= y1 ? r - Math.hypot(x - cx, y - cy) : -5;
      });
      return { logits, lowRes: new Float32Array(256 * 256), iou: 0.9 };
    },
  };
}

test('correctObject (default): a one-sided negative click also shows the side the mask missed on its slice, the carry beyond unchanged', async () => {
  const decoder = boxCentredDecoder(W, H);
  const opts: Sam1PropagationOptions = { intensityModel: false, refineSteps: 0, minAreaFraction: 0, pixelEdges: false };
  const prompts = [{ slice: 3, box: [19, 19, 45, 45] as [number, number, number, number] }];
  const emb = () => new SliceEmbeddings(sliceIndexEncoder, (k) => markedSlice(k, W, H), W, H, 4);
  const first = await propagateObject(decoder, emb(), prompts, opts);
  const prior = first.masks.get(1)!;
  // A negative click 5 px inside the disc's right edge: it cuts that side only.
  const click = { slice: 1, x: 40, y: 32, label: 0 as const };
  const off = await correctObject(decoder, emb(), prompts, first, click, { ...opts, negativeClickShift: false });
  const on = await correctObject(decoder, emb(), prompts, first, click, opts);
  const [m0, m1] = [off, on].map((r) => r.propagation.masks.get(1)!);
  let added = 0;
  for (let i = 0; i < m1!.length; i++) {
    if (m0![i]) assert.equal(m1![i], 1, 'the cut mask is kept');
    if (m1![i] && !m0![i]) {
      added++;
      assert.ok(!prior[i] && i % W < 32, 'what is added lies outside the old mask, on the side away from the click');
    }
  }
  assert.ok(added > 0, 'the default adds the missed side');
  assert.ok(maskArea(m1!) <= maskArea(prior), 'no larger than the mask before the click');
  assert.equal(maskDice(on.propagation.masks.get(0)!, off.propagation.masks.get(0)!), 1, 'the carry beyond is seeded as before');
});
