/**
 * The box prompts of video mode, per object and frame, so the annotator sees the box they drew
 * after the mask replaces the drag preview (as CVAT and SAM2's demo keep it): a thin dashed outline
 * in the object's colour on the frame it was drawn on. The server reads them from the session's log
 * (GET /sessions/{id}/video/prompts: after undo / redo and a reload as the session is); a box the
 * annotator draws updates this copy at once.
 */
import { cssColour } from '../colours.js';
import { PerObjectFrames } from './perObjectFrames.js';
import type { FrameBox } from './videoApi.js';

export type Box = [number, number, number, number];

export class VideoBoxes extends PerObjectFrames<Box> {
  set(objId: number, frame: number, box: Box): void {
    this.frames(objId).set(frame, box);
  }

  /** The boxes on `frame` of the objects `shown` lets through. */
  on(frame: number, shown: (objId: number) => boolean): { objId: number; box: Box }[] {
    const out: { objId: number; box: Box }[] = [];
    for (const [objId, o] of this.byObject) {
      const box = o.get(frame);
      if (box && shown(objId)) out.push({ objId, box });
    }
    return out;
  }

  /** The server's boxes in effect, replacing these. */
  replaceAll(rows: readonly FrameBox[]): void {
    this.byObject.clear();
    for (const r of rows) this.set(r.objId, r.frame, r.box);
  }
}

/**
 * Outlines each box through the centres of its corner pixels: dashes in the object's colour about
 * 1.5 screen pixels wide (never under one frame pixel, so each dash covers its pixels fully) over a
 * thin dark rim, readable on a red polyp as on dark mucosa; `perScreenPx` frame pixels make one
 * screen pixel, so the outline keeps its on-screen look whatever the zoom.
 */
export function drawBoxes(ctx: CanvasRenderingContext2D, boxes: readonly { objId: number; box: Box }[], perScreenPx: number): void {
  const width = Math.max(1, 1.5 * perScreenPx);
  ctx.save();
  ctx.setLineDash([6 * perScreenPx, 4 * perScreenPx]);
  for (const { objId, box } of boxes) {
    const rect = [box[0] + 0.5, box[1] + 0.5, box[2] - box[0], box[3] - box[1]] as const;
    ctx.lineWidth = width + 2 * perScreenPx;
    ctx.strokeStyle = 'rgba(0, 0, 0, 0.55)';
    ctx.strokeRect(...rect);
    ctx.lineWidth = width;
    ctx.strokeStyle = cssColour(objId);
    ctx.strokeRect(...rect);
  }
  ctx.restore();
}
