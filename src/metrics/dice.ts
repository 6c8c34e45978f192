/**
 * Dice similarity coefficient 2|A∩B| / (|A| + |B|) of two masks on the same grid (non-zero =
 * foreground). Both empty → 1 (perfect agreement that nothing is there); one empty → 0.
 */
export function dice(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`dice: masks have ${a.length} and ${b.length} voxels`);
  let na = 0,
    nb = 0,
    both = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0,
      y = b[i] !== 0;
    if (x) na++;
    if (y) nb++;
    if (x && y) both++;
  }
  if (na + nb === 0) return 1;
  return (2 * both) / (na + nb);
}
