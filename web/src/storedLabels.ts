/**
 * The server's label map as stored (GET /sessions/:id/labelmap?format=nii.gz), read into voxels
 * for the overlay. After an edit, slices other than the edited one can change too: each object is
 * its largest 3D connected component, so a prompt that joins or splits the object moves whole
 * slices in or out of it. Reading the label map once (one build on the server, cached for its save;
 * a few kB gzipped) and diffing it against the overlay finds every changed slice, instead of one
 * request per slice. The core's NIfTI reader (src/io/niftiRead.ts: browser-safe, fflate inflates
 * with a size limit) parses it, as the server's own reader does.
 */
import { parseNifti } from '../../src/io/niftiRead.js';

/** x-fastest uint8 voxels of a gzipped NIfTI label map of `dims`, or undefined when it is not one. */
export function niftiLabels(gz: Uint8Array, dims: readonly [number, number, number]): Uint8Array | undefined {
  let data: unknown;
  try {
    const v = parseNifti(gz, 'the stored label map', { onWarning: () => {} });
    if (v.dims.some((d, i) => d !== dims[i])) return undefined;
    data = v.data;
  } catch {
    // Not a NIfTI of this grid (an older server, a proxy's error page): the caller reads slice by slice.
    return undefined;
  }
  return data instanceof Uint8Array ? data : undefined;
}

/**
 * Copies `stored` into `shown` and returns the z-slices (x-fastest nx × ny × nz) where they differed.
 * (The overlay's partial redraw takes planes along any axis; z is the one a flat scan of a
 * whole-volume diff finds cheapest.)
 */
export function syncSlices(shown: Uint8Array, stored: Uint8Array, nx: number, ny: number): number[] {
  const plane = nx * ny;
  const changed: number[] = [];
  for (let z = 0, off = 0; off < shown.length; z++, off += plane) {
    for (let i = off; i < off + plane; i++)
      if (shown[i] !== stored[i]) {
        changed.push(z);
        shown.set(stored.subarray(off, off + plane), off);
        break;
      }
  }
  return changed;
}
