/**
 * float32 → bfloat16 → float32 with round-to-nearest-even, as torch's `.to(torch.bfloat16)`
 * (c10::BFloat16 round_to_nearest_even; NaN becomes the canonical quiet NaN). SAM2 stores
 * maskmem_features in bf16, and memory attention reads them back promoted to float32.
 */
export function roundToBf16(src: Float32Array): Float32Array {
  const out = new Float32Array(src.length);
  const s = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const d = new Uint32Array(out.buffer);
  for (let i = 0; i < s.length; i++) {
    const u = s[i]!;
    if ((u & 0x7f800000) === 0x7f800000 && (u & 0x007fffff) !== 0) {
      d[i] = 0x7fc00000;
      continue;
    }
    // Adding 0x7FFF plus the kept LSB rounds half to even; overflow carries into the exponent (→ ±inf) as in torch.
    d[i] = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 0) & 0xffff0000;
  }
  return out;
}
