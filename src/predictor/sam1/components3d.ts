/**
 * Keeps the largest 26-connected component of a binary x-fastest volume. Hand-written (a BFS over
 * a flat index queue) because no maintained npm package labels 3D typed arrays without native deps.
 * 26-connectivity so that cross-sections touching only diagonally across thick slices stay one object.
 * The search runs inside the foreground's bounding box (an object is a small part of its volume; a
 * session stores its label map after each burst of clicks), in the same voxel order as over the
 * whole volume, so ties go to the same component.
 * `keep` names the slices a person prompted (along an axis): a component with a voxel on one of
 * them is kept too, so a click that starts the object on a slice its propagation never reached is
 * not removed again as a disconnected piece.
 */
export function largestComponent3d(
  m: Uint8Array,
  dims: readonly [number, number, number],
  keep?: { axis: 0 | 1 | 2; slices: Iterable<number> },
): Uint8Array {
  const [nx, ny, nz] = dims;
  const keyAt = new Uint8Array(dims[keep?.axis ?? 2]);
  for (const k of keep?.slices ?? []) if (k >= 0 && k < keyAt.length) keyAt[k] = 1;
  const kept: boolean[] = [false]; // by component id
  const n = nx * ny * nz;
  const out = new Uint8Array(n);
  // Bounding box of the foreground.
  let x0 = nx,
    x1 = -1,
    y0 = ny,
    y1 = -1,
    z0 = nz,
    z1 = -1;
  for (let z = 0, i = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++) {
        if (!m[i]) continue;
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
        if (z < z0) z0 = z;
        if (z > z1) z1 = z;
      }
  if (x1 < 0) return out;
  const bx = x1 - x0 + 1,
    by = y1 - y0 + 1,
    bz = z1 - z0 + 1;
  const label = new Int32Array(bx * by * bz); // box-local index
  const queue = new Int32Array(bx * by * bz);
  let best = 0,
    bestSize = 0,
    next = 0;
  for (let start = 0; start < bx * by * bz; start++) {
    if (label[start]) continue;
    const sx = start % bx,
      sy = Math.floor(start / bx) % by,
      sz = Math.floor(start / (bx * by));
    if (!m[x0 + sx + nx * (y0 + sy + ny * (z0 + sz))]) continue;
    const id = ++next;
    let onKey = false;
    let head = 0,
      tail = 0;
    queue[tail++] = start;
    label[start] = id;
    while (head < tail) {
      const i = queue[head++]!;
      const x = i % bx,
        y = Math.floor(i / bx) % by,
        z = Math.floor(i / (bx * by));
      if (keep && !onKey) onKey = keyAt[keep.axis === 0 ? x0 + x : keep.axis === 1 ? y0 + y : z0 + z] === 1;
      for (let dz = -1; dz <= 1; dz++) {
        const zz = z + dz;
        if (zz < 0 || zz >= bz) continue;
        for (let dy = -1; dy <= 1; dy++) {
          const yy = y + dy;
          if (yy < 0 || yy >= by) continue;
          for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx;
            if (xx < 0 || xx >= bx) continue;
            const j = xx + bx * (yy + by * zz);
            if (!label[j] && m[x0 + xx + nx * (y0 + yy + ny * (z0 + zz))]) {
              label[j] = id;
              queue[tail++] = j;
            }
          }
        }
      }
    }
    kept[id] = onKey;
    if (tail > bestSize) {
      bestSize = tail;
      best = id;
    }
  }
  for (let z = 0, j = 0; z < bz; z++)
    for (let y = 0; y < by; y++) {
      const row = x0 + nx * (y0 + y + ny * (z0 + z));
      for (let x = 0; x < bx; x++, j++) if (label[j] && (label[j] === best || kept[label[j]!])) out[row + x] = 1;
    }
  return out;
}
