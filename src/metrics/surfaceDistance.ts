import { squaredDistanceTransform } from './edt.js';

export type Dims3 = readonly [number, number, number];

/** Inclusive voxel bounding box [x0, y0, z0, x1, y1, z1] of the non-zero voxels; undefined when empty. */
export function foregroundBounds(mask: ArrayLike<number>, dims: Dims3): [number, number, number, number, number, number] | undefined {
  const [nx, ny, nz] = dims;
  let x0 = nx,
    y0 = ny,
    z0 = nz,
    x1 = -1,
    y1 = -1,
    z1 = -1;
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (mask[i] === 0) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (z < z0) z0 = z;
        if (z > z1) z1 = z;
      }
    }
  }
  return x1 < 0 ? undefined : [x0, y0, z0, x1, y1, z1];
}

/**
 * Border voxels of a mask: foreground voxels with at least one of their 6 face neighbours in the
 * background. Outside the grid counts as background (an object cut by the image edge has a
 * surface there, as in DeepMind's surface-distance and MONAI), except along axes of length 1, so
 * that a 2D image (nz = 1) gets its 2D contour rather than "everything is surface".
 * `ignoreAxis` lets a caller working on a crop say which axes are singletons of the full grid.
 */
export function surfaceVoxels(
  mask: ArrayLike<number>,
  dims: Dims3,
  ignoreAxis: readonly [boolean, boolean, boolean] = [dims[0] === 1, dims[1] === 1, dims[2] === 1],
): Uint8Array {
  const [nx, ny, nz] = dims;
  const sxy = nx * ny;
  const out = new Uint8Array(nx * ny * nz);
  // Whether stepping off the grid along each axis counts as reaching background.
  const ex = !ignoreAxis[0],
    ey = !ignoreAxis[1],
    ez = !ignoreAxis[2];
  let i = 0;
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++, i++) {
        if (mask[i] === 0) continue;
        if (
          (x > 0 ? mask[i - 1] === 0 : ex) ||
          (x < nx - 1 ? mask[i + 1] === 0 : ex) ||
          (y > 0 ? mask[i - nx] === 0 : ey) ||
          (y < ny - 1 ? mask[i + nx] === 0 : ey) ||
          (z > 0 ? mask[i - sxy] === 0 : ez) ||
          (z < nz - 1 ? mask[i + sxy] === 0 : ez)
        )
          out[i] = 1;
      }
    }
  }
  return out;
}

export interface SurfaceDistances {
  /** For each border voxel of A: distance (mm) to the nearest border voxel of B. Empty when A is empty. */
  aToB: Float64Array;
  /** For each border voxel of B: distance (mm) to the nearest border voxel of A. */
  bToA: Float64Array;
}

function crop(mask: ArrayLike<number>, dims: Dims3, b: readonly number[]): Uint8Array {
  const [nx, ny] = dims;
  const [x0, y0, z0, x1, y1, z1] = b as [number, number, number, number, number, number];
  const cx = x1 - x0 + 1,
    cy = y1 - y0 + 1,
    cz = z1 - z0 + 1;
  const out = new Uint8Array(cx * cy * cz);
  let o = 0;
  for (let z = z0; z <= z1; z++) {
    for (let y = y0; y <= y1; y++) {
      const row = x0 + nx * (y + ny * z);
      for (let x = 0; x < cx; x++) out[o++] = mask[row + x] !== 0 ? 1 : 0;
    }
  }
  return out;
}

function distancesAt(surface: Uint8Array, sqDist: Float64Array): Float64Array {
  let n = 0;
  for (let i = 0; i < surface.length; i++) if (surface[i]) n++;
  const out = new Float64Array(n);
  let j = 0;
  for (let i = 0; i < surface.length; i++) if (surface[i]) out[j++] = Math.sqrt(sqDist[i]!);
  return out;
}

/**
 * Symmetric border-to-border distances between masks A and B (non-zero = foreground) on an
 * x-fastest grid with `spacing` in mm (x, y, z). The work is done on the bounding box of A ∪ B,
 * which is exact: every border voxel of either mask, and so every distance query and every
 * feature, lies inside it.
 */
export function surfaceDistances(a: ArrayLike<number>, b: ArrayLike<number>, dims: Dims3, spacing: Dims3): SurfaceDistances {
  const n = dims[0] * dims[1] * dims[2];
  if (a.length !== n || b.length !== n)
    throw new RangeError(`surfaceDistances: masks have ${a.length} and ${b.length} voxels, dims need ${n}`);
  const ba = foregroundBounds(a, dims);
  const bb = foregroundBounds(b, dims);
  if (!ba && !bb) return { aToB: new Float64Array(0), bToA: new Float64Array(0) };
  const u =
    ba && bb
      ? [
          Math.min(ba[0], bb[0]),
          Math.min(ba[1], bb[1]),
          Math.min(ba[2], bb[2]),
          Math.max(ba[3], bb[3]),
          Math.max(ba[4], bb[4]),
          Math.max(ba[5], bb[5]),
        ]
      : (ba ?? bb)!;
  const cd: [number, number, number] = [u[3]! - u[0]! + 1, u[4]! - u[1]! + 1, u[5]! - u[2]! + 1];
  const ignore: [boolean, boolean, boolean] = [dims[0] === 1, dims[1] === 1, dims[2] === 1];
  const sa = surfaceVoxels(crop(a, dims, u), cd, ignore);
  const sb = surfaceVoxels(crop(b, dims, u), cd, ignore);
  const toB = squaredDistanceTransform(sb, cd, spacing);
  const toA = squaredDistanceTransform(sa, cd, spacing);
  return { aToB: distancesAt(sa, toB), bToA: distancesAt(sb, toA) };
}
