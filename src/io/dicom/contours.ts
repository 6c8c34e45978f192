/**
 * Closed contours of a binary slice by marching squares at 0.5 between pixel centres (foreground
 * 4-connected: saddles separate), chained into loops; collinear points dropped. No npm library does
 * this on plain arrays without a canvas/d3 stack, and the table is 16 cases.
 */

/** Loops of (x, y) voxel coordinates (pixel centres at integers). */
export function marchingSquares(mask: ArrayLike<number>, nx: number, ny: number, offset = 0): [number, number][][] {
  const at = (x: number, y: number): number => (x < 0 || y < 0 || x >= nx || y >= ny ? 0 : mask[offset + y * nx + x] ? 1 : 0);
  // Edge ids on the padded grid (cells from -1..nx-1, -1..ny-1): horizontal edge (x..x+1, y) and vertical (x, y..y+1).
  const W = nx + 2;
  const H = ny + 2;
  const hId = (x: number, y: number) => 2 * ((y + 1) * W + (x + 1));
  const vId = (x: number, y: number) => 2 * ((y + 1) * W + (x + 1)) + 1;
  const point = (id: number): [number, number] => {
    const cell = id >> 1;
    const x = (cell % W) - 1;
    const y = Math.floor(cell / W) - 1;
    return id & 1 ? [x, y + 0.5] : [x + 0.5, y];
  };
  const links = new Map<number, number[]>();
  const link = (a: number, b: number) => {
    (links.get(a) ?? links.set(a, []).get(a)!).push(b);
    (links.get(b) ?? links.set(b, []).get(b)!).push(a);
  };
  for (let y = -1; y < ny; y++) {
    for (let x = -1; x < nx; x++) {
      const c = at(x, y) * 8 + at(x + 1, y) * 4 + at(x + 1, y + 1) * 2 + at(x, y + 1);
      if (c === 0 || c === 15) continue;
      const top = hId(x, y),
        bottom = hId(x, y + 1),
        left = vId(x, y),
        right = vId(x + 1, y);
      switch (c) {
        case 1:
        case 14:
          link(left, bottom);
          break;
        case 2:
        case 13:
          link(bottom, right);
          break;
        case 3:
        case 12:
          link(left, right);
          break;
        case 4:
        case 11:
          link(top, right);
          break;
        case 6:
        case 9:
          link(top, bottom);
          break;
        case 7:
        case 8:
          link(left, top);
          break;
        case 5:
          link(left, bottom);
          link(top, right);
          break;
        case 10:
          link(left, top);
          link(bottom, right);
          break;
      }
    }
  }
  void H;
  const loops: [number, number][][] = [];
  const seen = new Set<number>();
  for (const start of links.keys()) {
    if (seen.has(start)) continue;
    const ids: number[] = [];
    let prev = -1;
    let cur = start;
    while (!seen.has(cur)) {
      seen.add(cur);
      ids.push(cur);
      const [a, b] = links.get(cur)!;
      const next = a !== prev ? a : b;
      prev = cur;
      cur = next;
    }
    loops.push(dropCollinear(ids.map(point)));
  }
  return loops;
}

function dropCollinear(p: [number, number][]): [number, number][] {
  if (p.length < 4) return p;
  const out: [number, number][] = [];
  for (let i = 0; i < p.length; i++) {
    const a = p[(i + p.length - 1) % p.length];
    const b = p[i];
    const c = p[(i + 1) % p.length];
    const cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0]);
    if (Math.abs(cross) > 1e-9) out.push(b);
  }
  return out.length >= 3 ? out : p;
}
