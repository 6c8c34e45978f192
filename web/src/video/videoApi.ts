/**
 * The server calls only video mode makes (frames as JPEG, the three downloads, the prompts in effect); everything else
 * goes through the app's Api. Errors become ApiErrors with the server's one-line message and fix.
 */
import { ApiError } from '../api.js';

export interface VideoUploadView {
  id: string;
  name: string;
  format: string;
  bytes: number;
  dims: [number, number, number];
  kind?: 'volume' | 'video';
  frames?: number;
  fps?: number;
}

export type VideoExport = 'masks.npz' | 'masks.zip' | 'overlay.mp4';

const token = () => localStorage.getItem('medsam2.token') ?? undefined;

async function get(path: string): Promise<Response> {
  let res: Response;
  try {
    const t = token();
    res = await fetch(path, { headers: t ? { authorization: `Bearer ${t}` } : {} });
  } catch {
    throw new ApiError('the medsam2 server cannot be reached', 'check that `medsam2 serve` is still running, then retry', 0);
  }
  if (!res.ok) {
    const body = (await res.json().catch(() => ({}))) as { error?: string; fix?: string };
    throw new ApiError(body.error ?? `the server answered ${res.status}`, body.fix, res.status);
  }
  return res;
}

export async function fetchUpload(uploadId: string): Promise<VideoUploadView> {
  return (await get(`/uploads/${encodeURIComponent(uploadId)}`)).json() as Promise<VideoUploadView>;
}

/** Frame `k` of a video upload, decoded for drawing. */
export async function fetchFrame(uploadId: string, k: number): Promise<ImageBitmap> {
  const res = await get(`/uploads/${encodeURIComponent(uploadId)}/frames/${k}`);
  return createImageBitmap(await res.blob());
}

export async function fetchExport(sessionId: string, file: VideoExport): Promise<Blob> {
  return (await get(`/sessions/${encodeURIComponent(sessionId)}/video/${file}`)).blob();
}

/** One object's ± clicks in effect on one frame (GET /sessions/{id}/video/prompts). */
export interface FrameClicks {
  objId: number;
  frame: number;
  points: { x: number; y: number; label: 0 | 1 }[];
}

/** One object's box prompt in effect on one frame: x0, y0, x1, y1 in frame pixels. */
export interface FrameBox {
  objId: number;
  frame: number;
  box: [number, number, number, number];
}

/** The session's prompts in effect (after undo / redo): what is drawn on each frame. */
export async function fetchPrompts(sessionId: string): Promise<{ clicks: FrameClicks[]; boxes: FrameBox[] }> {
  return (await (await get(`/sessions/${encodeURIComponent(sessionId)}/video/prompts`)).json()) as {
    clicks: FrameClicks[];
    boxes: FrameBox[];
  };
}
