import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import { MedsamError, errorMessage } from '../common/errors.js';
import type { Volume } from '../io/volume.js';
import type { DicomMaskOptions } from '../io/dicomMask.js';
import { writeMask } from '../io/writeMask.js';
import { LOCAL_PRINCIPAL, TokenVerifier, canSee, canWrite, isLoopbackHost, type Principal } from './auth.js';
import type { ServerConfig } from './config.js';
import { clientErrorHandler, clientGone, frameworkErrors, limitAnswerStall, requestTimeouts } from './connectionGuards.js';
import { docsPage } from './docsPage.js';
import { HttpError, fromMedsamError, type ErrorBody } from './httpError.js';
import { JobRunner, type JobRequest, type JobView } from './jobs/jobRunner.js';
import { jobListQuery, mergeJobLists, normaliseJobListQuery, pageOf } from './jobs/jobListQuery.js';
import { registerProjectRoutes, type ProjectsApi } from './projects/projectRoutes.js';
import type { ProjectJobView } from './projects/projectJobs.js';
import { ServerMetrics } from './metrics.js';
import { routes as S, shared } from './schemas.js';
import {
  SessionManager,
  type EditRequest,
  type OpenSession,
  type PromptRequest,
  type PropagateRequest,
} from './sessions/sessionManager.js';
import { namedSegments } from './sessions/namedSegments.js';
import { BlobStore } from './store/blobStore.js';
import { JobCheckpoints } from './store/jobCheckpoints.js';
import { sweepLegacyCheckpoints } from './store/legacyCheckpoints.js';
import type { Repository, UploadRow } from './store/repository.js';
import { registerDisplayRoute } from './uploads/displayRoute.js';
import { readUpload, uploadGeometry, type AnyUploadFormat, type ReadUpload } from './uploads/readUpload.js';
import { VolumeCache } from './uploads/volumeCache.js';
import { uploadKind } from './video/videoViews.js';
import { EXPORT_TYPES, buildVideoExport, objectsInLabels, type VideoExport } from './video/videoExports.js';
import { registerVideoRoutes, videoExportSchema } from './video/videoRoutes.js';
import { WorkQueue } from './workQueue.js';
import { useWorkerOrt } from '../platform/nodeWorkerOrt.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal;
  }
}

