/**
 * Brush / eraser strokes as literal mask edits: a polyline of pixel positions swept by a disc of
 * `radius` pixels sets (paint) or clears (erase) pixels of a row-major rows × cols mask. Hand-written
 * (a dozen lines): no raster library is worth a dependency here, and the browser app imports this
 * same file for its instant preview, so what it shows is exactly what the server stores.
 */

export interface BrushStroke {
  /** Pixel positions (x = column, y = row) along the stroke, in drawing order; one point = a dab. */
  points: { x: number; y: number }[];
  /** Disc radius in pixels (0 = single pixels). */
  radius: number;
  mode: 'paint' | 'erase';
}

/** Applies `stroke` to a copy of `mask` (undefined = empty) and returns the copy. */
export function applyStroke(mask: Uint8Array | undefined, rows: number, cols: number, stroke: BrushStroke): Uint8Array {
  const out = mask ? Uint8Array.from(mask, (v) => (v ? 1 : 0)) : new Uint8Array(rows * cols);
  const value = stroke.mode === 'erase' ? 0 : 1;
  const r = Math.max(0, stroke.radius);
  const rr = r * r + 1e-9;
  const dab = (cx: number, cy: number) => {
    const y0 = Math.max(0, Math.ceil(cy - r)),
      y1 = Math.min(rows - 1, Math.floor(cy + r));
    const x0 = Math.max(0, Math.ceil(cx - r)),
      x1 = Math.min(cols - 1, Math.floor(cx + r));
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) if ((x - cx) ** 2 + (y - cy) ** 2 <= rr) out[y * cols + x] = value;
  };
  const pts = stroke.points;
  for (let i = 0; i < pts.length; i++) {
    const p = pts[i]!;
    dab(p.x, p.y);
    const q = pts[i + 1];
    if (!q) continue;
    // Dabs every half pixel-radius along the segment: a continuous band, not beads.
    const steps = Math.ceil(Math.hypot(q.x - p.x, q.y - p.y) / Math.max(0.5, r / 2));
    for (let s = 1; s < steps; s++) dab(p.x + ((q.x - p.x) * s) / steps, p.y + ((q.y - p.y) * s) / steps);
  }
  return out;
}
