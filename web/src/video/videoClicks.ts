/**
 * The ± clicks of video mode, per object and frame, so the annotator sees where they clicked
 * (green + / red −, as SAM2's demo draws them). The server reads them from the session's log
 * (GET /sessions/{id}/video/prompts: after undo / redo and a reload as the session is); a click or a
 * box the annotator makes updates this copy at once (a box replaces its frame's prompts, so its clicks go).
 */
import { PerObjectFrames } from './perObjectFrames.js';
import type { FrameClicks } from './videoApi.js';

export interface VideoClick {
  x: number;
  y: number;
  label: 0 | 1;
}

export const CLICK_COLOURS = { positive: [34, 197, 94], negative: [239, 68, 68] } as const;

export class VideoClicks extends PerObjectFrames<VideoClick[]> {
  add(objId: number, frame: number, c: VideoClick): void {
    const o = this.frames(objId);
    o.set(frame, [...(o.get(frame) ?? []), c]);
  }

  on(objId: number, frame: number): readonly VideoClick[] {
    return this.byObject.get(objId)?.get(frame) ?? [];
  }

  /** The server's clicks in effect, replacing these. */
  set(rows: readonly FrameClicks[]): void {
    this.byObject.clear();
    for (const r of rows) for (const c of r.points) this.add(r.objId, r.frame, { x: c.x, y: c.y, label: c.label });
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
