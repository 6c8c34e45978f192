/**
 * Keeps the largest 26-connected component of a binary x-fastest volume. Hand-written (a BFS over
 * a flat index queue) because no maintained npm package labels 3D typed arrays without native deps.
 * 26-connectivity so that cross-sections touching only diagonally across thick slices stay one object.
 */
export function largestComponent3d(m: Uint8Array, dims: readonly [number, number, number]): Uint8Array {
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const label = new Int32Array(n);
  const queue = new Int32Array(n);
  let best = 0,
    bestSize = 0,
    next = 0;
  for (let start = 0; start < n; start++) {
    if (!m[start] || label[start]) continue;
    const id = ++next;
    let head = 0,
      tail = 0;
    queue[tail++] = start;
    label[start] = id;
    while (head < tail) {
      const i = queue[head++]!;
      const x = i % nx,
        y = Math.floor(i / nx) % ny,
        z = Math.floor(i / (nx * ny));
      for (let dz = -1; dz <= 1; dz++) {
        const zz = z + dz;
        if (zz < 0 || zz >= nz) continue;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= ny) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= nx) continue;
            const j = xx + nx * (yy + ny * zz);
            if (m[j] && !label[j]) {
              label[j] = id;
              queue[tail++] = j;
            }
          }
        }
      }
    }
    if (tail > bestSize) {
      bestSize = tail;
      best = id;
    }
  }
  const out = new Uint8Array(n);
  if (best) for (let i = 0; i < n; i++) out[i] = label[i] === best ? 1 : 0;
  return out;
}
