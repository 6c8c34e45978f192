import type { FastifyInstance } from 'fastify';
import { HttpError } from '../httpError.js';
import type { SessionManager } from '../sessions/sessionManager.js';
import type { BlobStore } from '../store/blobStore.js';
import type { Repository } from '../store/repository.js';
import type { VolumeCache } from '../uploads/volumeCache.js';
import { isVideoFormat } from './readUploadedVideo.js';
import { EXPORT_TYPES, VIDEO_EXPORTS, buildVideoExport, type VideoExport } from './videoExports.js';

export const videoExportSchema = {
  summary: "A video session's masks: masks.npz (segs N,H,W uint8), masks.zip (masks/<frame>.png), overlay.mp4",
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

/** GET /sessions/{id}/video/{file}: the downloads of a video session (a volume session is a 400). */
export function registerVideoRoutes(
  app: FastifyInstance,
  deps: { sessions: SessionManager; repo: Repository; volumes: VolumeCache; blobs: BlobStore },
): void {
  app.get('/sessions/:id/video/:file', { schema: videoExportSchema }, async (req, reply) => {
    const { id, file } = req.params as { id: string; file: VideoExport };
    const row = await deps.sessions.row(req.principal, id);
    const upload = await deps.repo.upload(row.uploadId);
    if (!upload) throw new HttpError(410, `the upload of session ${id} is gone`, 'upload the video again');
    if (!isVideoFormat(upload.format))
      throw new HttpError(400, `session ${id} is on a volume, not a video`, 'download its label map from /sessions/{id}/labelmap');
    const { labels } = await deps.sessions.labelMap(req.principal, id);
    const video = await deps.volumes.video(upload);
    const bytes = await buildVideoExport(file, labels, video, (s) => deps.blobs.tempPath(s));
    return reply
      .code(200)
      .type(EXPORT_TYPES[file])
      .header('content-disposition', `attachment; filename="session-${id}-${file}"`)
      .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
}
