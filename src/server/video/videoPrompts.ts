import type { InteractionRow } from '../store/repository.js';

/**
 * The prompts still in effect in a video session, per object and frame, read from its interaction
 * log (after undo / redo, as the session's own state is): what a client draws on each frame, the ±
 * clicks as markers and the box as its outline. They follow the tracker's rules for a frame's
 * prompts (sam2Tracker.ts): a prompt with `replace` or a mask replaces the frame's prompts (its
 * clicks and box go), a box replaces the frame's box and keeps its clicks, clicks add up; deleting
 * an object clears all of its prompts.
 */

export interface FrameClicks {
  objId: number;
  frame: number;
  points: { x: number; y: number; label: 0 | 1 }[];
}

export interface FrameBox {
  objId: number;
  frame: number;
  /** x0, y0, x1, y1 in frame pixels (column, row), as prompted. */
  box: [number, number, number, number];
}

interface LoggedPrompt {
  objId: number;
  slice: number;
  replace?: boolean;
  mask?: unknown;
  box?: [number, number, number, number];
  points?: { x: number; y: number; label: 0 | 1 }[];
}

export function promptsInEffect(inEffect: readonly InteractionRow[]): { clicks: FrameClicks[]; boxes: FrameBox[] } {
  const clicks = new Map<string, FrameClicks>();
  const boxes = new Map<string, FrameBox>();
  for (const r of inEffect) {
    if (r.kind === 'remove') {
      const objId = (r.payload as { objId: number }).objId;
      for (const byKey of [clicks, boxes]) for (const [k, c] of byKey) if (c.objId === objId) byKey.delete(k);
      continue;
    }
    if (r.kind !== 'prompt') continue;
    const p = r.payload as LoggedPrompt;
    const key = `${p.objId}:${p.slice}`;
    if (p.replace || p.mask) {
      clicks.delete(key);
      boxes.delete(key);
    }
    if (p.box) boxes.set(key, { objId: p.objId, frame: p.slice, box: [p.box[0], p.box[1], p.box[2], p.box[3]] });
    if (!p.points?.length) continue;
    const c = clicks.get(key) ?? { objId: p.objId, frame: p.slice, points: [] };
    c.points.push(...p.points.map((q) => ({ x: q.x, y: q.y, label: q.label })));
    clicks.set(key, c);
  }
  return { clicks: [...clicks.values()], boxes: [...boxes.values()] };
}
