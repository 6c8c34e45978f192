/**
 * A slice plane of an anisotropic volume at (near-)square pixels, and back. A coronal or sagittal
 * plane of a thick-slice scan (e.g. 0.78 mm columns, 6.5 mm rows) on its voxel grid is a flat strip
 * (256 × 25); the model would see each row as an 8× taller band than the anatomy it holds, and its
 * mask, upsampled from the model's low-resolution output, spills into the rows around a box. So the
 * plane goes to the model upsampled along its coarse axis to the fine axis's spacing, prompts are
 * mapped onto that grid, and masks come back to the voxel grid by an area rule (a voxel is set when
 * more than half of the resampled pixels it covers are), so a mask inside a box's voxel rows stays
 * inside them. Hand-written: the exact box/row bookkeeping no image library gives (the image itself
 * goes through the preprocessing's resizeBilinearU8).
 */
import { resizeBilinearU8 } from './samImage.js';

/** [x0, y0, x1, y1] in pixels (a box, or a line's two ends). */
type Box = [number, number, number, number];

/** Upsampling of one axis: `n` voxels to `m` >= n resampled pixels (voxel i covers [i*m/n, (i+1)*m/n)). */
export class AxisResample {
  /** The voxel each resampled pixel belongs to (its centre lies in that voxel). */
  readonly owner: Int32Array;
  /** Resampled pixels per voxel. */
  readonly count: Int32Array;

  constructor(
    readonly n: number,
    readonly m: number,
  ) {
    this.owner = new Int32Array(m);
    this.count = new Int32Array(n);
    for (let j = 0; j < m; j++) {
      const i = Math.min(n - 1, Math.floor(((j + 0.5) * n) / m));
      this.owner[j] = i;
      this.count[i]!++;
    }
  }

  get identity(): boolean {
    return this.n === this.m;
  }

  /** A voxel's centre (fractional voxel index) in resampled pixels. */
  centre(v: number): number {
    return ((v + 0.5) * this.m) / this.n - 0.5;
  }

  /** A box's low edge (its first voxel's index) as the first resampled pixel of that voxel. */
  low(v: number): number {
    return (v * this.m) / this.n;
  }

  /** A box's high edge (its last voxel's index, inclusive) as the last resampled pixel of that voxel. */
  high(v: number): number {
    return ((v + 1) * this.m) / this.n - 1;
  }
}

/** A plane's voxel grid (rows × cols) and the resampled grid the model sees. */
export class PlaneResample {
  readonly rowAxis: AxisResample;
  readonly colAxis: AxisResample;

  constructor(
    readonly rows: number,
    readonly cols: number,
    outRows: number,
    outCols: number,
  ) {
    this.rowAxis = new AxisResample(rows, outRows);
    this.colAxis = new AxisResample(cols, outCols);
  }

  get outRows(): number {
    return this.rowAxis.m;
  }

  get outCols(): number {
    return this.colAxis.m;
  }

  /**
   * The resampling that makes a plane's pixels square (rows' and columns' spacing in mm), or
   * undefined when they already are within `tolerance` (e.g. an axial CT slice). Only the coarse
   * axis is upsampled (nothing is lost), to at most `maxSide` pixels.
   */
  static forSpacing(
    rows: number,
    cols: number,
    rowSpacing: number,
    colSpacing: number,
    opts: { tolerance?: number; maxSide?: number } = {},
  ): PlaneResample | undefined {
    const tol = opts.tolerance ?? 1.1;
    const maxSide = opts.maxSide ?? 2048;
    if (!(rowSpacing > 0 && colSpacing > 0) || !Number.isFinite(rowSpacing / colSpacing)) return undefined;
    const ratio = rowSpacing / colSpacing;
    let outRows = rows,
      outCols = cols;
    if (ratio > tol) outRows = Math.min(Math.round(rows * ratio), Math.max(rows, maxSide));
    else if (1 / ratio > tol) outCols = Math.min(Math.round(cols / ratio), Math.max(cols, maxSide));
    if (outRows === rows && outCols === cols) return undefined;
    return new PlaneResample(rows, cols, outRows, outCols);
  }

