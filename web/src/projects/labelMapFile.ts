/**
 * Reading what the project endpoints return: a version's label map as the server's MedSAM2 npz
 * (`segs` (D,H,W) uint8, x fastest — exactly the voxel order of the case volume).
 */
import { errorMessage } from '../../../src/common/errors.js';
import { type NpzFile, openNpzBytes } from '../../../src/io/npz.js';

/** The label map of a version (`segs`, else `gts`) as x-fastest uint8 voxels and its grid; read by the core's npz reader. */
export function labelMapFromNpz(bytes: Uint8Array): { labels: Uint8Array; dims: [number, number, number] } {
  let npz: NpzFile;
  try {
    npz = openNpzBytes(bytes, 'the label map');
  } catch (e) {
    throw new Error(`the label map from the server is not a readable .npz (${errorMessage(e)})`);
  }
  const key = npz.has('segs') ? 'segs' : npz.has('gts') ? 'gts' : undefined;
  if (!key) throw new Error('the label map .npz has no "segs" array');
  const a = npz.get(key);
  if (!(a.data instanceof Uint8Array) || a.dtype !== 'uint8') throw new Error(`the label map has dtype ${a.dtype}, expected uint8`);
  const s = a.shape;
  const dims: [number, number, number] = s.length === 3 ? [s[2]!, s[1]!, s[0]!] : s.length === 2 ? [s[1]!, s[0]!, 1] : [0, 0, 0];
  if (dims[0] * dims[1] * dims[2] === 0) throw new Error(`the label map's shape (${s.join(', ')}) is not (D,H,W) or (H,W)`);
  return { labels: a.data, dims };
}