export interface ServerParts {
  app: FastifyInstance;
  sessions: SessionManager;
  jobs: JobRunner;
  projects: ProjectsApi;
  metrics: ServerMetrics;
  authRequired: boolean;
  /** Stops taking requests, cancels propagations, saves state, closes the database. */
  shutdown(): Promise<void>;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const PUBLIC_ROUTES = new Set(['/healthz', '/openapi.json', '/docs']);

function sendError(reply: FastifyReply, status: number, body: ErrorBody): FastifyReply {
  return reply.code(status).type('application/json').send(body);
}

/** Builds the HTTP server (not listening yet). `openSession` is how Sessions are made (a pool behind it). */
export async function buildServer(config: ServerConfig, repo: Repository, openSession: OpenSession): Promise<ServerParts> {
  const authRequired = config.requireAuth || !isLoopbackHost(config.host);
  if (config.ortInWorker ?? process.env.MEDSAM2_ORT_IN_WORKER !== '0') useWorkerOrt();
  const metrics = new ServerMetrics();
  const blobs = new BlobStore(config.dataDir);
  // Temp files a killed server left (a partial upload, an export under way) go; an hour old at least, so never a live one.
  blobs.sweepTemp(60 * 60_000);
  const volumes = new VolumeCache(blobs, config.limits);
  const queue: WorkQueue = new WorkQueue(
    (model, lane, depth) => metrics.queueDepth.set({ model, lane }, depth),
    (model, lane): number => (lane === 'interactive' ? sessions.clickLanes(model) : 1),
    (model, fn) => metrics.attributeOrt(model, fn),
  );
  const sessions: SessionManager = new SessionManager(repo, blobs, volumes, queue, openSession, metrics, config);
  const jobs = new JobRunner(repo, blobs, volumes, queue, metrics, config);
  const tokens = new TokenVerifier(repo);
  const version = packageVersion();
  const started = Date.now();
  const webPaths = new Set<string>();

  const app = Fastify({
    logger: config.log ? { level: 'info' } : false,
    bodyLimit: config.limits.maxJsonBytes,
    // Unknown fields are refused (400), not silently dropped.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    return503OnClosing: true,
    // A client that stalls or drips a request is cut off; parser and router refusals answer in one line.
    ...requestTimeouts(config.limits.requestSeconds),
    clientErrorHandler: clientErrorHandler(config.limits.requestSeconds),
    frameworkErrors,
  });
  app.decorateRequest('principal', null as unknown as Principal);
  for (const s of shared) app.addSchema(s);

  // Last line of defence: no message leaves with a path inside the data folder.
  const scrub = (m: string) => m.split(config.dataDir).join('<data>');
  app.setErrorHandler((err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof HttpError) return sendError(reply, err.status, { error: scrub(err.message), ...(err.fix ? { fix: err.fix } : {}) });
    if (err instanceof MedsamError) {
      const h = fromMedsamError(err);
      return sendError(reply, h.status, { error: scrub(h.message), ...(h.fix ? { fix: h.fix } : {}) });
    }
    const e = err as { validation?: unknown; validationContext?: string; statusCode?: number; code?: string; message?: string };
    if (e.validation)
      return sendError(reply, 400, { error: `invalid request: ${e.message}`, fix: 'see the request schema in /openapi.json' });
    if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      return sendError(reply, 413, {
        error: `request body is larger than the limit of ${config.limits.maxJsonBytes} bytes`,
        fix: 'send a smaller body (masks as RLE)',
      });
    if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE')
      return sendError(reply, 415, {
        error: `unsupported Content-Type '${req.headers['content-type'] ?? ''}'`,
        fix: 'send JSON (application/json), or file bytes to POST /uploads (application/octet-stream)',
      });
    if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY')
      return sendError(reply, 400, { error: 'the JSON body is empty', fix: 'send a JSON object, or no Content-Type' });
    if (e instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
      return sendError(reply, 400, {
        error: `the body is not valid JSON (${(e.message ?? '').replace(/\s+/g, ' ')})`,
        fix: 'send a valid JSON object',
      });
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
      return sendError(reply, e.statusCode, { error: scrub((e.message ?? 'bad request').replace(/\s+/g, ' ')) });
    }
    req.log.error(err);
    if (!config.log) process.stderr.write(`medsam2 serve: internal error on ${req.method} ${req.url}: ${errorMessage(err)}\n`);
    return sendError(reply, 500, { error: 'internal server error', fix: 'this is a bug; the server log has the details' });
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, 404, { error: `no route ${req.method} ${req.url.split('?')[0]}`, fix: 'see /docs for the API' }),
  );

