/**
 * One .npy array of an npz (NumPy's format: magic, a Python-dict header, raw little-endian data).
 * Parsed by hand because it is a dozen lines and no browser npy library is kept up; shared by the
 * scan view (npzVolume.ts) and the project pages' label maps.
 */

export interface Npy {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

export function parseNpy(buf: Uint8Array, key: string): Npy {
  if (buf[0] !== 0x93 || String.fromCharCode(...buf.subarray(1, 6)) !== 'NUMPY') throw new Error(`"${key}" in the npz is not a .npy array`);
  const major = buf[6]!;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(buf.subarray(start, start + headerLen));
  const descr = /'descr':\s*'([<>|=])(\w\d)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape) throw new Error(`cannot read the .npy header of "${key}"`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`"${key}" is stored in Fortran order`);
  if (descr[1] === '>') throw new Error(`"${key}" is big-endian`);
  const dims = shape[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  return { dtype: descr[2]!, shape: dims, bytes: buf.subarray(start + headerLen) };
}
