import { MedsamError } from '../common/errors.js';
import { squaredDistanceTransform } from '../metrics/edt.js';
import { extractSlice, sliceShape, type SliceAxis } from '../preprocess/slices.js';
import { boxFromMask, recistFromLineMask, type Box, type VolumePrompt } from '../predictor/prompts.js';

/**
 * Prompts simulated from a reference mask, for evaluation and demos — the way MedSAM2's papers
 * and scripts evaluate: one prompt on a key slice, everything else left to propagation.
 */

export const PROMPT_POLICIES = ['key-box', 'key-box-center', 'recist'] as const;
export type PromptPolicy = (typeof PROMPT_POLICIES)[number];

export function parsePromptPolicy(text: string): PromptPolicy {
  if ((PROMPT_POLICIES as readonly string[]).includes(text)) return text as PromptPolicy;
  throw new MedsamError(`unknown prompt policy '${text}'`, `use one of ${PROMPT_POLICIES.join(', ')}`);
}

/** Index of the slice along `axis` with the most foreground voxels (the first one on ties); -1 when empty. */
export function largestSlice(mask: ArrayLike<number>, dims: readonly [number, number, number], axis: SliceAxis = 2): number {
  const [nx, ny] = dims;
  const counts = new Float64Array(sliceShape(dims, axis).count);
  for (let i = 0; i < mask.length; i++) {
    if (mask[i] === 0) continue;
    const x = i % nx,
      y = Math.floor(i / nx) % ny,
      z = Math.floor(i / (nx * ny));
    counts[axis === 2 ? z : axis === 1 ? y : x]!++;
  }
  let best = -1,
    bestCount = 0;
  counts.forEach((c, k) => {
    if (c > bestCount) {
      bestCount = c;
      best = k;
    }
  });
  return best;
}

/** Convex hull (Andrew's monotone chain) of integer points, counter-clockwise. */
function convexHull(pts: [number, number][]): [number, number][] {
  if (pts.length < 3) return pts;
  const p = [...pts].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o: number[], a: number[], b: number[]) => (a[0]! - o[0]!) * (b[1]! - o[1]!) - (a[1]! - o[1]!) * (b[0]! - o[0]!);
  const lower: [number, number][] = [];
  for (const q of p) {
    while (lower.length >= 2 && cross(lower[lower.length - 2]!, lower[lower.length - 1]!, q) <= 0) lower.pop();
    lower.push(q);
  }
  const upper: [number, number][] = [];
  for (let i = p.length - 1; i >= 0; i--) {
    const q = p[i]!;
    while (upper.length >= 2 && cross(upper[upper.length - 2]!, upper[upper.length - 1]!, q) <= 0) upper.pop();
    upper.push(q);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/**
 * The longest diameter of a 2D mask as RECIST measures it: the farthest pair of mask pixels
 * [x0, y0, x1, y1] (found on the convex hull, so large masks stay cheap). Undefined when empty.
 */
export function longestDiameter(mask: ArrayLike<number>, width: number, height: number): Box | undefined {
  const pts: [number, number][] = [];
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) if (mask[y * width + x]) pts.push([x, y]);
  if (pts.length === 0) return undefined;
  const hull = convexHull(pts);
  let best: Box = [pts[0]![0], pts[0]![1], pts[0]![0], pts[0]![1]];
  let bestD = -1;
  for (let i = 0; i < hull.length; i++) {
    for (let j = i + 1; j < hull.length; j++) {
      const d = (hull[i]![0] - hull[j]![0]) ** 2 + (hull[i]![1] - hull[j]![1]) ** 2;
      if (d > bestD) {
        bestD = d;
        best = [hull[i]![0], hull[i]![1], hull[j]![0], hull[j]![1]];
      }
    }
  }
  return best;
}

/** The mask pixel farthest from the background (its most interior point), as {x, y}. */
export function interiorPoint(mask: ArrayLike<number>, width: number, height: number): { x: number; y: number } | undefined {
  const bg = new Uint8Array(width * height);
  let any = false;
  for (let i = 0; i < bg.length; i++) {
    bg[i] = mask[i] ? 0 : 1;
    if (mask[i]) any = true;
  }
  if (!any) return undefined;
  const d = squaredDistanceTransform(bg, [width, height, 1], [1, 1, 1]);
  let best = -1,
    bestD = -1;
  for (let i = 0; i < d.length; i++) {
    // A mask filling the whole slice has no background: every distance is Infinity, take the first.
    if (mask[i] && (d[i]! > bestD || best < 0)) {
      bestD = d[i]!;
      best = i;
    }
  }
  return { x: best % width, y: Math.floor(best / width) };
}

export interface ReferencePromptInput {
  /** Binary reference (non-zero = object), x-fastest on the image grid. */
  reference: ArrayLike<number>;
  dims: [number, number, number];
  axis?: SliceAxis;
  /** RECIST line mask volume (MedSAM2 npz `recist`), binary, same grid; used by policy 'recist'. */
  recist?: ArrayLike<number>;
  objId?: number;
}

/**
 * One prompt from a reference mask:
 * - 'key-box': the tight box of the reference on its largest slice;
 * - 'key-box-center': that box plus a positive point at the slice mask's most interior pixel;
 * - 'recist': the RECIST line from the `recist` volume when given, else the reference's longest
 *   diameter on the key slice; the line is turned into a box by segmentVolume as MedSAM2 does.
 */
export function promptFromReference(policy: PromptPolicy, input: ReferencePromptInput): VolumePrompt {
  const axis = input.axis ?? 2;
  const { dims } = input;
  const sh = sliceShape(dims, axis);
  const objId = input.objId ?? 1;
  if (policy === 'recist' && input.recist) {
    const slice = largestSlice(input.recist, dims, axis);
    if (slice >= 0) {
      const line = extractSlice(
        Uint8Array.from(input.recist, (v) => (v ? 1 : 0)),
        dims,
        axis,
        slice,
      );
      const recist = recistFromLineMask(line, sh.cols, sh.rows)!;
      return { objId, slice, recist };
    }
  }
  const slice = largestSlice(input.reference, dims, axis);
  if (slice < 0) throw new MedsamError('the reference mask is empty', 'pick a case (or --label) whose reference has the object');
  const sliceMask = extractSlice(
    Uint8Array.from(input.reference, (v) => (v ? 1 : 0)),
    dims,
    axis,
    slice,
  );
  if (policy === 'recist') {
    const recist = longestDiameter(sliceMask, sh.cols, sh.rows)!;
    return { objId, slice, recist };
  }
  const box = boxFromMask(sliceMask, sh.cols, sh.rows)!;
  if (policy === 'key-box') return { objId, slice, box };
  const c = interiorPoint(sliceMask, sh.cols, sh.rows)!;
  return { objId, slice, box, points: [{ x: c.x, y: c.y, label: 1 }] };
}
