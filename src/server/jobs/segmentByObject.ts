import { throwIfCancelled } from '../../families/cancelled.js';
import type { Volume } from '../../io/volume.js';
import { voxelCount } from '../../io/volume.js';
import type { VolumePrompt } from '../../predictor/prompts.js';
import type { SliceAxis } from '../../preprocess/slices.js';
import { addObjectToLabelMap } from '../../session/labelMap.js';

/**
 * A batch job's segmentation (the work of segmentVolume: one Session, every prompt, propagate,
 * label map with each object's largest 3D component, later objects winning on overlap) done one
 * object at a time, with a checkpoint after each: the object's kept binary mask goes to the store
 * and its entry to the job row. A job resumed after a crash passes the checkpoints it has and
 * only the other objects run; the label map is then assembled from the checkpoints in object order,
 * which is what labelMapDetailed computes (each object's mask depends only on its own prompts).
 */

export interface ObjectCheckpoint {
  objId: number;
  /** sha256 of the object's binary mask (uint8 0/1, x-fastest, gzip) in the blob store. */
  sha: string;
  /** Slices where the kept mask has voxels. */
  slices: number[];
  seconds: number;
}

export interface SegmentByObjectOptions {
  model: string;
  axis: SliceAxis;
  threads: number;
  intensity: (v: Volume) => Uint8Array;
  /** Checkpoints of a previous run of this job (their objects are not run again). */
  done: readonly ObjectCheckpoint[];
  /** Stores one finished object's mask; resolves when it is durable. */
  save(objId: number, mask: Uint8Array, slices: number[], seconds: number): Promise<ObjectCheckpoint>;
  load(sha: string): Uint8Array;
  /** Fraction of the job done (finished objects plus the running one's share). */
  onProgress?(fraction: number): void;
  /**
   * Cancels the job (throws PropagationCancelled): checked before the model loads and once it has
   * loaded, before each key-slice prompt (its encode), between slices (inside propagate) and objects.
   */
  signal?: AbortSignal;
}

export interface SegmentByObjectResult {
  labels: Uint8Array;
  checkpoints: ObjectCheckpoint[];
  objects: { objId: number; slices: number }[];
  slicesSegmented: number;
  /** Slices encoded by this run (not by a previous one). */
  slicesEncoded: number;
  /** Objects this run segmented (the rest came from checkpoints). */
  objectsRun: number;
}

export async function segmentByObject(
  volume: Volume,
  prompts: readonly (VolumePrompt & { objId: number })[],
  opts: SegmentByObjectOptions,
): Promise<SegmentByObjectResult> {
  const order = [...new Set(prompts.map((p) => p.objId))];
  const byId = new Map(opts.done.filter((c) => order.includes(c.objId)).map((c) => [c.objId, c]));
  const todo = order.filter((o) => !byId.has(o));
  let slicesEncoded = 0;
  if (todo.length > 0) {
    // Imported here: the model stack loads with the first job, not at server start.
    const { Session } = await import('../../session/session.js');
    throwIfCancelled(opts.signal);
    const session = await Session.open(volume, { model: opts.model, axis: opts.axis, threads: opts.threads, intensity: opts.intensity });
    try {
      for (const p of prompts)
        if (todo.includes(p.objId)) {
          throwIfCancelled(opts.signal);
          await session.addPrompt(p.objId, p.slice, { box: p.box, points: p.points, mask: p.mask, recist: p.recist });
        }
      for (const objId of todo) {
        throwIfCancelled(opts.signal);
        const t0 = performance.now();
        const finished = order.length - todo.length + todo.indexOf(objId);
        await session.propagate({
          objIds: [objId],
          signal: opts.signal,
          onProgress: (d, total) => opts.onProgress?.((finished + (total > 0 ? Math.min(1, d / total) : 0)) / order.length),
        });
        const one = new Uint8Array(voxelCount(volume));
        const slices = addObjectToLabelMap(
          one,
          volume,
          opts.axis,
          objId,
          session.objectMasks(objId),
          true,
          undefined,
          keysOf(prompts, objId),
        );
        for (let i = 0; i < one.length; i++) one[i] = one[i] ? 1 : 0;
        throwIfCancelled(opts.signal);
        byId.set(objId, await opts.save(objId, one, slices, (performance.now() - t0) / 1000));
        opts.onProgress?.((finished + 1) / order.length);
      }
      slicesEncoded = session.slicesEncoded;
    } finally {
      await session.close();
    }
  }
  const labels = new Uint8Array(voxelCount(volume));
  const touched = new Set<number>();
  for (const objId of order) {
    const c = byId.get(objId)!;
    const m = opts.load(c.sha);
    for (let i = 0; i < m.length; i++) if (m[i]) labels[i] = objId;
    c.slices.forEach((k) => touched.add(k));
  }
  return {
    labels,
    checkpoints: order.map((o) => byId.get(o)!),
    objects: order.map((o) => ({ objId: o, slices: byId.get(o)!.slices.length })),
    slicesSegmented: touched.size,
    slicesEncoded,
    objectsRun: todo.length,
  };
}

/** The slices a job's prompts put an object's keys on (kept by the 3D largest-component filter). */
function keysOf(prompts: readonly (VolumePrompt & { objId: number })[], objId: number): number[] {
  return prompts.filter((p) => p.objId === objId).map((p) => p.slice);
}
