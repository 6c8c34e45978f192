/**
 * The scripts' seeded random numbers (benchmarks must see the same inputs and schedules in every
 * run and variant). Hand-written: two tiny generators whose exact sequences the benchmarks'
 * earlier figures were measured with, so a library's different sequence would change them.
 */

/** `n` floats in [-1, 1) from a 32-bit linear congruential generator (Numerical Recipes' constants). */
export function lcgFloats(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** mulberry32: a small seeded generator of numbers in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
