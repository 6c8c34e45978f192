import { MedsamError } from '../common/errors.js';
import { column, dot, type Geometry } from './geometry.js';
import type { NumericArray } from './ndarray.js';
import type { Volume } from './volume.js';

type Grid = Geometry & { dims: [number, number, number] };

/**
 * Re-express `v` on `target`'s grid when the two grids hold the same voxel centres and differ only
 * by axis flips/permutations (e.g. a NIfTI label map saved "RAS-flipped" from a DICOM series).
 * No interpolation: every voxel is copied exactly. Throws if the grids differ in any other way.
 */
export function reorientToGrid(v: Volume, target: Grid, tol = 1e-3): Volume {
  const axisOf: number[] = [];
  const sign: number[] = [];
  for (let t = 0; t < 3; t++) {
    const ct = column(target.direction, t);
    let best = -1;
    for (let s = 0; s < 3; s++) if (Math.abs(Math.abs(dot(column(v.direction, s), ct)) - 1) <= tol) best = s;
    if (best < 0 || axisOf.includes(best)) throw notAligned(v, 'axes are not a permutation/flip of each other');
    axisOf.push(best);
    sign.push(dot(column(v.direction, best), ct) > 0 ? 1 : -1);
    if (v.dims[best] !== target.dims[t])
      throw notAligned(v, `axis ${t} has ${target.dims[t]} voxels, source axis ${best} has ${v.dims[best]}`);
    if (Math.abs(v.spacing[best] - target.spacing[t]) > tol * Math.max(1, target.spacing[t]))
      throw notAligned(v, `spacing ${v.spacing[best]} vs ${target.spacing[t]}`);
  }
  // Source voxel index of the target's first voxel: must be a corner of the source grid.
  const rel = [0, 1, 2].map((r) => target.origin[r] - v.origin[r]);
  const start = [0, 1, 2].map((s) => dot(column(v.direction, s), rel) / v.spacing[s]);
  for (let t = 0; t < 3; t++) {
    const s = axisOf[t];
    const expect = sign[t] > 0 ? 0 : v.dims[s] - 1;
    if (Math.abs(start[s] - expect) > tol * 10)
      throw notAligned(v, `origins are ${(Math.abs(start[s] - expect) * v.spacing[s]).toFixed(3)} mm apart along axis ${t}`);
  }
  const [nx, ny, nz] = target.dims;
  const strides = [1, v.dims[0], v.dims[0] * v.dims[1]];
  const step = [0, 1, 2].map((t) => sign[t] * strides[axisOf[t]]);
  const base = [0, 1, 2].reduce((acc, t) => acc + (sign[t] > 0 ? 0 : (v.dims[axisOf[t]] - 1) * strides[axisOf[t]]), 0);
  const out = new (v.data.constructor as new (n: number) => NumericArray)(nx * ny * nz);
  let o = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      let src = base + k * step[2] + j * step[1];
      for (let i = 0; i < nx; i++, src += step[0]) out[o++] = v.data[src];
    }
  }
  return {
    ...v,
    data: out,
    dims: [...target.dims],
    spacing: [...target.spacing],
    origin: [...target.origin],
    direction: [...target.direction],
  };
}

function notAligned(v: Volume, why: string): MedsamError {
  return new MedsamError(
    `${v.source.path} is not on the same voxel grid as the reference (${why})`,
    'resample it onto the image grid first (e.g. with ITK-SNAP or SimpleITK)',
  );
}
