import { npyFail, npyHeaderBytes, parseNpyHeader } from './npy.js';

/**
 * 1-D text arrays in .npy (numpy's fixed-width unicode dtype '<U<n>': n UTF-32 code units per item,
 * zero-padded), so an .npz can carry names beside its arrays and `np.load(..., allow_pickle=False)`
 * still reads it (an object array of str would need pickle). Hand-written beside npy.ts, which
 * holds the numeric dtypes.
 */

/** Encode strings as a '<U<n>' .npy (n = the longest item in code points, at least 1). */
export function encodeNpyText(items: readonly string[]): Uint8Array {
  const points = items.map((s) => [...s].map((c) => c.codePointAt(0)!));
  const width = Math.max(1, ...points.map((p) => p.length));
  const header = npyHeaderBytes(`<U${width}`, [items.length]);
  const total = header.length;
  const out = new Uint8Array(total + items.length * width * 4);
  out.set(header, 0);
  const dv = new DataView(out.buffer);
  points.forEach((p, i) => {
    p.forEach((cp, j) => dv.setUint32(total + (i * width + j) * 4, cp, true));
  });
  return out;
}

/** Decode a 1-D (or 0-D) '<U<n>' / '>U<n>' .npy into strings (trailing NULs dropped, as numpy does). */
export function parseNpyText(bytes: Uint8Array, label = '.npy data'): string[] {
  const { descr, shape, dataStart } = parseNpyHeader(bytes, label);
  const m = /^([<>=|])U(\d+)$/.exec(descr);
  if (!m) return npyFail(label, `dtype '${descr}' is not text (numpy '<U<n>')`);
  if (shape.length > 1) return npyFail(label, `text array has shape (${shape.join(',')}); only 1-D text arrays are read`);
  const n = shape.length === 0 ? 1 : shape[0]!;
  const width = Number(m[2]);
  const need = n * width * 4;
  if (!Number.isSafeInteger(need) || dataStart + need > bytes.length)
    return npyFail(
      label,
      `data is truncated (expected ${need} bytes for ${n} items of ${width} characters, got ${bytes.length - dataStart})`,
    );
  const dv = new DataView(bytes.buffer, bytes.byteOffset + dataStart, need);
  const little = m[1] !== '>';
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const cps: number[] = [];
    for (let j = 0; j < width; j++) cps.push(dv.getUint32((i * width + j) * 4, little));
    while (cps.length && cps.at(-1) === 0) cps.pop();
    if (cps.some((c) => c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)))
      return npyFail(label, `item ${i} holds a value that is not a Unicode code point`);
    out.push(String.fromCodePoint(...cps));
  }
  return out;
}
