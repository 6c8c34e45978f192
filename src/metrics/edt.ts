/**
 * Exact Euclidean distance transform on an anisotropic 3D grid (Felzenszwalb & Huttenlocher 2012,
 * "Distance Transforms of Sampled Functions"): one 1D lower-envelope-of-parabolas pass per axis,
 * each pass using that axis' voxel spacing, so distances come out in mm.
 * Written by hand: the npm EDT packages are 2D-only, isotropic, or approximate (chamfer), and
 * surface metrics need exact anisotropic 3D distances.
 */

/**
 * In-place 1D squared distance transform of `f` (length n, Infinity = no feature) with sample
 * spacing `sp`: d[x] = min_q (sp·(x − q))² + f[q]. `v`, `z` are scratch buffers (n and n + 1).
 */
function transform1d(f: Float64Array, n: number, sp: number, v: Int32Array, z: Float64Array, out: Float64Array): void {
  let first = -1;
  for (let q = 0; q < n; q++)
    if (f[q] !== Infinity) {
      first = q;
      break;
    }
  if (first < 0) {
    out.fill(Infinity, 0, n);
    return;
  }
  const sp2 = sp * sp;
  let k = 0;
  v[0] = first;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = first + 1; q < n; q++) {
    const fq = f[q]!;
    if (fq === Infinity) continue; // an infinite parabola never forms part of the envelope
    let s: number;
    for (;;) {
      const r = v[k]!;
      s = (fq + sp2 * q * q - (f[r]! + sp2 * r * r)) / (2 * sp2 * (q - r));
      if (s > z[k]!) break;
      k--;
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let x = 0; x < n; x++) {
    while (z[k + 1]! < x) k++;
    const r = v[k]!;
    out[x] = sp2 * (x - r) * (x - r) + f[r]!;
  }
}

/**
 * Squared Euclidean distance (mm²) from every voxel to the nearest voxel with `feature[i] !== 0`,
 * for an x-fastest (nx, ny, nz) grid with spacing (sx, sy, sz). Infinity everywhere when there is
 * no feature voxel.
 */
export function squaredDistanceTransform(
  feature: ArrayLike<number>,
  dims: readonly [number, number, number],
  spacing: readonly [number, number, number],
): Float64Array {
  const [nx, ny, nz] = dims;
  const total = nx * ny * nz;
  const d = new Float64Array(total);
  for (let i = 0; i < total; i++) d[i] = feature[i] ? 0 : Infinity;
  const maxN = Math.max(nx, ny, nz);
  const line = new Float64Array(maxN);
  const out = new Float64Array(maxN);
  const v = new Int32Array(maxN);
  const z = new Float64Array(maxN + 1);
  const pass = (n: number, stride: number, sp: number, starts: Iterable<number>) => {
    if (n === 1) return; // a single sample: nothing to propagate along this axis
    for (const base of starts) {
      for (let i = 0; i < n; i++) line[i] = d[base + i * stride]!;
      transform1d(line, n, sp, v, z, out);
      for (let i = 0; i < n; i++) d[base + i * stride] = out[i]!;
    }
  };
  function* rowStarts(a: number, strideA: number, b: number, strideB: number): Generator<number> {
    for (let j = 0; j < b; j++) for (let i = 0; i < a; i++) yield i * strideA + j * strideB;
  }
  pass(nx, 1, spacing[0], rowStarts(ny, nx, nz, nx * ny));
  pass(ny, nx, spacing[1], rowStarts(nx, 1, nz, nx * ny));
  pass(nz, nx * ny, spacing[2], rowStarts(nx, 1, ny, nx));
  return d;
}
