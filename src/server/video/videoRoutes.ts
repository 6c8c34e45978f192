import type { FastifyInstance } from 'fastify';
import * as jpeg from 'jpeg-js';
import { canSee } from '../auth.js';
import { HttpError } from '../httpError.js';
import { effective, type SessionManager } from '../sessions/sessionManager.js';
import type { BlobStore } from '../store/blobStore.js';
import type { Repository } from '../store/repository.js';
import type { VolumeCache } from '../uploads/volumeCache.js';
import { isVideoFormat } from './readUploadedVideo.js';
import { promptsInEffect } from './videoPrompts.js';
import { EXPORT_TYPES, VIDEO_EXPORTS, buildVideoExport, type VideoExport } from './videoExports.js';

export const videoExportSchema = {
  summary:
    "A video session's masks, each with the objects' names: masks.npz (segs N,H,W uint8; names, text; name_values, int32), masks.zip (masks/<frame>.png and labels.json, the object name of each label value), overlay.mp4 (names drawn beside the masks)",
  params: {
    type: 'object',
    required: ['id', 'file'],
    properties: { id: { type: 'string', maxLength: 64 }, file: { type: 'string', enum: [...VIDEO_EXPORTS] } },
  },
  response: {
    200: { description: 'the file', type: 'string', format: 'binary' },
    '4xx': { $ref: 'Error#' },
    '5xx': { $ref: 'Error#' },
  },
};

export const frameSchema = {
  summary: 'One frame of a video upload as JPEG (what a client shows under the masks)',
  params: {
    type: 'object',
    required: ['id', 'frame'],
    properties: { id: { type: 'string', maxLength: 64 }, frame: { type: 'integer', minimum: 0 } },
  },
  response: {
    200: { description: 'JPEG image', type: 'string', format: 'binary' },
    '4xx': { $ref: 'Error#' },
    '5xx': { $ref: 'Error#' },
  },
};

const frameKey = { objId: { type: 'integer' }, frame: { type: 'integer' } };

export const videoPromptsSchema = {
  summary:
    "A video session's prompts in effect (after undo / redo), per object and frame: what a client draws, ± clicks as markers, boxes as outlines",
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
  response: {
    200: {
      type: 'object',
      required: ['clicks', 'boxes'],
      properties: {
        clicks: {
          type: 'array',
          items: {
            type: 'object',
            required: ['objId', 'frame', 'points'],
            properties: {
              ...frameKey,
              points: {
                type: 'array',
                items: {
                  type: 'object',
                  required: ['x', 'y', 'label'],
                  properties: { x: { type: 'number' }, y: { type: 'number' }, label: { type: 'integer', enum: [0, 1] } },
                },
              },
            },
          },
        },
        boxes: {
          type: 'array',
          items: {
            type: 'object',
            required: ['objId', 'frame', 'box'],
            properties: {
              ...frameKey,
              box: { type: 'array', items: { type: 'number' }, minItems: 4, maxItems: 4, description: 'x0, y0, x1, y1 in frame pixels' },
            },
          },
        },
      },
    },
    '4xx': { $ref: 'Error#' },
    '5xx': { $ref: 'Error#' },
  },
};

/** Interleaved RGB as a JPEG (quality 92): a frame for display, a tenth of a PNG's bytes. */
function jpegFrame(rgb: Uint8Array, width: number, height: number): Buffer {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgba[j] = rgb[i]!;
    rgba[j + 1] = rgb[i + 1]!;
    rgba[j + 2] = rgb[i + 2]!;
    rgba[j + 3] = 255;
  }
  return jpeg.encode({ data: rgba, width, height }, 92).data;
}

/**
 * GET /uploads/{id}/frames/{frame}: a frame as JPEG; GET /sessions/{id}/video/{file}: the downloads of a
 * video session (a volume session is a 400); GET /sessions/{id}/video/prompts: its clicks and boxes in effect.
 */
export function registerVideoRoutes(
  app: FastifyInstance,
  deps: { sessions: SessionManager; repo: Repository; volumes: VolumeCache; blobs: BlobStore },
): void {
  app.get('/uploads/:id/frames/:frame', { schema: frameSchema }, async (req, reply) => {
    const { id, frame } = req.params as { id: string; frame: number };
    const upload = await deps.repo.upload(id);
    if (!upload || !canSee(req.principal, upload.owner)) throw new HttpError(404, `no upload ${id}`, 'list your uploads with GET /uploads');
    if (!isVideoFormat(upload.format))
      throw new HttpError(400, `upload ${id} is a volume, not a video`, 'read volumes slice by slice in a session');
    const video = await deps.volumes.video(upload);
    if (frame >= video.frames.length)
      throw new HttpError(400, `frame ${frame} is outside the video (0..${video.frames.length - 1})`, 'give a frame index');
    return reply
      .code(200)
      .type('image/jpeg')
      .header('cache-control', 'private, max-age=3600')
      .send(jpegFrame(video.frames[frame]!, video.width, video.height));
  });

  app.get('/sessions/:id/video/prompts', { schema: videoPromptsSchema }, async (req) => {
    const { id } = req.params as { id: string };
    // Checks the caller may see the session (404 otherwise).
    await deps.sessions.row(req.principal, id);
    return promptsInEffect(effective(await deps.repo.interactions(id)));
  });

  app.get('/sessions/:id/video/:file', { schema: videoExportSchema }, async (req, reply) => {
    const { id, file } = req.params as { id: string; file: VideoExport };
    const row = await deps.sessions.row(req.principal, id);
    const upload = await deps.repo.upload(row.uploadId);
    if (!upload) throw new HttpError(410, `the upload of session ${id} is gone`, 'upload the video again');
    if (!isVideoFormat(upload.format))
      throw new HttpError(400, `session ${id} is on a volume, not a video`, 'download its label map from /sessions/{id}/labelmap');
    const { labels } = await deps.sessions.labelMap(req.principal, id);
    // The objects' names go into every file (labels.json, npz `names`, drawn in the mp4).
    const { objects } = await deps.sessions.get(req.principal, id);
    const video = await deps.volumes.video(upload);
    const bytes = await buildVideoExport(
      file,
      labels,
      video,
      objects,
      (s) => deps.blobs.tempPath(s),
      (msg) => req.log.warn(msg),
    );
    return reply
      .code(200)
      .type(EXPORT_TYPES[file])
      .header('content-disposition', `attachment; filename="session-${id}-${file}"`)
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