  /**
   * A row-major rows × cols × channels 8-bit image on the resampled grid: each channel by the
   * preprocessing's bilinear resize (pixel centres aligned, plain bilinear when upscaling).
   */
  image(src: Uint8Array, channels = 1): Uint8Array {
    const { rows, cols, outRows: R, outCols: C } = this;
    if (channels === 1) return resizeBilinearU8(src, rows, cols, R, C);
    const out = new Uint8Array(R * C * channels);
    const plane = new Uint8Array(rows * cols);
    for (let k = 0; k < channels; k++) {
      for (let i = 0; i < plane.length; i++) plane[i] = src[i * channels + k]!;
      const up = resizeBilinearU8(plane, rows, cols, R, C);
      for (let i = 0; i < up.length; i++) out[i * channels + k] = up[i]!;
    }
    return out;
  }

  /** A voxel-grid mask on the resampled grid (each voxel fills its pixels). */
  maskUp(mask: Uint8Array): Uint8Array {
    const R = this.outRows,
      C = this.outCols;
    const ro = this.rowAxis.owner,
      co = this.colAxis.owner;
    const out = new Uint8Array(R * C);
    for (let r = 0; r < R; r++) {
      const base = ro[r]! * this.cols;
      for (let c = 0; c < C; c++) out[r * C + c] = mask[base + co[c]!] ? 1 : 0;
    }
    return out;
  }

  /** A resampled-grid mask back on the voxel grid: a voxel is set when more than half its pixels are. */
  maskDown(mask: Uint8Array): Uint8Array {
    const votes = this.sumDown(mask, (v) => (v ? 1 : 0));
    const out = new Uint8Array(this.rows * this.cols);
    const rc = this.rowAxis.count,
      cc = this.colAxis.count;
    for (let r = 0; r < this.rows; r++)
      for (let c = 0; c < this.cols; c++) out[r * this.cols + c] = 2 * votes[r * this.cols + c]! > rc[r]! * cc[c]! ? 1 : 0;
    return out;
  }

  /** Per-pixel values (e.g. logits) back on the voxel grid as the mean over each voxel's pixels. */
  valuesDown(values: Float32Array): Float32Array {
    const sums = this.sumDown(values, (v) => v);
    const rc = this.rowAxis.count,
      cc = this.colAxis.count;
    for (let r = 0; r < this.rows; r++) for (let c = 0; c < this.cols; c++) sums[r * this.cols + c]! /= rc[r]! * cc[c]!;
    return sums;
  }

  private sumDown(src: ArrayLike<number>, f: (v: number) => number): Float32Array {
    const C = this.outCols;
    const ro = this.rowAxis.owner,
      co = this.colAxis.owner;
    const out = new Float32Array(this.rows * this.cols);
    for (let r = 0; r < this.outRows; r++) {
      const base = ro[r]! * this.cols;
      for (let c = 0; c < C; c++) out[base + co[c]!]! += f(src[r * C + c]!);
    }
    return out;
  }

  /** A box [x0, y0, x1, y1] of voxel indices (inclusive) as the resampled pixels of the same voxels. */
  box(b: Box): Box {
    return [this.colAxis.low(b[0]), this.rowAxis.low(b[1]), this.colAxis.high(b[2]), this.rowAxis.high(b[3])];
  }

  /** A point (or a line's end) at a voxel's centre on the resampled grid. */
  point<P extends { x: number; y: number }>(p: P): P {
    return { ...p, x: this.colAxis.centre(p.x), y: this.rowAxis.centre(p.y) };
  }

  /** A RECIST line [x0, y0, x1, y1] (voxel centres) on the resampled grid. */
  line(l: Box): Box {
    return [this.colAxis.centre(l[0]), this.rowAxis.centre(l[1]), this.colAxis.centre(l[2]), this.rowAxis.centre(l[3])];
  }
}
