import type { Volume } from './volume.js';

export type Vec3 = [number, number, number];
export type Mat3 = Volume['direction'];
/** 3 rows of [a b c t]: world = M[:, :3] · ijk + M[:, 3]. */
export type Affine3x4 = [number[], number[], number[]];

export interface Geometry {
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
}

/** Voxel-to-world affine in LPS (ITK) space. */
export function lpsAffine(v: Geometry): Affine3x4 {
  const rows: number[][] = [];
  for (let r = 0; r < 3; r++) {
    rows.push([0, 1, 2].map((c) => v.direction[r * 3 + c] * v.spacing[c]).concat(v.origin[r]));
  }
  return rows as Affine3x4;
}

/** LPS and RAS differ by the sign of the first two world axes; the map is its own inverse. */
export function flipLpsRas(m: Affine3x4): Affine3x4 {
  return [m[0].map((x) => -x), m[1].map((x) => -x), m[2].slice()];
}

/** Spacing = column norms, direction = unit columns, origin = translation. Null if an axis has zero length. */
export function geometryFromAffine(m: Affine3x4): Geometry | null {
  const spacing: number[] = [];
  const direction = new Array<number>(9).fill(0);
  for (let c = 0; c < 3; c++) {
    const n = Math.hypot(m[0][c], m[1][c], m[2][c]);
    if (!(n > 0) || !Number.isFinite(n)) return null;
    spacing.push(n);
    // `+ 0` turns -0 (from sign flips of zeros) into 0 so geometry compares cleanly.
    for (let r = 0; r < 3; r++) direction[r * 3 + c] = m[r][c] / n + 0;
  }
  return { spacing: spacing as Vec3, origin: [m[0][3] + 0, m[1][3] + 0, m[2][3] + 0], direction: direction as Mat3 };
}

export function determinant3(d: Mat3): number {
  return d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) + d[2] * (d[3] * d[7] - d[4] * d[6]);
}

/** Column c of a row-major 3x3. */
export function column(d: Mat3, c: number): Vec3 {
  return [d[c], d[3 + c], d[6 + c]];
}

export function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

export function dot(a: readonly number[], b: readonly number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

export function normalize(a: Vec3): Vec3 {
  const n = Math.hypot(a[0], a[1], a[2]);
  return n > 0 ? [a[0] / n, a[1] / n, a[2] / n] : a;
}

/** Row-major 3x3 from three column vectors. */
export function fromColumns(a: Vec3, b: Vec3, c: Vec3): Mat3 {
  return [a[0], b[0], c[0], a[1], b[1], c[1], a[2], b[2], c[2]];
}

/**
 * Axis codes in the "points toward" convention (nibabel's aff2axcodes): identity LPS
 * direction → "LPS", a NIfTI-style RAS grid → "RAS". Oblique axes take their dominant component.
 */
export function orientationCode(direction: Mat3): string {
  const letters = [
    ['L', 'R'],
    ['P', 'A'],
    ['S', 'I'],
  ];
  let code = '';
  for (let c = 0; c < 3; c++) {
    const col = column(direction, c);
    let best = 0;
    for (let r = 1; r < 3; r++) if (Math.abs(col[r]) > Math.abs(col[best])) best = r;
    code += letters[best][col[best] >= 0 ? 0 : 1];
  }
  return code;
}

/** True when the grid axes are not aligned with the world axes (beyond `tol` in direction cosines). */
export function isOblique(direction: Mat3, tol = 1e-4): boolean {
  return direction.some((x) => Math.abs(x) > tol && Math.abs(Math.abs(x) - 1) > tol);
}

export function maxAbsDiff(a: readonly number[], b: readonly number[]): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Same voxel grid: equal dims and spacing/origin/direction within `tol` (mm / cosine). */
export function sameGrid(a: Geometry & { dims: readonly number[] }, b: Geometry & { dims: readonly number[] }, tol = 1e-5): boolean {
  return (
    a.dims.every((d, i) => d === b.dims[i]) &&
    maxAbsDiff(a.spacing, b.spacing) <= tol &&
    maxAbsDiff(a.origin, b.origin) <= tol * 10 &&
    maxAbsDiff(a.direction, b.direction) <= tol
  );
}

/**
 * geometryFromAffine for headers that may carry a zero-length (or non-finite) axis: that axis
 * becomes a 1 mm unit vector orthogonal to the others (or the matching world axis), and `onRepair`
 * is told which axes were replaced so the reader can warn once.
 */
export function geometryFromAffineRepaired(m: Affine3x4, onRepair: (axes: number[]) => void): Geometry {
  const col = (c: number): Vec3 => [m[0][c], m[1][c], m[2][c]];
  const ok = (v: Vec3): boolean => v.every(Number.isFinite) && Math.hypot(v[0], v[1], v[2]) > 0;
  const bad = [0, 1, 2].filter((c) => !ok(col(c)));
  if (bad.length === 0) {
    const g = geometryFromAffine(m);
    if (g) return g;
  }
  const fixed = m.map((r) => r.map((x) => (Number.isFinite(x) ? x : 0))) as Affine3x4;
  for (const c of bad) {
    const others = [0, 1, 2].filter((k) => k !== c && !bad.includes(k));
    let v: Vec3 = [c === 0 ? 1 : 0, c === 1 ? 1 : 0, c === 2 ? 1 : 0];
    if (others.length === 2) {
      const a = normalize([fixed[0][others[0]], fixed[1][others[0]], fixed[2][others[0]]]);
      const b = normalize([fixed[0][others[1]], fixed[1][others[1]], fixed[2][others[1]]]);
      // Right-handed completion in axis order (c = 2: a x b; c = 0: b x a... cyclic order keeps handedness).
      const n = c === 1 ? cross(b, a) : cross(a, b);
      if (Math.hypot(n[0], n[1], n[2]) > 1e-6) v = normalize(n);
    }
    for (let r = 0; r < 3; r++) fixed[r][c] = v[r];
  }
  onRepair(bad);
  const g = geometryFromAffine(fixed);
  if (g) return g;
  return { spacing: [1, 1, 1], origin: [fixed[0][3], fixed[1][3], fixed[2][3]], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
}
