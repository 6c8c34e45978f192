/**
 * The brush / eraser tool: a stroke is collected in slice pixel coordinates while the mouse is
 * down and previewed at once on the overlay with the server's own rasteriser (src/session/
 * brushStroke.ts, imported, so the preview is exactly what the server stores); on release the
 * stroke is queued and sent as one literal edit (POST /sessions/:id/edits), strokes one after
 * another. Volume mode (any of the three views) and video mode (a frame) both use it.
 */
import { applyStroke, type BrushStroke } from '../../../src/session/brushStroke.js';
import type { Shortcut } from '../shortcuts.js';

export type { BrushStroke };

export interface FinishedStroke {
  stroke: BrushStroke;
  slice: number;
  axis: number;
}

export const MIN_RADIUS = 0;
export const MAX_RADIUS = 64;

export class BrushTool {
  /** Disc radius in slice pixels; `[` / `]` change it. */
  radius = 4;
  private stroke?: { stroke: BrushStroke; base: Uint8Array | undefined; rows: number; cols: number; slice: number; axis: number };

  get drawing(): boolean {
    return this.stroke !== undefined;
  }

  /** The slice the stroke in progress paints on. */
  get target(): { slice: number; axis: number } | undefined {
    return this.stroke && { slice: this.stroke.slice, axis: this.stroke.axis };
  }

  grow(by: number): number {
    this.radius = Math.max(MIN_RADIUS, Math.min(MAX_RADIUS, this.radius + by));
    return this.radius;
  }

  /** Starts a stroke on `slice` along `axis` over the object's current mask there (`base`). */
  begin(mode: 'paint' | 'erase', axis: number, slice: number, rows: number, cols: number, base: Uint8Array | undefined): void {
    this.stroke = { stroke: { points: [], radius: this.radius, mode }, base, rows, cols, slice, axis };
  }

  /** Adds a point; returns the previewed mask of the slice (base + stroke so far). */
  add(x: number, y: number): Uint8Array | undefined {
    const s = this.stroke;
    if (!s) return undefined;
    const pts = s.stroke.points;
    const last = pts[pts.length - 1];
    const p = { x: Math.round(x * 10) / 10, y: Math.round(y * 10) / 10 };
    if (last && Math.hypot(p.x - last.x, p.y - last.y) < 0.5) return undefined;
    pts.push(p);
    return applyStroke(s.base, s.rows, s.cols, s.stroke);
  }

  /** Ends the stroke: what to send, or undefined when nothing was drawn. */
  end(): FinishedStroke | undefined {
    const s = this.stroke;
    this.stroke = undefined;
    if (!s || s.stroke.points.length === 0) return undefined;
    return { stroke: s.stroke, slice: s.slice, axis: s.axis };
  }

  /** Strokes sent and on their way, in order. */
  private queue: Promise<void> = Promise.resolve();

  /**
   * Ends the stroke and sends it with `send` once the strokes before it are stored (a quick second
   * stroke waits for the first). `send` handles its own failure; a throw is not passed on.
   */
  /** Queues the stroke for sending; false when there was none (nothing will be sent). */
  finish(send: (done: FinishedStroke) => Promise<void>): boolean {
    const done = this.end();
    if (!done) return false;
    this.queue = this.queue.then(() => send(done)).catch(() => undefined);
    return true;
  }

  /** Resolves when every finished stroke has been sent (undo waits for it). */
  settled(): Promise<void> {
    return this.queue;
  }
}

/** The status line after a stored stroke: "slice 15: painted, 230 px in 41 ms" (video: "frame 3: …"). */
export function strokeStatus(where: string, mode: BrushStroke['mode'], area: number, ms: number): string {
  return `${where}: ${mode === 'paint' ? 'painted' : 'erased'}, ${area} px in ${Math.round(ms)} ms`;
}

/** The brush's keys, the same in volume and video mode: B / E pick the tool, [ / ] size it. `where`: "slice" or "frame". */
export function brushShortcuts(where: string, on: { setTool(t: 'brush' | 'eraser'): void; grow(by: number): void }): Shortcut[] {
  return [
    { keys: ['b'], label: `Brush: paint the object on this ${where} by hand (literal edit)`, run: () => on.setTool('brush') },
    { keys: ['e'], label: `Eraser: remove from the object on this ${where} by hand`, run: () => on.setTool('eraser') },
    { keys: ['['], label: 'Smaller brush', run: () => on.grow(-1) },
    { keys: [']'], label: 'Larger brush', run: () => on.grow(1) },
  ];
}
