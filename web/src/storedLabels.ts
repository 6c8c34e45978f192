/**
 * The server's label map as stored (GET /sessions/:id/labelmap?format=nii.gz), read into voxels
 * for the overlay. After an edit, slices other than the edited one can change too: each object is
 * its largest 3D connected component, so a prompt that joins or splits the object moves whole
 * slices in or out of it. Reading the label map once (one build on the server, cached for its save;
 * a few kB gzipped) and diffing it against the overlay finds every changed slice, instead of one
 * request per slice. The NIfTI-1 header is read by hand (its three fields) and fflate gunzips, as
 * npzVolume.ts does.
 */
import { gunzipSync } from 'fflate';

/** x-fastest uint8 voxels of a gzipped NIfTI-1 label map of `dims`, or undefined when it is not one. */
export function niftiLabels(gz: Uint8Array, dims: readonly [number, number, number]): Uint8Array | undefined {
  const b = gunzipSync(gz);
  if (b.length < 352) return undefined;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = dv.getInt32(0, true) === 348;
  if (!le && dv.getInt32(0, false) !== 348) return undefined;
  const datatype = dv.getInt16(70, le);
  const offset = Math.round(dv.getFloat32(108, le));
  const n = dims[0] * dims[1] * dims[2];
  for (let i = 0; i < 3; i++) if (dv.getInt16(42 + 2 * i, le) !== dims[i]) return undefined;
  if (datatype !== 2 || offset < 348 || offset + n > b.length) return undefined;
  return b.subarray(offset, offset + n);
}

/** Copies `stored` into `shown` and returns the z-slices (x-fastest nx × ny × nz) where they differed. */
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