  // Uploads are streamed to disk by the route, never buffered by a parser.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0]!;
    const header = req.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)$/i.exec(header);
      const p = m ? await tokens.verify(m[1]!) : undefined;
      if (!p)
        throw new HttpError(
          401,
          'invalid bearer token',
          'create a token with `medsam2 users add NAME --role R` and send `Authorization: Bearer <token>`',
        );
      req.principal = p;
      return;
    }
    if (PUBLIC_ROUTES.has(path) || webPaths.has(path)) return;
    if (authRequired)
      throw new HttpError(
        401,
        'authentication required',
        'send `Authorization: Bearer <token>` (create one with `medsam2 users add NAME --role annotator`)',
      );
    req.principal = LOCAL_PRINCIPAL;
  });
  // A client that stops reading its answer is cut off (connectionGuards.ts); the SSE stream arms the same before its end.
  app.addHook('onSend', async (_req, reply, payload) => {
    limitAnswerStall(reply.raw, config.limits.answerStallSeconds);
    return payload;
  });
  app.addHook('onResponse', async (req, reply) => {
    metrics.httpDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  await app.register(rateLimit, {
    global: false,
    hook: 'preHandler',
    keyGenerator: (req) => req.principal?.id ?? req.ip,
    errorResponseBuilder: (_req, ctx) =>
      new HttpError(
        429,
        `rate limit: more than ${ctx.max} requests per ${ctx.after} on this endpoint`,
        `retry in ${Math.ceil(ctx.ttl / 1000)} s`,
      ),
  });
  const expensive = { rateLimit: { max: config.limits.expensivePerMinute, timeWindow: 60_000 } };

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'medsam2 serve',
        version,
        description:
          'Interactive and batch MedSAM2/SAM2 segmentation of 3D medical images. Masks travel as row-major RLE (see the Rle schema).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'token from `medsam2 users add`' } } },
      security: [{ bearer: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  const write = (p: Principal) => {
    if (!canWrite(p)) throw new HttpError(403, `user '${p.name}' (${p.role}) may not do this`, 'ask an admin for the annotator role');
  };
  const uploadView = (u: UploadRow) => ({
    id: u.id,
    sha256: u.sha256,
    name: u.name,
    format: u.format,
    bytes: u.bytes,
    dims: u.dims,
    spacing: u.spacing,
    modality: u.modality,
    ...uploadKind(u),
    createdAt: u.createdAt,
  });

  async function sendLabelMap(
    reply: FastifyReply,
    labels: Volume,
    source: Volume,
    format: string,
    stem: string,
    dicom?: DicomMaskOptions,
  ): Promise<FastifyReply> {
    const tmp = blobs.tempPath(`.${format}`);
    try {
      try {
        await writeMask(tmp, labels, source, dicom);
      } catch (e) {
        // Writer messages name the file they write: the client knows it as its download, not our temp path.
        if (e instanceof MedsamError) {
          const h = fromMedsamError(e);
          throw new HttpError(400, h.message.split(tmp).join(`${stem}.${format}`), h.fix);
        }
        throw e;
      }
      const bytes = readFileSync(tmp);
      return reply
        .code(200)
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${stem}.${format}"`)
        .send(bytes);
    } finally {
      rmSync(tmp, { force: true });
    }
  }

  app.get('/healthz', { schema: S.health }, async () => ({
    status: 'ok',
    version,
    uptimeSeconds: (Date.now() - started) / 1000,
    sessionsLive: metrics.sessionsLive ? ((await metrics.sessionsLive.get()).values[0]?.value ?? 0) : 0,
    models: config.models,
  }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/docs', { schema: { hide: true } }, async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(docsPage(app.swagger() as Record<string, unknown>)),
  );
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );

  app.post('/uploads', { schema: S.uploadCreate, config: expensive }, async (req, reply) => {
    write(req.principal);
    const q = req.query as { name: string; format?: AnyUploadFormat };
    const name = q.name.replace(/[\u0000-\u001f\u007f]/g, '_');
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > config.limits.maxUploadBytes) {
      throw new HttpError(
        413,
        `upload of ${declared} bytes is larger than the server's limit of ${config.limits.maxUploadBytes} bytes`,
        'send a smaller file or ask the admin to raise --max-upload-bytes',
      );
    }
    if (!req.body || typeof (req.body as NodeJS.ReadableStream).pipe !== 'function') {
      throw new HttpError(
        415,
        'upload body must be the file bytes with Content-Type: application/octet-stream',
        'e.g. curl --data-binary @scan.nii.gz -H "Content-Type: application/octet-stream"',
      );
    }
    // Stored and pinned (BlobStore): until this upload's row is committed, no refusal removes these bytes.
    const { sha256, bytes } = await blobs.putStream(
      req.body as NodeJS.ReadableStream as import('node:stream').Readable,
      config.limits.maxUploadBytes,
    );
    let read: ReadUpload;
    try {
      read = await readUpload(blobs, sha256, name, config.limits, q.format);
    } catch (e) {
      // Bytes that are not a readable image or video within the limits are not kept, unless a row or
      // another upload of the same bytes (pinned) refers to them.
      await blobs.discard(sha256, blobReferenced);
      throw e;
    }
    let row: UploadRow;
    try {
      row = {
        id: randomUUID(),
        owner: req.principal.id,
        sha256,
        name,
        ...uploadGeometry(read, name),
        bytes,
        createdAt: new Date().toISOString(),
      };
      await repo.addUpload(row);
    } finally {
      blobs.unpin(sha256);
    }
    volumes.put(row, read.kind === 'video' ? read.video : read.volume);
    return reply.code(201).send(uploadView(row));
  });
  app.get('/uploads', { schema: S.uploadList }, async (req) =>
    (await repo.listUploads(req.principal.role === 'admin' ? undefined : req.principal.id)).map(uploadView),
  );
  app.get('/uploads/:id', { schema: S.uploadGet }, async (req) => {
    const u = await repo.upload((req.params as { id: string }).id);
    if (!u || !canSee(req.principal, u.owner))
      throw new HttpError(404, `no upload ${(req.params as { id: string }).id}`, 'list your uploads with GET /uploads');
    return uploadView(u);
  });

  app.post('/sessions', { schema: S.sessionCreate, config: expensive }, async (req, reply) =>
    reply
      .code(201)
      .send(await sessions.create(req.principal, req.body as { uploadId: string; model?: string; axis?: 0 | 1 | 2; window?: string })),
  );
  app.get('/sessions', { schema: S.sessionList }, async (req) => sessions.list(req.principal));
  app.get('/sessions/:id', { schema: S.sessionGet }, async (req) => sessions.get(req.principal, (req.params as { id: string }).id));
  app.delete('/sessions/:id', { schema: S.sessionClose }, async (req) => sessions.close(req.principal, (req.params as { id: string }).id));
  app.post('/sessions/:id/prompts', { schema: S.prompt, config: expensive }, async (req) =>
    sessions.prompt(req.principal, (req.params as { id: string }).id, req.body as PromptRequest),
  );
  app.post('/sessions/:id/propagate', { schema: S.propagate, config: expensive }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const body = (req.body ?? {}) as PropagateRequest;
    // A client that disconnects before its answer is complete (a closed tab, a dropped stream)
    // cancels its propagation: nobody would receive it, and it would hold the session busy.
    const requesterGone = clientGone(reply);
    if (!String(req.headers.accept ?? '').includes('text/event-stream'))
      return sessions.propagate(req.principal, id, body, { requesterGone });
    // Refusals (404, 403, 409) are plain JSON; once the stream starts, failures are `error` events.
    const view = await sessions.get(req.principal, id);
    if (!canWrite(req.principal))
      throw new HttpError(
        403,
        `user '${req.principal.name}' (${req.principal.role}) may not propagate`,
        'ask an admin for the annotator role',
      );
    if (view.propagating) throw new HttpError(409, `session ${id} is propagating`, 'wait for it to finish or POST /sessions/{id}/cancel');
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown) => raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    let last = 0;
    try {
      const summary = await sessions.propagate(req.principal, id, body, {
        onProgress: (done, total, objId) => {
          const now = Date.now();
          if (now - last >= 50 || done >= total) {
            last = now;
            send('progress', { done, total, objId });
          }
        },
        onMask: (objId, slice, mask, area, axis) => send('mask', { objId, slice, area, mask, axis }),
        requesterGone,
      });
      send('done', summary);
    } catch (e) {
      const h =
        e instanceof HttpError
          ? e
          : e instanceof MedsamError
            ? fromMedsamError(e)
            : new HttpError(500, 'internal server error', 'this is a bug; the server log has the details');
      if (h.status === 500) req.log.error(e);
      send(/cancelled/.test(h.message) ? 'cancelled' : 'error', { error: scrub(h.message), ...(h.fix ? { fix: h.fix } : {}) });
    }
    limitAnswerStall(raw, config.limits.answerStallSeconds);
    raw.end();
    return reply;
  });
  app.post('/sessions/:id/cancel', { schema: S.cancel }, async (req) => ({
    cancelled: await sessions.cancel(req.principal, (req.params as { id: string }).id),
  }));
  app.post('/sessions/:id/undo', { schema: S.undo }, async (req) => ({
    undone: await sessions.undo(req.principal, (req.params as { id: string }).id),
  }));
  app.post('/sessions/:id/redo', { schema: S.redo }, async (req) => ({
    redone: await sessions.redo(req.principal, (req.params as { id: string }).id),
  }));
  app.post('/sessions/:id/edits', { schema: S.edit }, async (req) =>
    sessions.edit(req.principal, (req.params as { id: string }).id, req.body as EditRequest),
  );
  app.delete('/sessions/:id/objects/:objId', { schema: S.removeObject }, async (req) => {
    const p = req.params as { id: string; objId: number };
    return sessions.removeObject(req.principal, p.id, p.objId);
  });
  app.patch('/sessions/:id/objects/:objId', { schema: S.renameObject }, async (req) => {
    const p = req.params as { id: string; objId: number };
    return sessions.renameObject(req.principal, p.id, p.objId, (req.body as { name: unknown }).name);
  });
  app.get('/sessions/:id/slices/:slice', { schema: S.sliceMasks }, async (req) => {
    const p = req.params as { id: string; slice: number };
    return sessions.sliceMasks(req.principal, p.id, p.slice, (req.query as { axis?: 0 | 1 | 2 }).axis);
  });
  app.get('/sessions/:id/labelmap', { schema: S.labelMap }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const format = (req.query as { format: string }).format;
    const { labels, source } = await sessions.labelMap(req.principal, id);
    // DICOM SEG and RTSTRUCT name each segment (SegmentLabel, ROIName): the objects' names go there.
    // NIfTI, NRRD and npz have no field for them and stay as they were.
    const segments = format.endsWith('.dcm') ? namedSegments(labels, (await sessions.get(req.principal, id)).objects) : undefined;
    return sendLabelMap(reply, labels, source, format, `session-${id}`, segments ? { segments } : undefined);
  });

  registerVideoRoutes(app, { sessions, repo, volumes, blobs });
  registerDisplayRoute(app, { repo, volumes });

  app.post('/jobs', { schema: S.jobCreate, config: expensive }, async (req, reply) =>
    reply.code(202).send(await jobs.submit(req.principal, req.body as JobRequest)),
  );
  // Segmentation jobs and project jobs (pre-annotate, export, send-to-pacs) in one list: oldest first, or a
  // newest-first page; each table filtered in its query (jobs/jobListQuery.ts).
  app.get(
    '/jobs',
    { schema: S.jobList, preValidation: async (req) => normaliseJobListQuery(req.query as Record<string, unknown>) },
    async (req, reply) => {
      const p = req.principal;
      const q = jobListQuery(req.query as Parameters<typeof jobListQuery>[0]);
      let before: { createdAt: string; id: string } | undefined;
      if (q.before !== undefined) {
        const id = q.before;
        before = (await projects.jobView(p, id)) ?? (await jobs.row(p, id).catch(() => undefined));
        if (!before) throw new HttpError(400, `before: no job ${id} you can see`, 'page with the id of the last job of the previous page');
      }
      const page = pageOf(q, before);
      const list = mergeJobLists<JobView | ProjectJobView>([await jobs.list(p, q, page), await projects.listJobs(p, q, page)], q);
      if (q.limit !== undefined && list.length === q.limit) {
        const next = new URLSearchParams(req.url.split('?')[1] ?? '');
        next.set('before', list.at(-1)!.id);
        reply.header('link', `</jobs?${next}>; rel="next"`);
      }
      return list;
    },
  );
  app.get('/jobs/:id', { schema: S.jobGet }, async (req) => {
    const id = (req.params as { id: string }).id;
    return (await projects.jobView(req.principal, id)) ?? jobs.view(await jobs.row(req.principal, id));
  });
  app.delete('/jobs/:id', { schema: S.jobCancel }, async (req) => {
    const id = (req.params as { id: string }).id;
    return (await projects.cancelJob(req.principal, id)) ?? jobs.cancel(req.principal, id);
  });
  app.get('/jobs/:id/result', { schema: S.jobResult }, async (req, reply) => {
    const id = (req.params as { id: string }).id;
    const zip = await projects.jobResult(req.principal, id);
    if (zip) return reply.type('application/zip').header('content-disposition', `attachment; filename="${zip.filename}"`).send(zip.bytes);
    const { labels, source } = await jobs.result(req.principal, id);
    return sendLabelMap(reply, labels, source, (req.query as { format: string }).format, `job-${id}`);
  });

  // A video job's downloads: the files a video session gives (videoExports.ts).
  app.get(
    '/jobs/:id/video/:file',
    { schema: { ...videoExportSchema, summary: `A finished video job's masks: ${videoExportSchema.summary.split(': ')[1]}` } },
    async (req, reply) => {
      const { id, file } = req.params as { id: string; file: VideoExport };
      const { labels, frames } = await jobs.videoResult(req.principal, id);
      const bytes = await buildVideoExport(
        file,
        labels,
        frames,
        objectsInLabels(labels),
        (s) => blobs.tempPath(s),
        (msg) => req.log.warn(msg),
      );
      return reply
        .code(200)
        .type(EXPORT_TYPES[file])
        .header('content-disposition', `attachment; filename="job-${id}-${file}"`)
        .send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
  );

  const projects = await registerProjectRoutes(app, { config, repo, blobs, volumes, sessions, queue, authRequired });
  /** Whether any row (an upload, a session's label map, a job's or a project job's result) refers to a blob. */
  const blobReferenced = async (sha: string) => (await repo.refersToBlob(sha)) || (await projects.service.repo.hasJobResult(sha));

  // The browser app (web/, built by `npm run build:web` into dist/web) at `/`: @fastify/static with
  // wildcard: false registers one route per built file at startup, so no request path reaches the
  // filesystem; the app's own files need no token (its API calls do).
  const webRoot = fileURLToPath(new URL('../../dist/web/', import.meta.url));
  if (existsSync(join(webRoot, 'index.html'))) {
    await app.register(fastifyStatic, { root: webRoot, wildcard: false, index: 'index.html', schemaHide: true });
    webPaths.add('/');
    for (const f of readdirSync(webRoot, { recursive: true }) as string[])
      if (statSync(join(webRoot, f)).isFile()) webPaths.add(`/${f.split('\\').join('/')}`);
  }

  await app.ready();
  // Checkpoints a server older than checkpoints/<job>/ left in the shared blob store go (or move to
  // their job's folder) before any job resumes; once done, a marker makes later start-ups skip it.
  const projectResults = (await projects.service.repo.listJobs()).flatMap((j) => (j.resultSha ? [j.resultSha] : []));
  await sweepLegacyCheckpoints(config.dataDir, repo, blobs, new JobCheckpoints(config.dataDir), projectResults);
  await jobs.resume();

  let closed = false;
  return {
    app,
    sessions,
    jobs,
    projects,
    metrics,
    authRequired,
    async shutdown() {
      if (closed) return;
      closed = true;
      jobs.stop();
      await sessions.shutdown();
      await app.close();
      await projects.close();
      await repo.close();
    },
  };
}
