/**
 * GET /uploads/{id}/volume.nii.gz: a volume upload as the server read it, for display
 * (displayVolume.ts says why). Visible to whoever may see the upload (others 404, as GET
 * /uploads/{id}); a video upload is a 400 (its frames are /uploads/{id}/frames/{k}). The bytes
 * depend only on the stored content and its format, so the ETag is those and a client that has
 * them gets a 304.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { canSee } from '../auth.js';
import { HttpError } from '../httpError.js';
import type { Repository, UploadRow } from '../store/repository.js';
import { isVideoFormat } from '../video/readUploadedVideo.js';
import { displayNiftiGz } from './displayVolume.js';
import type { VolumeCache } from './volumeCache.js';

/** Bumped when the encoding changes, so a cached copy of an older one is not reused. */
const ENCODING_VERSION = 1;

export const displayVolumeSchema = {
  summary: 'A volume upload as a NIfTI-1 (.nii.gz) for display: the voxels, spacing, origin and direction a session on it segments',
  description:
    'For formats a viewer cannot read itself (a DICOM series zip, PNG, JPEG): the series as the server sorted, oriented and rescaled it (HU for CT), a picture as its luminance. Voxel indices equal the ones prompts and label maps use. ETag + If-None-Match give 304.',
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
  response: {
    200: { description: 'gzip-compressed NIfTI-1', type: 'string', format: 'binary' },
    304: { description: 'not modified (If-None-Match matched the ETag)', type: 'null' },
    '4xx': { $ref: 'Error#' },
    '5xx': { $ref: 'Error#' },
  },
};

export function registerDisplayRoute(app: FastifyInstance, deps: { repo: Repository; volumes: VolumeCache }): void {
  app.get('/uploads/:id/volume.nii.gz', { schema: displayVolumeSchema }, async (req, reply) => {
    const { id } = req.params as { id: string };
    const upload = await deps.repo.upload(id);
    if (!upload || !canSee(req.principal, upload.owner)) throw new HttpError(404, `no upload ${id}`, 'list your uploads with GET /uploads');
    if (isVideoFormat(upload.format))
      throw new HttpError(400, `upload ${id} is a video, not a volume`, 'show its frames with GET /uploads/{id}/frames/{k}');
    return sendDisplayVolume(req, reply, upload, deps.volumes, id);
  });
}

/**
 * Answers with the display NIfTI of `upload` (ETag + If-None-Match → 304): the one builder behind
 * this route and a project case's GET /projects/{p}/cases/{c}/volume.nii.gz, whose callers check
 * who may see it. `fileStem` names the download.
 */
export async function sendDisplayVolume(
  req: FastifyRequest,
  reply: FastifyReply,
  upload: UploadRow,
  volumes: VolumeCache,
  fileStem: string,
): Promise<FastifyReply> {
  const etag = `"${upload.sha256.slice(0, 40)}-${upload.format}-v${ENCODING_VERSION}"`;
  reply.header('etag', etag).header('cache-control', 'private, max-age=86400');
  if (req.headers['if-none-match'] === etag) return reply.code(304).send();
  const bytes = await displayNiftiGz(await volumes.get(upload));
  const filename = fileStem.replace(/[^\w.-]/g, '_');
  return reply.code(200).type('application/gzip').header('content-disposition', `inline; filename="${filename}.nii.gz"`).send(bytes);
}
