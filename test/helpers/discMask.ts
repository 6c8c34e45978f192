/** A 0/1 disc of radius `r` pixels centred on (cx, cy) in a w×h mask: the synthetic object of the propagator tests. */
export function discMask(w: number, h: number, r: number, cx = w / 2, cy = h / 2): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) m[y * w + x] = 1;
  return m;
}
