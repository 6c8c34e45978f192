import { featureCacheFrames, openRegisteredSam2 } from './openSam2Model.js';
import { MedsamError } from '../common/errors.js';
import { voxelCount, type Volume } from '../io/volume.js';
import type { ModelEntry } from '../models/registry.js';
import { sam2Dims } from '../models/sam2/compile.js';
import { volumeToUint8 } from '../preprocess/intensity.js';
import { pilResizeBicubicU8 } from '../preprocess/pilResize.js';
import { extractSlice, sliceShape, type SliceAxis } from '../preprocess/slices.js';
import { recistToBox, type VolumePrompt } from '../predictor/prompts.js';
import { addObjectToLabelMap, labelMapVolume } from './labelMap.js';
import { medsam2NormalizationLut, normaliseSlice } from '../predictor/sam2/frameSource.js';
import type { Sam2FrameSource, Sam2InferenceState } from '../predictor/sam2/inferenceState.js';
import { Sam2VideoPredictor, type MemoryMode } from '../predictor/sam2/videoPredictor.js';
import type { Precision } from '../models/precision.js';

/**
 * The MedSAM2 3D workflow for SAM2-family models (medsam2_infer_3D_CT.py and
 * medsam2_infer_CT_lesion_npz_recist.py, MedSAM2 @ 332f30d): 8-bit slices → Pillow bicubic to the
 * model size when needed → ×3 channels → /255 → ImageNet mean/std; then per object: init the video
 * predictor over all slices, add the key-slice prompt, propagate forward from the key slice, reset,
 * add the prompt again, propagate in reverse; logits > 0 at slice resolution, OR-ed over both
 * passes, optionally the largest 3D component; objects written into one label map.
 */

