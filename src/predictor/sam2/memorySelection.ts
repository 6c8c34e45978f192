/**
 * Which stored frames a SAM2 frame attends to: upstream select_closest_cond_frames and the memory /
 * object-pointer gathering loops of SAM2Base._prepare_memory_conditioned_features (eval mode),
 * as pure functions over frame-indexed maps so the rules are unit-testable without a model.
 */

export interface CondSelection<T> {
  /** In the insertion order of the conditioning map (upstream dict order). */
  selected: Map<number, T>;
  unselected: Map<number, T>;
}

/**
 * Up to `maxCondFrameNum` conditioning frames closest to `frameIdx` (-1 = all): the closest
 * before, the closest at-or-after, then the nearest others.
 */
export function selectClosestCondFrames<T>(frameIdx: number, cond: Map<number, T>, maxCondFrameNum: number): CondSelection<T> {
  if (maxCondFrameNum === -1 || cond.size <= maxCondFrameNum) return { selected: cond, unselected: new Map() };
  const selected = new Map<number, T>();
  const keys = [...cond.keys()];
  const before = keys.filter((t) => t < frameIdx);
  if (before.length) {
    const t = Math.max(...before);
    selected.set(t, cond.get(t)!);
  }
  const after = keys.filter((t) => t >= frameIdx);
  if (after.length) {
    const t = Math.min(...after);
    selected.set(t, cond.get(t)!);
  }
  const remain = keys
    .filter((t) => !selected.has(t))
    // stable sort by distance, like Python's sorted
    .map((t, i) => ({ t, i }))
    .sort((a, b) => Math.abs(a.t - frameIdx) - Math.abs(b.t - frameIdx) || a.i - b.i)
    .slice(0, maxCondFrameNum - selected.size);
  for (const { t } of remain) selected.set(t, cond.get(t)!);
  const unselected = new Map<number, T>();
  for (const [t, v] of cond) if (!selected.has(t)) unselected.set(t, v);
  return { selected, unselected };
}

export interface SpatialMemoryRef<T> {
  frameIdx: number;
  out: T;
  /** Row of maskmem_tpos_enc added to this memory's positional encoding. */
  tposIndex: number;
  isCond: boolean;
}

/**
 * Spatial memories in upstream concatenation order: the selected conditioning frames (tpos row
 * num_maskmem-1), then t_pos = 1..num_maskmem-1 previous frames (the last one is the adjacent
 * frame; with stride r > 1 the others are every r-th frame). "Previous" means higher indices when
 * tracking in reverse. Missing frames are skipped.
 */
export function selectRecentMemories<T>(p: {
  frameIdx: number;
  cond: CondSelection<T>;
  nonCond: Map<number, T>;
  numMaskmem: number;
  stride: number;
  reverse: boolean;
}): SpatialMemoryRef<T>[] {
  const { frameIdx, numMaskmem, stride, reverse } = p;
  const refs: SpatialMemoryRef<T>[] = [];
  for (const [t, out] of p.cond.selected) refs.push({ frameIdx: t, out, tposIndex: numMaskmem - 1, isCond: true });
  for (let tPos = 1; tPos < numMaskmem; tPos++) {
    const tRel = numMaskmem - tPos;
    let prev: number;
    if (tRel === 1) prev = reverse ? frameIdx + tRel : frameIdx - tRel;
    else if (!reverse) prev = Math.floor((frameIdx - 2) / stride) * stride - (tRel - 2) * stride;
    else prev = -Math.floor(-(frameIdx + 2) / stride) * stride + (tRel - 2) * stride;
    const out = p.nonCond.get(prev) ?? p.cond.unselected.get(prev);
    if (out !== undefined) refs.push({ frameIdx: prev, out, tposIndex: numMaskmem - tPos - 1, isCond: false });
  }
  return refs;
}

export interface PointerRef<T> {
  frameIdx: number;
  /** Temporal position fed to the sine encoding (before division by tDiffMax). */
  pos: number;
  out: T;
}

/**
 * Object pointers: selected conditioning frames (only those not in the future of the tracking
 * direction when onlyPast; signed distance when signed), then up to maxObjPtrs-1 previous frames
 * at unsigned distance 1, 2, …. tDiffMax = min(numFrames, maxObjPtrs) − 1 scales the positions.
 */
export function selectObjectPointers<T>(p: {
  frameIdx: number;
  cond: CondSelection<T>;
  nonCond: Map<number, T>;
  numFrames: number;
  maxObjPtrsInEncoder: number;
  reverse: boolean;
  onlyPast: boolean;
  signed: boolean;
}): { refs: PointerRef<T>[]; tDiffMax: number } {
  const { frameIdx, reverse } = p;
  const maxPtrs = Math.min(p.numFrames, p.maxObjPtrsInEncoder);
  const sign = reverse ? -1 : 1;
  const refs: PointerRef<T>[] = [];
  for (const [t, out] of p.cond.selected) {
    if (p.onlyPast && (reverse ? t < frameIdx : t > frameIdx)) continue;
    refs.push({ frameIdx: t, pos: p.signed ? (frameIdx - t) * sign : Math.abs(frameIdx - t), out });
  }
  for (let tDiff = 1; tDiff < maxPtrs; tDiff++) {
    const t = reverse ? frameIdx + tDiff : frameIdx - tDiff;
    if (t < 0 || t >= p.numFrames) break;
    const out = p.nonCond.get(t) ?? p.cond.unselected.get(t);
    if (out !== undefined) refs.push({ frameIdx: t, pos: tDiff, out });
  }
  // A one-frame video would divide by zero upstream (NaN pointers); clamp so it stays finite.
  return { refs, tDiffMax: Math.max(1, maxPtrs - 1) };
}
