import type { Interaction } from './types.js';

/** Default idle threshold: a gap longer than this between two interactions counts as this much. */
export const DEFAULT_IDLE_SECONDS = 60;

export interface WorkMeasure {
  /** Sum of gaps between consecutive interactions, each capped at the idle threshold, seconds. */
  activeSeconds: number;
  interactions: number;
  /** Distinct slices that got at least one interaction. */
  slicesTouched: number;
}

/**
 * Active time of one person on one case from their interaction log. A single interaction is 0 s
 * of measured time (there is no gap); the cap keeps a coffee break from counting as work.
 */
export function measureWork(log: readonly Pick<Interaction, 'at' | 'slice'>[], idleSeconds = DEFAULT_IDLE_SECONDS): WorkMeasure {
  const times = log.map((i) => i.at).sort((a, b) => a - b);
  let ms = 0;
  for (let k = 1; k < times.length; k++) ms += Math.min(times[k]! - times[k - 1]!, idleSeconds * 1000);
  const slices = new Set(log.filter((i) => i.slice !== null).map((i) => i.slice));
  return { activeSeconds: ms / 1000, interactions: log.length, slicesTouched: slices.size };
}

export function median(values: readonly number[]): number | null {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}
