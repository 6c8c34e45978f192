/**
 * The review page's version diff as an overlay: every voxel labelled in only version A, only
 * version B, or both. The codes are the viewer's object ids 1, 2, 3, so the overlay takes the
 * app's object colours (red, blue, yellow) without a second colour table.
 */

export const DIFF_ONLY_A = 1;
export const DIFF_ONLY_B = 2;
export const DIFF_BOTH = 3;

export interface DiffCounts {
  onlyA: number;
  onlyB: number;
  both: number;
}

/**
 * Per-voxel diff codes of two label maps on one grid (any non-zero value is foreground; with
 * `label`, only that value). Throws when the grids differ: a diff across grids means nothing.
 */
export function diffCodes(a: Uint8Array, b: Uint8Array, label?: number): { codes: Uint8Array; counts: DiffCounts } {
  if (a.length !== b.length) throw new Error(`the two versions have different grids (${a.length} and ${b.length} voxels)`);
  const codes = new Uint8Array(a.length);
  const counts: DiffCounts = { onlyA: 0, onlyB: 0, both: 0 };
  for (let i = 0; i < a.length; i++) {
    const inA = label === undefined ? a[i] !== 0 : a[i] === label;
    const inB = label === undefined ? b[i] !== 0 : b[i] === label;
    if (inA && inB) {
      codes[i] = DIFF_BOTH;
      counts.both++;
    } else if (inA) {
      codes[i] = DIFF_ONLY_A;
      counts.onlyA++;
    } else if (inB) {
      codes[i] = DIFF_ONLY_B;
      counts.onlyB++;
    }
  }
  return { codes, counts };
}

/** Dice of the two versions from the diff counts (1 when both are empty). */
export function diceOf(c: DiffCounts): number {
  const sum = 2 * c.both + c.onlyA + c.onlyB;
  return sum === 0 ? 1 : (2 * c.both) / sum;
}

/** The slice (z, x-fastest volume of dims) with the most voxels of any of `codes`; -1 when none. */
export function busiestSlice(volume: Uint8Array, dims: readonly [number, number, number], codes: readonly number[]): number {
  const n = dims[0] * dims[1];
  if (volume.length !== n * dims[2]) throw new Error(`volume has ${volume.length} voxels, dims ${dims.join('x')} want ${n * dims[2]}`);
  const want = new Uint8Array(256);
  for (const c of codes) want[c] = 1;
  let best = -1,
    bestCount = 0;
  for (let z = 0; z < dims[2]; z++) {
    let count = 0;
    for (let i = z * n, end = i + n; i < end; i++) if (want[volume[i]!]) count++;
    if (count > bestCount) {
      best = z;
      bestCount = count;
    }
  }
  return best;
}

/** Slice z of an x-fastest volume as a 0/1 mask of voxels equal to `code`. */
export function sliceMaskOf(volume: Uint8Array, dims: readonly [number, number, number], z: number, code: number): Uint8Array {
  const n = dims[0] * dims[1];
  const out = new Uint8Array(n);
  const off = z * n;
  for (let i = 0; i < n; i++) if (volume[off + i] === code) out[i] = 1;
  return out;
}