export interface Sam2VolumeOptions {
  /** Slice axis of the x-fastest volume; default 2. */
  axis?: SliceAxis;
  /** ONNX Runtime intra-op threads; default = logical cores. */
  threads?: number;
  /** 'int8' = fast mode (image encoder + memory attention as dynamic int8 GEMMs); default 'fp32' (exact). */
  precision?: Precision;
  /** Volume → x-fastest uint8 of the same dims (the window); default: the data if uint8, else toUint8 (auto window). */
  intensity?: (v: Volume) => Uint8Array;
  /** Keep only each object's largest 3D connected component (MedSAM2's getLargestCC). Default true. */
  largestComponent?: boolean;
  onProgress?: (done: number, total: number, stage: string) => void;
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

/** Same shape as segmentVolume's result; SAM2 always propagates to both ends of the volume. */
export interface Sam2VolumeResult {
  mask: Volume;
  slicesSegmented: number;
  seconds: number;
  slicesEncoded: number;
  objects: { objId: number; slices: number; stops: { key: number; down: 'volume-end'; up: 'volume-end' }[] }[];
}

/** Model-input frames read lazily from the 8-bit volume along `axis` (the predictor caches features, not frames). */
export function volumeFrameSource(u8: Uint8Array, dims: readonly [number, number, number], axis: SliceAxis, imageSize: number): Sam2FrameSource {
  const s = sliceShape(dims, axis);
  const lut = medsam2NormalizationLut();
  return {
    numFrames: s.count,
    frame(i: number): Float32Array {
      let px = extractSlice(u8, dims, axis, i);
      if (s.rows !== imageSize || s.cols !== imageSize) px = pilResizeBicubicU8(px, s.cols, s.rows, imageSize, imageSize);
      return normaliseSlice(px, lut);
    },
  };
}

type ObjPrompt = VolumePrompt & { objId: number };

/** The predictor call(s) for one key-slice prompt, in slice pixel coordinates (x = column, y = row). */
async function addPrompt(predictor: Sam2VideoPredictor, state: Sam2InferenceState, p: ObjPrompt, keyMask: Uint8Array | undefined): Promise<Float32Array> {
  if (keyMask) {
    const r = await predictor.addNewMask(state, { frameIdx: p.slice, objId: p.objId, mask: keyMask, height: state.videoHeight, width: state.videoWidth });
    return r.videoResMasks[0]!;
  }
  if (p.mask) {
    const r = await predictor.addNewMask(state, { frameIdx: p.slice, objId: p.objId, mask: p.mask, height: state.videoHeight, width: state.videoWidth });
    return r.videoResMasks[0]!;
  }
  // RECIST → MedSAM2's square box (get_diameter_bbox, shift 0) unless a box is given too.
  const box = p.box ?? (p.recist ? recistToBox(p.recist, state.videoWidth, state.videoHeight) : undefined);
  const points = p.points?.length ? p.points.map((q) => [q.x, q.y]) : undefined;
  const labels = p.points?.length ? p.points.map((q) => q.label) : undefined;
  const r = await predictor.addNewPointsOrBox(state, { frameIdx: p.slice, objId: p.objId, box, points, labels });
  return r.videoResMasks[0]!;
}

function checkPrompts(prompts: readonly ObjPrompt[]): void {
  for (const [i, p] of prompts.entries()) {
    if (p.mask && (p.box || p.recist || p.points?.length)) {
      throw new MedsamError(`prompt ${i + 1} (object ${p.objId}, slice ${p.slice}) has a mask and a box/points/RECIST; a SAM2 model takes one or the other on a slice`,
        'give either the mask or the box/points');
    }
  }
}

/**
 * Segment `prompts` (validated, objId filled; see validatePrompts) in `volume` with a registered
 * SAM2/MedSAM2 model. Objects are tracked one at a time as MedSAM2 does; all share one image-feature
 * cache, so each slice is encoded once while the cache budget holds the volume.
 */
export async function segmentVolumeSam2(entry: ModelEntry, volume: Volume, prompts: readonly ObjPrompt[], opts: Sam2VolumeOptions = {}): Promise<Sam2VolumeResult> {
  const t0 = performance.now();
  const axis: SliceAxis = opts.axis ?? 2;
  checkPrompts(prompts);
  const u8 = volumeToUint8(volume, opts.intensity);
  const shape = sliceShape(volume.dims, axis);

  const { model, engine } = await openRegisteredSam2(entry, { threads: opts.threads, cacheDir: opts.cacheDir, precision: opts.precision });
  try {
    const d = sam2Dims(model.configs);
    const predictor = new Sam2VideoPredictor(engine, model.configs.predictor, {
      fillHoleArea: opts.fillHoleArea ?? 8,
      memory: opts.memory,
      featureCacheFrames: featureCacheFrames(model, shape.count, opts.featureCacheMiB),
      onWarning: opts.onWarning,
    });
    const frames = volumeFrameSource(u8, volume.dims, axis, d.imageSize);

    const byObject = new Map<number, ObjPrompt[]>();
    for (const p of prompts) byObject.set(p.objId, [...(byObject.get(p.objId) ?? []), p]);
    const total = [...byObject.values()].reduce((n, ps) => {
      const keys = ps.map((p) => p.slice);
      return n + (shape.count - Math.min(...keys)) + (Math.max(...keys) + 1);
    }, 0);
    let done = 0;
    const progress = (stage: string) => opts.onProgress?.(Math.min(done, total), total, stage);

    const labels = new Uint8Array(voxelCount(volume));
    const touched = new Set<number>();
    const objects: Sam2VolumeResult['objects'] = [];
    const px = shape.rows * shape.cols;
    for (const [objId, objPrompts] of byObject) {
      const keys = objPrompts.map((p) => p.slice).sort((a, b) => a - b);
      const sliceMasks = new Map<number, Uint8Array>();
      const orIn = (frameIdx: number, logits: Float32Array) => {
        let m = sliceMasks.get(frameIdx);
        if (!m) sliceMasks.set(frameIdx, (m = new Uint8Array(px)));
        for (let i = 0; i < px; i++) if (logits[i]! > 0) m[i] = 1;
      };
      // 'mask' flow: the key-slice masks from the box/points, re-added as mask prompts in both passes.
      const keyMasks = new Map<number, Uint8Array>();
      if (opts.keySlice === 'mask') {
        const state = await predictor.initState(frames, shape.rows, shape.cols);
        for (const p of objPrompts) {
          if (p.mask) continue;
          const logits = await addPrompt(predictor, state, p, undefined);
          keyMasks.set(p.slice, Uint8Array.from(logits, (v) => (v > 0 ? 1 : 0)));
        }
        predictor.resetState(state);
      }
      for (const reverse of [false, true]) {
        const stage = `object ${objId} ${reverse ? 'reverse' : 'forward'}`;
        progress(stage);
        const state = await predictor.initState(frames, shape.rows, shape.cols);
        for (const p of objPrompts) await addPrompt(predictor, state, p, keyMasks.get(p.slice));
        const start = reverse ? keys[keys.length - 1]! : keys[0]!;
        for await (const r of predictor.propagateInVideo(state, { startFrameIdx: start, reverse })) {
          orIn(r.frameIdx, r.videoResMasks[0]!);
          done++;
          progress(stage);
        }
        predictor.resetState(state);
      }
      const occupied = addObjectToLabelMap(labels, volume, axis, objId, sliceMasks, opts.largestComponent !== false);
      occupied.forEach((k) => touched.add(k));
      objects.push({ objId, slices: occupied.length, stops: keys.map((key) => ({ key, down: 'volume-end' as const, up: 'volume-end' as const })) });
    }
    done = total;
    progress('done');
    const mask = labelMapVolume(labels, volume);
    return { mask, slicesSegmented: touched.size, seconds: (performance.now() - t0) / 1000, slicesEncoded: engine.imageEncodeCount, objects };
  } finally {
    await engine.release();
  }
}
