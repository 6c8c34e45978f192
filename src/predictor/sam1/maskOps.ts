/**
 * Small binary-mask operations used by slice propagation (row-major uint8, non-zero = on).
 * Hand-written: they are a few dozen lines each and no maintained npm package offers
 * connected components / distance transforms on raw typed arrays without native or browser deps.
 */

export function maskArea(m: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < m.length; i++) if (m[i]) s++;
  return s;
}

export function binarise(logits: ArrayLike<number>, threshold = 0): Uint8Array {
  const m = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) m[i] = logits[i]! > threshold ? 1 : 0;
  return m;
}

/** Dice of two binary masks (1 when both are empty). */
export function maskDice(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let inter = 0,
    sum = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] ? 1 : 0,
      y = b[i] ? 1 : 0;
    inter += x & y;
    sum += x + y;
  }
  return sum ? (2 * inter) / sum : 1;
}

/** Number of pixels on in both masks. */
export function intersectionCount(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) if (a[i] && b[i]) s++;
  return s;
}

/**
 * 8-connected component labels of a 2D mask (0 = background, 1..n), with each component's size.
 * Two-pass union-find.
 */
export function labelComponents2d(m: ArrayLike<number>, w: number, h: number): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(w * h);
  const parent: number[] = [0];
  const find = (x: number): number => {
    while (parent[x] !== x) {
      parent[x] = parent[parent[x]!]!;
      x = parent[x]!;
    }
    return x;
  };
  const union = (a: number, b: number): number => {
    const ra = find(a),
      rb = find(b);
    if (ra === rb) return ra;
    const lo = Math.min(ra, rb),
      hi = Math.max(ra, rb);
    parent[hi] = lo;
    return lo;
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!m[i]) continue;
      let l = 0;
      const nb = [
        x > 0 ? labels[i - 1]! : 0,
        y > 0 && x > 0 ? labels[i - w - 1]! : 0,
        y > 0 ? labels[i - w]! : 0,
        y > 0 && x < w - 1 ? labels[i - w + 1]! : 0,
      ];
      for (const n of nb) if (n) l = l ? union(l, n) : find(n);
      if (!l) {
        l = parent.length;
        parent.push(l);
      }
      labels[i] = l;
    }
  }
  const remap = new Map<number, number>();
  const sizes: number[] = [0];
  for (let i = 0; i < labels.length; i++) {
    if (!labels[i]) continue;
    const r = find(labels[i]!);
    let id = remap.get(r);
    if (id === undefined) {
      id = sizes.length;
      remap.set(r, id);
      sizes.push(0);
    }
    labels[i] = id;
    sizes[id]!++;
  }
  return { labels, sizes };
}

/** Keeps the 2D components of `m` that overlap `ref`; if none does, returns an empty mask. */
export function keepComponentsOverlapping(m: Uint8Array, ref: ArrayLike<number>, w: number, h: number): Uint8Array {
  const { labels, sizes } = labelComponents2d(m, w, h);
  if (sizes.length <= 2) {
    return intersectionCount(m, ref) > 0 ? m : new Uint8Array(m.length);
  }
  const keep = new Uint8Array(sizes.length);
  for (let i = 0; i < m.length; i++) if (labels[i] && ref[i]) keep[labels[i]!] = 1;
  const out = new Uint8Array(m.length);
  for (let i = 0; i < m.length; i++) out[i] = keep[labels[i]!] ? 1 : 0;
  return out;
}

/**
 * Chamfer (3-4) distance to the nearest off pixel, for every on pixel; the image border counts as off.
 * Used to find a robust interior point of a mask.
 */
export function distanceInside(m: ArrayLike<number>, w: number, h: number): Float32Array {
  const d = new Float32Array(w * h);
  const INF = 1e9;
  for (let i = 0; i < w * h; i++) d[i] = m[i] ? INF : 0;
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= w || y >= h ? 0 : d[y * w + x]!);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (!d[i]) continue;
      d[i] = Math.min(d[i]!, at(x - 1, y) + 3, at(x, y - 1) + 3, at(x - 1, y - 1) + 4, at(x + 1, y - 1) + 4);
    }
  for (let y = h - 1; y >= 0; y--)
    for (let x = w - 1; x >= 0; x--) {
      const i = y * w + x;
      if (!d[i]) continue;
      d[i] = Math.min(d[i]!, at(x + 1, y) + 3, at(x, y + 1) + 3, at(x + 1, y + 1) + 4, at(x - 1, y + 1) + 4);
    }
  for (let i = 0; i < w * h; i++) d[i]! /= 3;
  return d;
}

/** The pixel deepest inside the mask (ties: first in row-major order); undefined when empty. */
export function interiorPoint(m: ArrayLike<number>, w: number, h: number): { x: number; y: number; depth: number } | undefined {
  const d = distanceInside(m, w, h);
  let best = 0,
    bi = -1;
  for (let i = 0; i < d.length; i++)
    if (d[i]! > best) {
      best = d[i]!;
      bi = i;
    }
  return bi < 0 ? undefined : { x: bi % w, y: Math.floor(bi / w), depth: best };
}

/** Square-structuring-element dilation by r pixels (separable max filter). */
export function dilate(m: ArrayLike<number>, w: number, h: number, r: number): Uint8Array {
  const tmp = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    let last = -Infinity;
    for (let x = 0; x < w; x++) {
      if (m[y * w + x]) last = x;
      if (x - last <= r) tmp[y * w + x] = 1;
    }
    last = Infinity;
    for (let x = w - 1; x >= 0; x--) {
      if (m[y * w + x]) last = x;
      if (last - x <= r) tmp[y * w + x] = 1;
    }
  }
  const out = new Uint8Array(w * h);
  for (let x = 0; x < w; x++) {
    let last = -Infinity;
    for (let y = 0; y < h; y++) {
      if (tmp[y * w + x]) last = y;
      if (y - last <= r) out[y * w + x] = 1;
    }
    last = Infinity;
    for (let y = h - 1; y >= 0; y--) {
      if (tmp[y * w + x]) last = y;
      if (last - y <= r) out[y * w + x] = 1;
    }
  }
  return out;
}

/** Square-structuring-element erosion by r pixels (the image border counts as off). */
export function erode(m: ArrayLike<number>, w: number, h: number, r: number): Uint8Array {
  const outside = Uint8Array.from({ length: w * h }, (_, i) => (m[i] ? 0 : 1));
  const grown = dilate(outside, w, h, r);
  const out = new Uint8Array(w * h);
  for (let y = r; y < h - r; y++) for (let x = r; x < w - r; x++) out[y * w + x] = grown[y * w + x] ? 0 : 1;
  return out;
}
