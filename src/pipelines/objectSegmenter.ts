import { existsSync } from 'node:fs';
import { MedsamError } from '../common/errors.js';
import { voxelCount, type Volume } from '../io/volume.js';
import { selectLabel } from '../metrics/segmentationMetrics.js';
import { Sam1Engine } from '../engine/sam1Engine.js';
import type { Precision } from '../models/precision.js';
import { resolveModel, type ModelEntry } from '../models/registry.js';
import { extractSlice, sliceShape, type SliceAxis } from '../preprocess/slices.js';
import { DiskCachedEncoder } from './diskEmbeddingCache.js';
import { SliceEmbeddings } from '../predictor/sam1/embeddingCache.js';
import { MemoDecoder } from '../predictor/sam1/decodeMemo.js';
import { promptsWithClick, type SliceClick } from '../predictor/sam1/correction.js';
import {
  correctObject,
  propagateObject,
  type ObjectPropagation,
  type Sam1PropagationOptions,
  type StopReason,
} from '../predictor/sam1Propagator.js';
import type { VolumePrompt } from '../predictor/prompts.js';
import { addObjectToLabelMap } from '../session/labelMap.js';
import { segmentVolume } from './segmentVolume.js';
import { CancelGate } from '../families/cancelGate.js';

/**
 * One object at a time, one model held open across cases: what evaluation needs to segment each
 * label of a reference as its own object (objects never overwrite each other) and to re-segment an
 * object after a simulated click through the model family's correction path, without re-creating
 * the model or re-encoding slices for every label and click.
 */

export interface ObjectResult {
  /** Binary x-fastest mask on the volume grid (largest 3D component). */
  mask: Uint8Array;
  /** Per-slice row-major masks along the axis, as the correction path reads them. */
  slices: Map<number, Uint8Array>;
  /** SAM1 only: why propagation stopped around each key slice. */
  stops?: { key: number; down: StopReason; up: StopReason }[];
  /** SAM1 only: state of the correction path (the masks corrected slices were refined from). */
  priors?: ReadonlyMap<number, Uint8Array>;
  /** SAM1 only: slice of the key that describes the object (kept through corrections). */
  main?: number;
  /** SAM1 only: the decoder's low-res logits by slice (the propagator's clickLogits 'stored'). */
  lowRes?: ReadonlyMap<number, Float32Array>;
}

export interface CaseSegmenter {
  segment(prompts: VolumePrompt[]): Promise<ObjectResult>;
  /** Re-segments after one click; returns the prompts that now define the object. */
  correct(prompts: VolumePrompt[], current: ObjectResult, click: SliceClick): Promise<{ prompts: VolumePrompt[]; result: ObjectResult }>;
}

export interface ObjectSegmenterOptions {
  model?: string;
  threads?: number;
  precision?: Precision;
  /** SAM1 models: keep slice embeddings in this folder across runs (keyed by model + slice content). */
  embeddingCacheDir?: string;
  propagation?: Omit<Sam1PropagationOptions, 'onSlice'>;
  /**
   * Cancels segment/correct calls before their next model call (encode or decode), not only between
   * slices (PropagationCancelled; the call in flight runs to its end in ONNX Runtime, its result dropped).
   */
  signal?: AbortSignal;
}

export class ObjectSegmenter {
  private constructor(
    readonly entry: ModelEntry,
    private readonly engine: Sam1Engine | undefined,
    private readonly opts: ObjectSegmenterOptions,
  ) {}

  static async open(opts: ObjectSegmenterOptions = {}): Promise<ObjectSegmenter> {
    const entry = resolveModel(opts.model ?? 'default');
    if (entry.family !== 'sam1') return new ObjectSegmenter(entry, undefined, opts);
    for (const [role, path] of Object.entries(entry.files)) {
      if (!existsSync(path))
        throw new MedsamError(`model '${entry.id}' ${role} file ${path} is missing`, 'reinstall the package or re-import the model');
    }
    return new ObjectSegmenter(entry, await Sam1Engine.create(entry, { threads: opts.threads, precision: opts.precision }), opts);
  }

  async release(): Promise<void> {
    await this.engine?.release();
  }

