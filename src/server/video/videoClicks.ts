import type { InteractionRow } from '../store/repository.js';

/**
 * The ± clicks still in effect in a video session, per object and frame, read from its interaction
 * log (after undo / redo, as the session's own state is): what a client draws as click markers.
 * A prompt with `replace` (a box) replaces its frame's prompts, so it clears that frame's clicks;
 * deleting an object clears all of its clicks.
 */

export interface FrameClicks {
  objId: number;
  frame: number;
  points: { x: number; y: number; label: 0 | 1 }[];
}

interface LoggedPrompt {
  objId: number;
  slice: number;
  replace?: boolean;
  points?: { x: number; y: number; label: 0 | 1 }[];
}

export function clicksInEffect(inEffect: readonly InteractionRow[]): FrameClicks[] {
  const byKey = new Map<string, FrameClicks>();
  for (const r of inEffect) {
    if (r.kind === 'remove') {
      const objId = (r.payload as { objId: number }).objId;
      for (const [k, c] of byKey) if (c.objId === objId) byKey.delete(k);
      continue;
    }
    if (r.kind !== 'prompt') continue;
    const p = r.payload as LoggedPrompt;
    const key = `${p.objId}:${p.slice}`;
    if (p.replace) byKey.delete(key);
    if (!p.points?.length) continue;
    const c = byKey.get(key) ?? { objId: p.objId, frame: p.slice, points: [] };
    c.points.push(...p.points.map((q) => ({ x: q.x, y: q.y, label: q.label })));
    byKey.set(key, c);
  }
  return [...byKey.values()];
}
