/**
 * numpy.percentile's default ('linear') rule on ascending-sorted values, including numpy's
 * lerp form (from the upper neighbour when the fraction is ≥ 0.5), so results match numpy to
 * the last bit. NaN for no values.
 */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = (p / 100) * (n - 1);
  const i = Math.floor(pos);
  if (i + 1 >= n) return sorted[n - 1]!;
  const a = sorted[i]!,
    b = sorted[i + 1]!,
    t = pos - i;
  return t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t;
}
