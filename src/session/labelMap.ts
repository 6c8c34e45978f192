import type { Volume } from '../io/volume.js';
import type { LabelMapParts } from './types.js';
import { insertSlice, type SliceAxis } from '../preprocess/slices.js';
import { largestComponent3d } from '../predictor/sam1/components3d.js';

/**
 * Writes one object's per-slice masks into a shared uint8 label map (later objects win where they
 * overlap), optionally keeping only its largest 3D component — and any component on a slice a
 * person prompted (`prompted`: boxes, clicks). `literal` slices (manual edits) are written exactly as
 * given after that: what a person drew is never removed by post-processing.
 * Returns the slices it occupies.
 */
export function addObjectToLabelMap(
  labels: Uint8Array,
  volume: Pick<Volume, 'dims'>,
  axis: SliceAxis,
  objId: number,
  sliceMasks: Iterable<[number, Uint8Array]>,
  largestComponent: boolean,
  literal?: ReadonlyMap<number, Uint8Array>,
  prompted?: Iterable<number>,
): number[] {
  const objMask = new Uint8Array(labels.length);
  const keys: number[] = [];
  for (const [k, m] of sliceMasks) {
    insertSlice(objMask, volume.dims, axis, k, m);
    keys.push(k);
  }
  const kept = largestComponent ? largestComponent3d(objMask, volume.dims, prompted ? { axis, slices: prompted } : undefined) : objMask;
  for (const [k, m] of literal ?? []) insertSlice(kept, volume.dims, axis, k, m);
  // One pass writes the labels and notes which slices the kept object occupies.
  const [nx, ny] = volume.dims;
  const occupied = new Set<number>();
  for (let i = 0; i < kept.length; i++) {
    if (!kept[i]) continue;
    labels[i] = objId;
    occupied.add(axis === 2 ? Math.floor(i / (nx * ny)) : axis === 1 ? Math.floor(i / nx) % ny : i % nx);
  }
  return keys.filter((k) => occupied.has(k));
}

/** A label map as a Volume on exactly the source grid (what viewers need to overlay it). */
export function labelMapVolume(labels: Uint8Array, like: Volume): Volume {
  return {
    data: labels,
    dims: [...like.dims],
    spacing: [...like.spacing],
    origin: [...like.origin],
    direction: [...like.direction],
    source: { ...like.source },
    header: like.header,
  };
}

/**
 * The label map of a Session's parts (Session.labelMapParts; objects in creation order, later ones
 * win), with the slices each object occupies: what Session.labelMap() holds, built anywhere (the
 * server builds it on a worker thread).
 */
export function buildLabelMap(parts: LabelMapParts): {
  labels: Uint8Array;
  objects: { objId: number; slices: number }[];
  slicesSegmented: number;
} {
  const [nx, ny, nz] = parts.dims;
  const labels = new Uint8Array(nx * ny * nz);
  const touched = new Set<number>();
  const objects: { objId: number; slices: number }[] = [];
  for (const o of parts.objects) {
    const occupied = addObjectToLabelMap(labels, parts, o.axis, o.objId, o.masks, parts.largestComponent, new Map(o.literal), o.keys);
    for (const k of occupied) touched.add(k);
    objects.push({ objId: o.objId, slices: occupied.length });
  }
  return { labels, objects, slicesSegmented: touched.size };
}
