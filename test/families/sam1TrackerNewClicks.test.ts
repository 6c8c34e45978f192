import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Sam1Engine } from '../../src/engine/sam1Engine.js';
import type { FrameStack, TrackerPropagateArgs } from '../../src/families/family.js';
import { Sam1Tracker } from '../../src/families/sam1/sam1Tracker.js';
import { maskArea } from '../../src/predictor/sam1/maskOps.js';
import { discMask } from '../helpers/discMask.js';
import { radialBoxDecoder } from '../helpers/radialDecoder.js';
import { markedSlice, sliceIndexEncoder } from '../helpers/sliceIndexEncoder.js';

/**
 * A session's corrections tell the propagator which clicks' outward trims are not in the masks yet
 * (newClicks). The stand-in model answers the radius-12 disc on every slice inside the prompt's box,
 * and radius 9 for a prompt with a negative click (radialBoxDecoder), so a negative click on a slice
 * near either end trims the slices beyond it (negativeClickTrimOutward 'once', the default) — once.
 * Before, the session kept only its latest click as new: of two clicks made before one Propagate the
 * first trimmed nothing, and a forward run forgot the click before the backward run reached below it.
 */
const W = 64,
  H = 64,
  N = 9;
const opts = { intensityModel: false, refineSteps: 0, minAreaFraction: 0 };

function tracker(): Sam1Tracker {
  const decoder = radialBoxDecoder(W, H);
  const engine = {
    entry: { id: 'radial-stand-in', family: 'sam1' },
    precision: 'fp32',
    encode: sliceIndexEncoder.encode,
    encodeRgb: sliceIndexEncoder.encode,
    decode: decoder.decode,
  } as unknown as Sam1Engine;
  const stack: FrameStack = { kind: 'volume', numFrames: N, rows: H, cols: W, channels: 1, frame: (k) => markedSlice(k, W, H) };
  return new Sam1Tracker(engine, stack, { sam1: opts });
}

const run = (direction: TrackerPropagateArgs['direction'] = 'both'): TrackerPropagateArgs => ({
  range: [0, N - 1],
  direction,
  full: false,
});
const negative = () => ({ points: [{ x: W / 2 + 11, y: H / 2, label: 0 as const }] });
const areas = (t: Sam1Tracker) => Array.from({ length: N }, (_, k) => maskArea(t.masks(1).get(k) ?? new Uint8Array(W * H)));

/** The disc's area as the propagator's masks hold it (the pixel-edge box trims its rim by a few pixels). */
const R12 = 437;

async function boxed(): Promise<Sam1Tracker> {
  const t = tracker();
  await t.prompt(1, 4, { box: [19, 19, 45, 45] }, { replace: false, correction: false });
  await t.propagate(1, run());
  assert.deepEqual(areas(t), Array(N).fill(R12), 'the box gives the radius-12 disc on every slice');
  return t;
}

test('Sam1Tracker: two negative clicks before one Propagate both trim the slices beyond them, in either order', async () => {
  const [r9, r12] = [maskArea(discMask(W, H, 9)), R12];
  const results: number[][] = [];
  for (const order of [
    [1, 7],
    [7, 1],
  ]) {
    const t = await boxed();
    for (const s of order) await t.prompt(1, s, negative(), { replace: false, correction: true });
    await t.propagate(1, run());
    const a = areas(t);
    for (const s of order)
      assert.ok(Math.abs(a[s]! - r9) < 10, `order ${order}: the click corrected slice ${s} to the radius-9 disc (${a[s]} px)`);
    assert.ok(a[0]! < r12 - 50, `order ${order}: slice 0, beyond the click on 1, is trimmed (${a[0]} px of ${r12})`);
    assert.ok(a[8]! < r12 - 50, `order ${order}: slice 8, beyond the click on 7, is trimmed (${a[8]} px of ${r12})`);
    // The stand-in is symmetric about slice 4: both clicks trim alike (before, the older one's carry kept 319 px, the newer's 287).
    assert.equal(a[0], a[8], `order ${order}: slices 0 and 8 are trimmed alike (${a[0]}, ${a[8]} px)`);
    results.push(a);
  }
  assert.deepEqual(results[0], results[1], 'the order of the two clicks does not matter');
});

test('Sam1Tracker: a forward run, then a backward one, trims the slices below a click too; a later run trims nothing again', async () => {
  const r12 = R12;
  const both = await boxed();
  await both.prompt(1, 1, negative(), { replace: false, correction: true });
  await both.propagate(1, run());
  const want = areas(both);
  assert.ok(want[0]! < r12 - 50, `one run both ways trims slice 0 (${want[0]} px)`);

  const split = await boxed();
  await split.prompt(1, 1, negative(), { replace: false, correction: true });
  await split.propagate(1, run('forward'));
  assert.equal(areas(split)[0], r12, 'the forward run leaves slice 0 as it was');
  await split.propagate(1, run('backward'));
  assert.deepEqual(areas(split), want, 'forward then backward gives what one run both ways gives');

  // The click's trim is in slice 0 now: running everything again keeps it, never trims it twice.
  await split.propagate(1, { ...run(), full: true });
  assert.deepEqual(areas(split), want, 'a full re-run keeps the trimmed slices as they are');
});
