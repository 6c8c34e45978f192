// Throwaway .npz reader for experiments until src/io/npz.ts lands (uint8/float64 only).
import { readFileSync } from 'node:fs';
import { unzipSync } from 'fflate';

export interface Arr { shape: number[]; dtype: string; data: Uint8Array | Float64Array }

export function readNpzLite(path: string): Record<string, Arr> {
  const files = unzipSync(readFileSync(path));
  const out: Record<string, Arr> = {};
  for (const [name, bytes] of Object.entries(files)) {
    const hlen = bytes[8]! | (bytes[9]! << 8);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + hlen));
    const descr = /'descr':\s*'([^']+)'/.exec(header)![1]!;
    const shape = /'shape':\s*\(([^)]*)\)/.exec(header)![1]!.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
    const body = bytes.slice(10 + hlen);
    let data: Uint8Array | Float64Array;
    if (descr === '|u1' || descr === '|b1') data = body;
    else if (descr === '<f8') data = new Float64Array(body.buffer, body.byteOffset, body.byteLength / 8);
    else continue;
    out[name.replace(/\.npy$/, '')] = { shape, dtype: descr, data };
  }
  return out;
}
