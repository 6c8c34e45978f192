import { featureCacheFrames, openRegisteredSam2 } from './openSam2Model.js';
import { MedsamError } from '../common/errors.js';
import type { Precision } from '../models/precision.js';
import type { ModelEntry } from '../models/registry.js';
import { pilResizeBicubicU8 } from '../preprocess/pilResize.js';
import type { Sam2FrameSource, Sam2InferenceState } from '../predictor/sam2/inferenceState.js';
import { Sam2VideoPredictor, type MemoryMode } from '../predictor/sam2/videoPredictor.js';
import type { LoadedFrames } from './videoFrames.js';
import { promptsByObject, type ValidFramePrompt } from './videoPrompts.js';

/**
 * Video segmentation with an imported SAM2 / MedSAM2 checkpoint, as MedSAM2's
 * medsam2_infer_video.py runs it (build_sam2_video_predictor without post-processing, so
 * fill_hole_area 0 and no binarised point masks for the memory encoder; non_overlap_masks on),
 * except that each object is tracked in its own session forward and backward from its prompted
 * frame(s), MedSAM2's 3D recipe (propagate, reset, re-prompt, propagate in reverse), so every frame
 * is reached whichever frame was prompted. Objects are then merged per pixel by the highest
 * logit, which is what non_overlap_masks does across objects of one session.
 */

const MEAN = [0.485, 0.456, 0.406].map(Math.fround);
const STD = [0.229, 0.224, 0.225].map(Math.fround);

/**
 * [3·256] lookup of upstream's frame normalisation for JPEG frames (sam2/utils/misc.py
 * _load_img_as_tensor + load_video_frames_from_jpg_images): uint8 / 255 in float64, stored as
 * float32, then `-= mean` and `/= std` in float32. Each step is rounded to float32 like torch does.
 */
export function videoNormalizationLut(): Float32Array {
  const f = Math.fround;
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = f(f(f(v / 255) - MEAN[c]!) / STD[c]!);
  return lut;
}

/**
 * Model input [1,3,S,S] of one RGB frame: Pillow `convert("RGB").resize((S, S))` (BICUBIC, the
 * default of Image.resize, applied per channel like Pillow does), then the normalisation table.
 */
export function sam2VideoFrameTensor(rgb: Uint8Array, width: number, height: number, size: number, lut = videoNormalizationLut()): Float32Array {
  if (rgb.length !== width * height * 3) {
    throw new MedsamError(`frame has ${rgb.length} values, ${width}x${height} RGB needs ${width * height * 3}`, 'this is a bug; please report it');
  }
  const n = width * height, plane = size * size;
  const out = new Float32Array(3 * plane);
  const channel = new Uint8Array(n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) channel[i] = rgb[3 * i + c]!;
    const r = width === size && height === size ? channel : pilResizeBicubicU8(channel, width, height, size, size);
    const base = c * 256, off = c * plane;
    for (let i = 0; i < plane; i++) out[off + i] = lut[base + r[i]!]!;
  }
  return out;
}

/** Frames normalised on demand (the predictor's feature cache keeps what it needs). */
export function rgbFrameSource(frames: readonly Uint8Array[], width: number, height: number, size: number): Sam2FrameSource {
  const lut = videoNormalizationLut();
  return { numFrames: frames.length, frame: (i) => sam2VideoFrameTensor(frames[i]!, width, height, size, lut) };
}

export interface Sam2VideoOptions {
  threads?: number;
  /** 'int8' = fast mode; default 'fp32' (exact). */
  precision?: Precision;
  /** Graph cache folder (default: see graphCache.ts). */
  cacheDir?: string;
  /** Memory for cached frame features (default 1024 MiB); frames beyond it are re-encoded. */
  featureCacheMiB?: number;
  /** Memory bank policy of the predictor; default 'recent' (upstream). */
  memory?: MemoryMode;
  /** Called once per frame decided for an object. */
  onFrame?: (objId: number) => void;
  /** Progress notes (graph build / cache hit). */
  log?: (message: string) => void;
}

export interface Sam2VideoTracks {
  /** Per frame, height × width labels. */
  labels: Uint8Array[];
  framesEncoded: number;
}

export async function trackWithSam2(entry: ModelEntry, video: LoadedFrames, prompts: readonly ValidFramePrompt[],
  opts: Sam2VideoOptions = {}): Promise<Sam2VideoTracks> {
  const { model, engine } = await openRegisteredSam2(entry, { threads: opts.threads, cacheDir: opts.cacheDir, log: opts.log, precision: opts.precision });
  try {
    const cfg = { ...model.configs.predictor, binarizeMaskFromPtsForMemEnc: false };
    const { width: W, height: H } = video;
    const N = video.frames.length;
    // Every frame is visited once per direction per object; caching them all avoids re-encoding.
    const predictor = new Sam2VideoPredictor(engine, cfg, {
      fillHoleArea: 0, memory: opts.memory, featureCacheFrames: featureCacheFrames(model, N, opts.featureCacheMiB),
    });
    const frames = rgbFrameSource(video.frames, W, H, cfg.imageSize);
    const state = await predictor.initState(frames, H, W);
    // Best logit so far per pixel and frame, and its object: the non-overlap merge.
    const best: (Float32Array | undefined)[] = new Array(N);
    const labels = Array.from({ length: N }, () => new Uint8Array(W * H));
    const keep = (frameIdx: number, objId: number, logits: Float32Array) => {
      const b = (best[frameIdx] ??= new Float32Array(W * H).fill(0));
      const l = labels[frameIdx]!;
      // Objects come in ascending id order and only a strictly higher logit wins: ties go to the
      // lower id, as upstream's argmax over objects does.
      for (let i = 0; i < logits.length; i++) if (logits[i]! > b[i]!) { b[i] = logits[i]!; l[i] = objId; }
    };
    for (const [objId, own] of promptsByObject(prompts)) {
      const first = Math.min(...own.map((p) => p.frame));
      for (const reverse of [false, true]) {
        if (reverse && first === 0) break;
        predictor.resetState(state);
        for (const p of own) await addPrompt(predictor, state, p);
        for await (const r of predictor.propagateInVideo(state, { startFrameIdx: first, reverse })) {
          // The prompted frame is served by both passes; keep it once.
          if (reverse && r.frameIdx === first) continue;
          keep(r.frameIdx, objId, r.videoResMasks[0]!);
          opts.onFrame?.(objId);
        }
      }
    }
    return { labels, framesEncoded: engine.imageEncodeCount };
  } finally {
    await engine.release();
  }
}

async function addPrompt(predictor: Sam2VideoPredictor, state: Sam2InferenceState, p: ValidFramePrompt): Promise<void> {
  // validateFramePrompts allows a mask or box/points on one frame, not both.
  if (p.mask) {
    await predictor.addNewMask(state, { frameIdx: p.frame, objId: p.objId, mask: p.mask });
    return;
  }
  const pts = p.points ?? [];
  await predictor.addNewPointsOrBox(state, {
    frameIdx: p.frame,
    objId: p.objId,
    box: p.box ?? null,
    points: pts.length ? pts.map((q) => [q.x, q.y]) : null,
    labels: pts.length ? pts.map((q) => q.label) : null,
  });
}