  /** A segmenter for one volume; `image8` is the uint8 volume the model sees (x-fastest, same dims). */
  forCase(volume: Volume, image8: Uint8Array, axis: SliceAxis = 2, onSlice?: () => void): CaseSegmenter {
    const sh = sliceShape(volume.dims, axis);
    const toResult = (
      masks: Map<number, Uint8Array>,
      stops?: ObjectResult['stops'],
      priors?: ObjectResult['priors'],
      main?: number,
      prompts?: readonly VolumePrompt[],
      lowRes?: ObjectResult['lowRes'],
    ): ObjectResult => {
      const labels = new Uint8Array(voxelCount(volume));
      addObjectToLabelMap(
        labels,
        volume,
        axis,
        1,
        masks,
        true,
        undefined,
        prompts?.map((p) => p.slice),
      );
      const slices = new Map<number, Uint8Array>();
      for (const k of masks.keys()) {
        const s = extractSlice(labels, volume.dims, axis, k);
        if (s.some((v) => v !== 0)) slices.set(k, s);
      }
      return { mask: labels, slices, stops, priors, main, ...(lowRes ? { lowRes } : {}) };
    };
    if (this.engine) {
      // Clicks re-propagate the whole object; the decodes they repeat are answered from memory.
      const gate = new CancelGate();
      const during = <T>(fn: () => Promise<T>) => gate.during(this.opts.signal, fn);
      const engine = new MemoDecoder({ decode: gate.wrap(this.engine.decode.bind(this.engine)) });
      const base = this.opts.embeddingCacheDir ? new DiskCachedEncoder(this.engine, this.opts.embeddingCacheDir) : this.engine;
      const encoder = { encode: gate.wrap(base.encode.bind(base)) };
      const emb = new SliceEmbeddings(encoder, (k) => extractSlice(image8, volume.dims, axis, k), sh.cols, sh.rows, sh.count);
      // The voxel spacing in the propagator's order (in plane, then between slices): fuseSlices reads it.
      const sp = volume.spacing;
      const voxelSpacing = [...[0, 1, 2].filter((a) => a !== axis).map((a) => sp[a]!), sp[axis]!] as [number, number, number];
      const popts = { voxelSpacing, ...this.opts.propagation, onSlice };
      const asProp = (r: ObjectResult): ObjectPropagation => ({
        masks: r.slices,
        stops: [],
        priors: r.priors,
        main: r.main,
        lowRes: r.lowRes,
      });
      return {
        segment: async (prompts) => {
          const r = await during(() => propagateObject(engine, emb, prompts, popts));
          return toResult(r.masks, r.stops, r.priors, r.main, prompts, r.lowRes);
        },
        correct: async (prompts, current, click) => {
          const r = await during(() => correctObject(engine, emb, prompts, asProp(current), click, popts));
          return {
            prompts: r.prompts,
            result: toResult(
              r.propagation.masks,
              r.propagation.stops,
              r.propagation.priors,
              r.propagation.main,
              r.prompts,
              r.propagation.lowRes,
            ),
          };
        },
      };
    }
    // SAM2 family: the volume pipeline (video predictor, both directions from the keys) per call;
    // a click is added as points on its frame and the object is propagated again.
    const run = async (prompts: VolumePrompt[]): Promise<ObjectResult> => {
      const seg = await segmentVolume(
        volume,
        prompts.map((p) => ({ ...p, objId: 1 })),
        {
          model: this.entry.id,
          axis,
          threads: this.opts.threads,
          precision: this.opts.precision,
          intensity: () => image8,
          signal: this.opts.signal,
        },
      );
      const mask = selectLabel(seg.mask.data);
      const slices = new Map<number, Uint8Array>();
      for (let k = 0; k < sh.count; k++) {
        const s = extractSlice(mask, volume.dims, axis, k);
        if (s.some((v) => v !== 0)) slices.set(k, s);
      }
      return { mask, slices };
    };
    return {
      segment: run,
      correct: async (prompts, current, click) => {
        const next = promptsWithClick(prompts, click, current.slices, sh.cols, sh.rows);
        return { prompts: next, result: await run(next) };
      },
    };
  }
}
