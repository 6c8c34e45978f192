import { boxFromMask, type Box, type VolumePrompt } from '../prompts.js';

/**
 * The correction path of an interactive session, shared by every model family: a click on one
 * slice becomes (part of) an extra key prompt for the object, so the model re-segments that slice
 * with the click and the object is propagated again from there. The SAM1 propagator re-runs with
 * the extra key (each key owns the slices nearer to it); SAM2-family models add the points on that
 * frame of the video predictor and propagate again.
 */

/** One click on one slice, in slice pixel coordinates (x = column, y = row). */
export interface SliceClick {
  slice: number;
  x: number;
  y: number;
  /** 1 = "this is the object" (a missed region), 0 = "this is not" (a false region). */
  label: 0 | 1;
}

/** Margin (pixels) kept around a positive click that falls outside the previous box. */
const CLICK_MARGIN = 4;

/**
 * The object's prompts after `click`. A click on a slice that already has a prompt joins that
 * prompt's points; otherwise the slice becomes a new key with the click and the object's previous
 * box there (the current mask's box on that slice, else the nearest slice's), grown to contain a
 * positive click that falls outside it. `current` holds the current per-slice masks (row-major).
 */
export function promptsWithClick(
  prompts: readonly VolumePrompt[],
  click: SliceClick,
  current: ReadonlyMap<number, ArrayLike<number>>,
  width: number,
  height: number,
): VolumePrompt[] {
  const objId = prompts[0]?.objId;
  const point = { x: click.x, y: click.y, label: click.label };
  const out = prompts.map((p) => ({ ...p, points: p.points ? [...p.points] : undefined }));
  const same = out.find((p) => p.slice === click.slice);
  if (same) {
    if (same.mask) {
      // A mask prompt cannot carry clicks in SAM's decoder: its box stands in for it.
      same.box = boxFromMask(same.mask, width, height) ?? same.box;
      delete same.mask;
    }
    (same.points ??= []).push(point);
    if (click.label === 1 && same.box) same.box = containing(same.box, click, width, height);
    return out;
  }
  let box = nearestBox(click.slice, current, width, height) ?? nearestPromptBox(click.slice, prompts);
  if (box && click.label === 1) box = containing(box, click, width, height);
  const added: VolumePrompt = { slice: click.slice, points: [point] };
  if (objId !== undefined) added.objId = objId;
  if (box) added.box = box;
  return [...out, added].sort((a, b) => a.slice - b.slice);
}

function containing(b: Box, c: { x: number; y: number }, width: number, height: number): Box {
  if (c.x >= b[0] && c.x <= b[2] && c.y >= b[1] && c.y <= b[3]) return b;
  return [
    Math.max(0, Math.min(b[0], c.x - CLICK_MARGIN)),
    Math.max(0, Math.min(b[1], c.y - CLICK_MARGIN)),
    Math.min(width - 1, Math.max(b[2], c.x + CLICK_MARGIN)),
    Math.min(height - 1, Math.max(b[3], c.y + CLICK_MARGIN)),
  ];
}

/** The box of the mask on `slice`, else of the nearest non-empty slice (lower one on ties). */
function nearestBox(slice: number, current: ReadonlyMap<number, ArrayLike<number>>, width: number, height: number): Box | undefined {
  let best: Box | undefined,
    bestD = Infinity;
  for (const [k, m] of current) {
    const d = Math.abs(k - slice);
    if (d > bestD || (d === bestD && k > slice)) continue;
    const b = boxFromMask(m, width, height);
    if (b) {
      best = b;
      bestD = d;
    }
  }
  return best;
}

function nearestPromptBox(slice: number, prompts: readonly VolumePrompt[]): Box | undefined {
  const withBox = prompts.filter((p) => p.box).sort((a, b) => Math.abs(a.slice - slice) - Math.abs(b.slice - slice));
  return withBox[0]?.box;
}
