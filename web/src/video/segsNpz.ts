/**
 * Reads `segs` (N,H,W uint8) out of the masks.npz the server sends for a video session (fflate
 * unzips; the .npy header is parsed here: a dict literal naming dtype, order and shape).
 */
import { unzipSync } from 'fflate';

export function readSegs(npz: Uint8Array): { frames: number; rows: number; cols: number; data: Uint8Array } {
  const files = unzipSync(npz);
  const buf = files['segs.npy'];
  if (!buf || buf[0] !== 0x93) throw new Error('masks.npz has no segs array');
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const v1 = buf[6] === 1;
  const headerLen = v1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = v1 ? 10 : 12;
  const header = new TextDecoder().decode(buf.subarray(start, start + headerLen));
  const shape = /'shape':\s*\((\d+),\s*(\d+),\s*(\d+)\)/.exec(header);
  if (!/'descr':\s*'\|u1'/.test(header) || !shape || /'fortran_order':\s*True/.test(header))
    throw new Error(`segs in masks.npz is not a C-order (N,H,W) uint8 array: ${header.trim()}`);
  const [frames, rows, cols] = [Number(shape[1]), Number(shape[2]), Number(shape[3])];
  return { frames, rows, cols, data: buf.subarray(start + headerLen, start + headerLen + frames * rows * cols) };
}
