/**
 * Reads `segs` (N,H,W uint8) out of the masks.npz the server sends for a video session, with the
 * core's npz reader (src/io/npz.ts: the server's own, with its size limits).
 */
import { openNpzBytes } from '../../../src/io/npz.js';

export function readSegs(npz: Uint8Array): { frames: number; rows: number; cols: number; data: Uint8Array } {
  const f = openNpzBytes(npz, 'masks.npz');
  if (!f.has('segs')) throw new Error('masks.npz has no segs array');
  const a = f.get('segs');
  if (a.shape.length !== 3 || !(a.data instanceof Uint8Array))
    throw new Error(`segs in masks.npz is not an (N,H,W) uint8 array: ${a.dtype} (${a.shape.join(', ')})`);
  const [frames, rows, cols] = a.shape as [number, number, number];
  return { frames, rows, cols, data: a.data };
}
