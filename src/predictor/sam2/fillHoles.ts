import { MedsamError } from '../../common/errors.js';

/**
 * Upstream fill_holes_in_mask_scores (sam2/utils/misc.py, MedSAM2 @ 332f30d): background pixels
 * (score <= 0) are labelled into 8-connected components, and every component with area <=
 * maxArea becomes foreground with score 0.1. Upstream needs its CUDA `_C` extension for the
 * labelling (and silently skips the step without it); this is a plain JS two-pass union-find.
 * Components touching the border count too, as upstream.
 */
export function fillHolesInMaskScores(mask: Float32Array, height: number, width: number, maxArea: number): Float32Array {
  if (!(maxArea > 0))
    throw new MedsamError(`fill_hole_area ${maxArea} must be positive`, 'pass 0 to the predictor to disable hole filling');
  if (mask.length !== height * width)
    throw new MedsamError(`mask has ${mask.length} values, expected ${height}×${width}`, 'pass one [H,W] mask');
  const labels = connectedComponents8(mask, height, width, (v) => v <= 0);
  const area = new Int32Array(labels.count + 1);
  for (let i = 0; i < labels.label.length; i++) area[labels.label[i]!]!++;
  const out = mask.slice();
  for (let i = 0; i < out.length; i++) {
    const l = labels.label[i]!;
    if (l > 0 && area[l]! <= maxArea) out[i] = 0.1;
  }
  return out;
}

/**
 * 8-connected component labels (1..count, 0 = not selected) of the pixels where `select` holds.
 * Labels are numbered in raster order of each component's first pixel.
 */
export function connectedComponents8(
  values: ArrayLike<number>,
  height: number,
  width: number,
  select: (v: number) => boolean,
): { label: Int32Array; count: number } {
  const n = height * width;
  const parent = new Int32Array(n).fill(-1);
  const find = (i: number): number => {
    let r = i;
    while (parent[r] !== r) r = parent[r]!;
    while (parent[i] !== r) {
      const next = parent[i]!;
      parent[i] = r;
      i = next;
    }
    return r;
  };
  const union = (a: number, b: number): void => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) {
      if (ra < rb) parent[rb] = ra;
      else parent[ra] = rb;
    }
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (!select(values[i]!)) continue;
      parent[i] = i;
      // Already-visited 8-neighbours: W, NW, N, NE.
      if (x > 0 && parent[i - 1]! >= 0) union(i, i - 1);
      if (y > 0) {
        const up = i - width;
        if (x > 0 && parent[up - 1]! >= 0) union(i, up - 1);
        if (parent[up]! >= 0) union(i, up);
        if (x < width - 1 && parent[up + 1]! >= 0) union(i, up + 1);
      }
    }
  }
  const label = new Int32Array(n);
  const rootLabel = new Int32Array(n);
  let count = 0;
  for (let i = 0; i < n; i++) {
    if (parent[i]! < 0) continue;
    const r = find(i);
    if (rootLabel[r] === 0) rootLabel[r] = ++count;
    label[i] = rootLabel[r]!;
  }
  return { label, count };
}
