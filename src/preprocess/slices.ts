import { MedsamError } from '../common/errors.js';
import type { NumericArray } from '../io/ndarray.js';

export type SliceAxis = 0 | 1 | 2;

/**
 * 2D slices of an x-fastest (nx, ny, nz) volume. A slice's columns are the faster of the two
 * remaining voxel axes and its rows the slower one:
 *   axis 2 (z): rows = y, cols = x   (the usual axial slice of a CT/MR stack)
 *   axis 1 (y): rows = z, cols = x
 *   axis 0 (x): rows = z, cols = y
 * so slice pixel (col, row) is a voxel index pair in the source volume, no flips.
 */
export interface SliceShape {
  rows: number;
  cols: number;
  count: number;
}

export function sliceShape(dims: readonly [number, number, number], axis: SliceAxis): SliceShape {
  const [nx, ny, nz] = dims;
  if (axis === 2) return { rows: ny, cols: nx, count: nz };
  if (axis === 1) return { rows: nz, cols: nx, count: ny };
  return { rows: nz, cols: ny, count: nx };
}

/** Strides (in elements) of slice column, slice row and slice index within the volume buffer. */
function strides(dims: readonly [number, number, number], axis: SliceAxis): { col: number; row: number; slice: number } {
  const [nx, ny] = dims;
  const sx = 1,
    sy = nx,
    sz = nx * ny;
  if (axis === 2) return { col: sx, row: sy, slice: sz };
  if (axis === 1) return { col: sx, row: sz, slice: sy };
  return { col: sy, row: sz, slice: sx };
}

function checkIndex(dims: readonly [number, number, number], axis: SliceAxis, index: number, len: number): SliceShape {
  if (axis !== 0 && axis !== 1 && axis !== 2)
    throw new MedsamError(`slice axis ${String(axis)} is not 0, 1 or 2`, 'use 0 (x), 1 (y) or 2 (z)');
  const s = sliceShape(dims, axis);
  if (!Number.isInteger(index) || index < 0 || index >= s.count) {
    throw new MedsamError(
      `slice ${index} is outside the volume along axis ${axis} (0..${s.count - 1})`,
      'pick a slice index inside the volume',
    );
  }
  if (len !== dims[0] * dims[1] * dims[2]) {
    throw new MedsamError(
      `volume buffer has ${len} voxels but dims ${dims.join('x')} need ${dims[0] * dims[1] * dims[2]}`,
      'the volume is inconsistent; re-read it',
    );
  }
  return s;
}

/** Copies slice `index` along `axis` into a new row-major (rows × cols) array of the same type. */
export function extractSlice<T extends NumericArray>(data: T, dims: readonly [number, number, number], axis: SliceAxis, index: number): T {
  const s = checkIndex(dims, axis, index, data.length);
  const st = strides(dims, axis);
  const out = new (data.constructor as { new (n: number): T })(s.rows * s.cols);
  const base = index * st.slice;
  if (st.col === 1) {
    for (let r = 0; r < s.rows; r++) {
      const o = base + r * st.row;
      (out as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(
        data.subarray(o, o + s.cols) as ArrayLike<unknown>,
        r * s.cols,
      );
    }
    return out;
  }
  for (let r = 0; r < s.rows; r++) {
    const o = base + r * st.row;
    for (let c = 0; c < s.cols; c++) (out as unknown as number[])[r * s.cols + c] = (data as unknown as number[])[o + c * st.col]!;
  }
  return out;
}

/** Writes a row-major (rows × cols) slice back into the volume buffer at `index` along `axis`. */
export function insertSlice<T extends NumericArray>(
  data: T,
  dims: readonly [number, number, number],
  axis: SliceAxis,
  index: number,
  slice: ArrayLike<number | bigint>,
): void {
  const s = checkIndex(dims, axis, index, data.length);
  if (slice.length !== s.rows * s.cols) {
    throw new MedsamError(
      `slice has ${slice.length} pixels but axis ${axis} slices are ${s.cols}x${s.rows}`,
      'this is a bug in the caller; please report it',
    );
  }
  const st = strides(dims, axis);
  const base = index * st.slice;
  if (st.col === 1 && ArrayBuffer.isView(slice)) {
    // Rows are contiguous in the volume (axes 1 and 2): typed-array copies, same conversions as assignment.
    const src = slice as unknown as Uint8Array;
    for (let r = 0; r < s.rows; r++) (data as unknown as Uint8Array).set(src.subarray(r * s.cols, (r + 1) * s.cols), base + r * st.row);
    return;
  }
  const dst = data as unknown as (number | bigint)[];
  for (let r = 0; r < s.rows; r++) {
    const o = base + r * st.row;
    for (let c = 0; c < s.cols; c++) dst[o + c * st.col] = slice[r * s.cols + c]!;
  }
}
