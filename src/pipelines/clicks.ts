import { squaredDistanceTransform } from '../metrics/edt.js';
import { dice } from '../metrics/dice.js';
import type { NumericArray } from '../io/ndarray.js';
import { extractSlice, sliceShape, type SliceAxis } from '../preprocess/slices.js';
import type { SliceClick } from '../predictor/sam1/correction.js';
import { labelComponents2d } from '../predictor/sam1/maskOps.js';
import type { VolumePrompt } from '../predictor/prompts.js';
import type { CaseSegmenter, ObjectResult } from './objectSegmenter.js';

/**
 * The interactive-segmentation benchmark protocol (as in SAM/SAM2 and their medical follow-ups):
 * after the first prompt a simulated user clicks K times; each click goes to the centre of the
 * largest error region on the slice with the most error voxels — positive in a missed region,
 * negative in a false one — and the object is re-segmented through the model's correction path.
 */

/**
 * Where the simulated user clicks next, or undefined when prediction and reference agree.
 * The slice with the most error voxels (lowest index on ties); on it, the largest 8-connected
 * region of misses (reference, not predicted) or of false positives (predicted, not reference),
 * the larger of the two kinds winning; the click is the region's deepest pixel (largest distance
 * to the region's outside, first in row-major order on ties).
 */
export function nextClick(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  dims: [number, number, number],
  axis: SliceAxis = 2,
): (SliceClick & { region: number }) | undefined {
  const sh = sliceShape(dims, axis);
  const [nx, ny] = dims;
  const errors = new Float64Array(sh.count);
  for (let i = 0; i < ref.length; i++) {
    if (!ref[i] === !pred[i]) continue;
    const x = i % nx,
      y = Math.floor(i / nx) % ny,
      z = Math.floor(i / (nx * ny));
    errors[axis === 2 ? z : axis === 1 ? y : x]!++;
  }
  let slice = -1;
  errors.forEach((e, k) => {
    if (e > 0 && (slice < 0 || e > errors[slice]!)) slice = k;
  });
  if (slice < 0) return undefined;
  // Only the clicked slice is binarised (the whole volume twice was most of this function's time).
  const binarySlice = (v: ArrayLike<number>) => {
    const s: ArrayLike<number | bigint> = extractSlice(
      ArrayBuffer.isView(v) ? (v as NumericArray) : Float64Array.from(v),
      dims,
      axis,
      slice,
    );
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s[i] ? 1 : 0;
    return out;
  };
  const p = binarySlice(pred),
    r = binarySlice(ref);
  const w = sh.cols,
    h = sh.rows;
  const missed = Uint8Array.from(r, (v, i) => (v && !p[i] ? 1 : 0));
  const extra = Uint8Array.from(p, (v, i) => (v && !r[i] ? 1 : 0));
  let best: { labels: Int32Array; c: number; size: number; label: 0 | 1 } | undefined;
  for (const [m, label] of [
    [missed, 1],
    [extra, 0],
  ] as const) {
    const { labels, sizes } = labelComponents2d(m, w, h);
    for (let c = 1; c < sizes.length; c++) {
      if (best && sizes[c]! <= best.size) continue;
      best = { labels, c, size: sizes[c]!, label };
    }
  }
  const region = Uint8Array.from(best!.labels, (l) => (l === best!.c ? 1 : 0));
  const c = deepestPixel(region, w, h);
  return { slice, x: c.x, y: c.y, label: best!.label, region: best!.size };
}

/** The pixel of `region` farthest from its outside (the slice border counts as outside). */
export function deepestPixel(region: Uint8Array, w: number, h: number): { x: number; y: number } {
  // Pad by one pixel so the slice border is outside too.
  const W = w + 2,
    H = h + 2;
  const outside = new Uint8Array(W * H).fill(1);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (region[y * w + x]) outside[(y + 1) * W + x + 1] = 0;
  const d = squaredDistanceTransform(outside, [W, H, 1], [1, 1, 1]);
  let bi = -1,
    bd = -1;
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const v = d[(y + 1) * W + x + 1]!;
      if (region[y * w + x] && v > bd) {
        bd = v;
        bi = y * w + x;
      }
    }
  return { x: bi % w, y: Math.floor(bi / w) };
}

export interface ClickRun {
  /** DSC after click 1..K (the last value repeats once the prediction matches exactly). */
  clicks: { k: number; dsc: number; click?: SliceClick }[];
  /** Clicks needed to reach DSC 0.85 / 0.90 (0 = the first prompt alone; K+1 = never within K). */
  noc85: number;
  noc90: number;
  final: ObjectResult;
}

/** Clicks needed for `target`: 0 when the box alone reaches it, K+1 when K clicks do not. */
export function clicksToReach(boxDsc: number, afterClicks: readonly number[], target: number): number {
  if (boxDsc >= target) return 0;
  const i = afterClicks.findIndex((d) => d >= target);
  return i < 0 ? afterClicks.length + 1 : i + 1;
}

/** Runs K simulated clicks on one object, starting from its first result. */
export async function simulateClicks(
  seg: CaseSegmenter,
  prompts: VolumePrompt[],
  first: ObjectResult,
  ref: Uint8Array,
  dims: [number, number, number],
  K: number,
  axis: SliceAxis = 2,
): Promise<ClickRun> {
  const boxDsc = dice(first.mask, ref);
  let current = first,
    ps = prompts;
  const clicks: ClickRun['clicks'] = [];
  for (let k = 1; k <= K; k++) {
    const click = nextClick(current.mask, ref, dims, axis);
    if (!click) {
      clicks.push({ k, dsc: dice(current.mask, ref) });
      continue;
    }
    const r = await seg.correct(ps, current, click);
    ps = r.prompts;
    current = r.result;
    clicks.push({ k, dsc: dice(current.mask, ref), click });
  }
  const after = clicks.map((c) => c.dsc);
  return { clicks, noc85: clicksToReach(boxDsc, after, 0.85), noc90: clicksToReach(boxDsc, after, 0.9), final: current };
}
