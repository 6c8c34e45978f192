import { MedsamError } from '../../common/errors.js';
import { segmentVideo } from '../../pipelines/segmentVideo.js';
import type { LoadedFrames } from '../../pipelines/videoFrames.js';
import { validateFramePrompts, type FramePrompt } from '../../pipelines/videoPrompts.js';
import { HttpError, fromMedsamError } from '../httpError.js';
import { decodeRle } from '../rle.js';
import type { UploadRow } from '../store/repository.js';
import type { JobRequest } from './jobRunner.js';

/**
 * A batch job on a video upload: the work of `medsam2 video` (segmentVideo) with the prompts a
 * video session takes (`slice` = frame, x/y = column/row of the frame, mask as RLE). Its result is
 * the label map a video session stores, frames one after another ([width, height, frames],
 * x fastest), so the same downloads (masks.npz, masks.zip, overlay.mp4) are built from it.
 */

/** The request's prompts as frame prompts, checked against the video's size and length (400 when bad). */
export function videoJobPrompts(upload: Pick<UploadRow, 'id' | 'dims'>, req: JobRequest): FramePrompt[] {
  if (req.policy)
    throw new HttpError(
      400,
      `policy '${req.policy}' needs a reference mask, and upload ${upload.id} is a video`,
      'give prompts: {slice: frame, box or points}',
    );
  const [width, height, frames] = upload.dims;
  try {
    const prompts = req.prompts!.map((q, i): FramePrompt => {
      if (q.recist) throw new MedsamError(`prompt ${i + 1}: a RECIST line is for volumes`, 'give a box or points on the frame');
      return {
        frame: q.slice,
        objId: q.objId,
        box: q.box,
        points: q.points,
        mask: q.mask ? decodeRle(q.mask, height, width, `prompt ${i + 1} mask`) : undefined,
      };
    });
    validateFramePrompts(prompts, width, height, frames);
    return prompts;
  } catch (e) {
    throw e instanceof MedsamError ? fromMedsamError(e) : e;
  }
}

export interface VideoJobResult {
  /** Frames one after another (x fastest): the layout a video session stores. */
  labels: Uint8Array;
  summary: { slicesSegmented: number; slicesEncoded: number; objects: { objId: number; slices: number }[] };
}

export async function runVideoJob(
  frames: LoadedFrames,
  prompts: FramePrompt[],
  opts: { model: string; threads?: number; onProgress?: (fraction: number) => void; signal?: AbortSignal },
): Promise<VideoJobResult> {
  const r = await segmentVideo(frames, prompts, {
    model: opts.model,
    threads: opts.threads,
    signal: opts.signal,
    onProgress: (done, total) => opts.onProgress?.(total ? done / total : 0),
  });
  const px = r.width * r.height;
  const labels = new Uint8Array(px * r.frameCount);
  let segmented = 0;
  r.labels.forEach((l, k) => {
    labels.set(l, k * px);
    if (l.some((v) => v !== 0)) segmented++;
  });
  return {
    labels,
    summary: {
      slicesSegmented: segmented,
      slicesEncoded: r.framesEncoded,
      objects: r.objects.map((o) => ({ objId: o.objId, slices: o.frames })),
    },
  };
}
