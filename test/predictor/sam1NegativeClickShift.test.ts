import { test } from 'node:test';
import assert from 'node:assert/strict';
import { maskArea } from '../../src/predictor/sam1/maskOps.js';
import { looksKept, shiftedBox, shiftedSide } from '../../src/predictor/sam1/negativeClickShift.js';
import { boxFromMask } from '../../src/predictor/prompts.js';
import { discMask } from '../helpers/discMask.js';

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
