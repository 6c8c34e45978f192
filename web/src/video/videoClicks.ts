/**
 * The ± clicks of video mode, per object and frame, so the annotator sees where they clicked
 * (green + / red −, as SAM2's demo draws them). The server's session view lists each object's
 * prompted frames (keys) but not the clicks themselves, so the points are kept here and saved with
 * the video session's entry in localStorage (a reload draws them again). A box on a frame replaces
 * that frame's prompts on the server, so it clears the frame's clicks here too.
 */

export interface VideoClick {
  x: number;
  y: number;
  label: 0 | 1;
}

/** [objId, frame, clicks] rows: the form kept in localStorage. */
export type SavedClicks = [number, number, VideoClick[]][];

export const CLICK_COLOURS = { positive: [34, 197, 94], negative: [239, 68, 68] } as const;

export class VideoClicks {
  private readonly byObject = new Map<number, Map<number, VideoClick[]>>();

  add(objId: number, frame: number, c: VideoClick): void {
    let o = this.byObject.get(objId);
    if (!o) this.byObject.set(objId, (o = new Map()));
    o.set(frame, [...(o.get(frame) ?? []), c]);
  }

  on(objId: number, frame: number): readonly VideoClick[] {
    return this.byObject.get(objId)?.get(frame) ?? [];
  }

  clearFrame(objId: number, frame: number): void {
    this.byObject.get(objId)?.delete(frame);
  }

  removeObject(objId: number): void {
    this.byObject.delete(objId);
  }

  clear(): void {
    this.byObject.clear();
  }

  /** Drops clicks on frames that are no prompted frame of their object any more (after undo, a deleted object). */
  keepPrompted(keys: Map<number, Set<number>>): void {
    for (const [objId, frames] of this.byObject) {
      const k = keys.get(objId);
      for (const f of [...frames.keys()]) if (!k?.has(f)) frames.delete(f);
      if (frames.size === 0) this.byObject.delete(objId);
    }
  }

  toJSON(): SavedClicks {
    return [...this.byObject].flatMap(([o, frames]) => [...frames].map(([f, cs]) => [o, f, cs] as [number, number, VideoClick[]]));
  }

  load(saved: unknown): void {
    this.byObject.clear();
    if (!Array.isArray(saved)) return;
    for (const row of saved) {
      if (!Array.isArray(row) || !Array.isArray(row[2])) continue;
      for (const c of row[2] as VideoClick[])
        if (Number.isFinite(c?.x) && Number.isFinite(c?.y) && (c.label === 0 || c.label === 1))
          this.add(Number(row[0]), Number(row[1]), { x: c.x, y: c.y, label: c.label });
    }
  }
}

/**
 * Draws clicks as filled dots with a white ring and a dark + / − (readable without colour) on a
 * canvas in frame pixels; `perScreenPx` frame pixels make one screen pixel, so markers keep their
 * on-screen size whatever the zoom.
 */
export function drawClicks(ctx: CanvasRenderingContext2D, clicks: readonly VideoClick[], perScreenPx: number): void {
  const r = 8 * perScreenPx;
  for (const c of clicks) {
    const cx = c.x + 0.5,
      cy = c.y + 0.5;
    const [R, G, B] = c.label === 1 ? CLICK_COLOURS.positive : CLICK_COLOURS.negative;
    ctx.beginPath();
    ctx.arc(cx, cy, r, 0, 2 * Math.PI);
    ctx.fillStyle = `rgb(${R},${G},${B})`;
    ctx.fill();
    ctx.lineWidth = 1.5 * perScreenPx;
    ctx.strokeStyle = '#fff';
    ctx.stroke();
    ctx.beginPath();
    ctx.moveTo(cx - r * 0.55, cy);
    ctx.lineTo(cx + r * 0.55, cy);
    if (c.label === 1) {
      ctx.moveTo(cx, cy - r * 0.55);
      ctx.lineTo(cx, cy + r * 0.55);
    }
    ctx.lineWidth = 1.5 * perScreenPx;
    ctx.strokeStyle = '#111';
    ctx.stroke();
  }
}
