/** Small byte helpers shared by the node-free parsers (no Buffer: they run in browsers too). */

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** zlib (RFC 1950) framing: CMF = deflate with a window ≤ 32K and a header checksum divisible by 31. */
export function isZlib(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && (bytes[0] & 0x0f) === 8 && bytes[0] >> 4 <= 7 && ((bytes[0] << 8) | bytes[1]) % 31 === 0;
}

/** Copy bytes into a fresh, aligned ArrayBuffer (typed-array views need element alignment). */
export function alignedCopy(bytes: Uint8Array, offset: number, length: number): ArrayBuffer {
  const out = new Uint8Array(length);
  out.set(bytes.subarray(offset, offset + length));
  return out.buffer;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Latin-1 text of a byte range (headers are ASCII; never throws on stray bytes). */
export function latin1(bytes: Uint8Array): string {
  return new TextDecoder('latin1').decode(bytes);
}

/** The last extension of a name hint, lower-cased ('.nii.gz' counts as one), or '' when none. */
export function extensionOf(name: string): string {
  const lower = name.toLowerCase();
  const m = /(\.nii\.gz|\.[^./\\]+)$/.exec(lower);
  return m ? m[1] : '';
}

/** Human size: 8589934592 → "8.00 GiB (8589934592 bytes)". */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v.toFixed(2)} ${units[u]} (${n} bytes)`;
}
