import { join } from 'node:path';
import { createReadStream, readFileSync, rmSync } from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MedsamError } from '../../common/errors.js';
import type { Volume } from '../../io/volume.js';
import { writeMask } from '../../io/writeMask.js';
import { measureWork } from '../../projects/activeTime.js';
import { type PacsSend, pacsSends, recordPacsSend } from '../../projects/pacsSends.js';
import { ProjectError } from '../../projects/projectErrors.js';
import { ProjectService } from '../../projects/projectService.js';
import { buildReport } from '../../projects/report.js';
import { reportHtml } from '../../projects/reportHtml.js';
import { authorLabel, type CaseRow, type JobPage, type LabelVersion, type MemberRole, type Project } from '../../projects/types.js';
import { labelMapVolume } from '../../session/labelMap.js';
import { LOCAL_PRINCIPAL, type Principal } from '../auth.js';
import type { ServerConfig } from '../config.js';
import { HttpError, fromMedsamError } from '../httpError.js';
import type { JobListQuery } from '../jobs/jobListQuery.js';
import { decodeRle, type Rle } from '../rle.js';
import type { SessionManager } from '../sessions/sessionManager.js';
import type { BlobStore } from '../store/blobStore.js';
import type { Repository } from '../store/repository.js';
import { SqlRepository } from '../store/sqlRepository.js';
import { sendDisplayVolume } from '../uploads/displayRoute.js';
import type { VolumeCache } from '../uploads/volumeCache.js';
import type { WorkQueue } from '../workQueue.js';
import { caseSeg } from './caseSeg.js';
import { sendRoundToPacs } from './pacsRound.js';
import { roundSegUids } from './roundSegUids.js';
import { type PacsTarget, pacsTarget, requirePacs, stowToPacs } from './pacs.js';
import { ProjectJobs, type ExportRequest, type PreAnnotateRequest, type ProjectJobView } from './projectJobs.js';
import { projectRoutes as S, projectShared } from './projectSchemas.js';
import { uploadCaseLoader, uploadIdOf, uploadSource } from './uploadCases.js';

/**
 * Annotation projects over HTTP (issue #12) on the ProjectService library: the same life cycle,
 * versions and measurements as `medsam2 project`, with the server's users as project members
 * (principal name = member name; server admins act as project admins everywhere). A project the
 * caller is not a member of is 404, never a hint that it exists. Cases come from the caller's
 * uploads; no client path reaches the filesystem.
 */

export interface ProjectDeps {
  config: ServerConfig;
  repo: Repository;
  blobs: BlobStore;
  volumes: VolumeCache;
  sessions: SessionManager;
  queue: WorkQueue;
  authRequired: boolean;
}

/** What app.ts needs back: project jobs beside the segmentation jobs at /jobs and /jobs/{id}, and closing. */
export interface ProjectsApi {
  service: ProjectService;
  /** The project jobs `p` may see: its own, and those of the projects it is a member of (a server admin: all). */
  /** The project jobs `p` may see matching `q` (GET /jobs; a `project` that does not exist: 404), oldest first or `page`. */
  listJobs(p: Principal, q?: JobListQuery, page?: JobPage): Promise<ProjectJobView[]>;
  /** Cancels a project job (its owner, an admin of its project or a server admin); undefined when `id` is not a project job `p` may see. */
  cancelJob(p: Principal, id: string): Promise<ProjectJobView | undefined>;
  /** The job's view if it is a project job `p` may see, else undefined (then it is not a project job). */
  jobView(p: Principal, id: string): Promise<ProjectJobView | undefined>;
  /** The result bytes of a project job (an export zip), or undefined when `id` is not a project job. */
  jobResult(p: Principal, id: string): Promise<{ bytes: Uint8Array; filename: string } | undefined>;
  close(): Promise<void>;
}

/** Where projects go when the server's Repository is not on the SQL layer: `--db`, else projects.sqlite in the data folder. */
export function projectsDbSpec(config: ServerConfig): string {
  return config.db ?? `sqlite:${join(config.dataDir, 'projects.sqlite')}`;
}

type Req = FastifyRequest;
const params = (req: Req) => req.params as { name: string; case: string; user: string; v: number };

/** Library refusals as HTTP: 404/403/409 by their kind, other bad input 400. */
function asHttp(e: unknown): unknown {
  if (e instanceof ProjectError) return fromMedsamError(e, e.status);
  if (e instanceof MedsamError) return fromMedsamError(e);
  return e;
}

/** `sourceFormat`: the upload's format where the route looked it up (a case's own JSON), else null. */
function caseView(c: CaseRow, sourceFormat: string | null = null) {
  return {
    name: c.name,
    status: c.state,
    assignee: c.claimedBy,
    round: c.round,
    mode: c.mode,
    latestVersion: c.headVersion,
    claimExpiresAt: c.claimExpiresAt,
    reviewComment: c.reviewComment,
    submittedBy: c.submittedBy,
    reviewedBy: c.reviewedBy,
    uploadId: uploadIdOf(c.source),
    sourceFormat,
    dims: c.dims,
    spacing: c.spacing,
    updatedAt: c.updatedAt,
  };
}

function versionView(v: LabelVersion) {
  return {
    version: v.version,
    author: authorLabel(v.author),
    authorKind: v.author.kind,
    createdAt: v.createdAt,
    voxels: v.voxels,
    note: v.note,
    restoredFrom: v.restoredFrom,
  };
}

function projectView(p: Project, counts?: Record<string, number>) {
  return {
    name: p.name,
    labels: p.labels,
    model: p.model,
    modelVersion: p.modelVersion,
    guidelines: p.guidelines,
    idleSeconds: p.idleSeconds,
    createdAt: p.createdAt,
    ...(counts ? { counts } : {}),
  };
}

function countBy<T>(xs: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

/**
 * The label map a session save makes: the base version, with each object the session holds
 * replacing that label on every slice the session prompted or has a mask on (a click on slice 7
 * changes slice 7; a re-propagation changes what it reached); all other voxels keep the base.
 * A case session is seeded with the base (versionSlices), so on a seeded session this is the
 * session's own map; the merge stays for sessions that were not seeded (opened before seeding
 * existed and replayed from their log) and for labels the session never held.
 */
export function overlaySession(
  base: Uint8Array,
  session: ArrayLike<number>,
  objects: readonly { objId: number; keys: number[]; slices: number[] }[],
  dims: [number, number, number],
): Uint8Array {
  const out = Uint8Array.from(base);
  const plane = dims[0] * dims[1];
  for (const o of objects) {
    for (const z of new Set([...o.keys, ...o.slices])) {
      if (z < 0 || z >= dims[2]) continue;
      for (let i = z * plane; i < (z + 1) * plane; i++) {
        if (session[i] === o.objId) out[i] = o.objId;
        else if (out[i] === o.objId) out[i] = 0;
      }
    }
  }
  return out;
}

/** A label map as per-slice masks (axial, x fastest): one per label value on each slice that holds it. */
export function versionSlices(labels: Uint8Array, dims: [number, number, number]): { objId: number; slice: number; mask: Uint8Array }[] {
  const plane = dims[0] * dims[1];
  const out: { objId: number; slice: number; mask: Uint8Array }[] = [];
  for (let z = 0; z < dims[2]; z++) {
    const sl = labels.subarray(z * plane, (z + 1) * plane);
    const values = [...new Set(sl)].filter((v) => v !== 0).sort((a, b) => a - b);
    for (const v of values) out.push({ objId: v, slice: z, mask: Uint8Array.from(sl, (x) => (x === v ? 1 : 0)) });
  }
  return out;
}

export async function registerProjectRoutes(app: FastifyInstance, deps: ProjectDeps): Promise<ProjectsApi> {
  const { config, repo, blobs, volumes, sessions, queue } = deps;
  const isServerAdmin = async (name: string): Promise<boolean> => {
    if (!deps.authRequired && name === LOCAL_PRINCIPAL.name) return true;
    return (await repo.userByName(name))?.role === 'admin';
  };
  const store = join(config.dataDir, 'project-masks');
  const loader = uploadCaseLoader(repo, blobs, volumes, config.limits);
  // One database for everything: the projects live beside the server's users, uploads and sessions.
  const svc =
    repo instanceof SqlRepository
      ? await ProjectService.onDb(repo.db, store, { loader, isServerAdmin })
      : await ProjectService.open({ db: projectsDbSpec(config), store, loader, isServerAdmin });
  const jobs = new ProjectJobs(svc, blobs, queue, config, (jobId, project, req, hooks) => {
    const pacs = requirePacs(config);
    return sendRoundToPacs(
      {
        svc,
        pacsShown: pacs.shown,
        caseVolume,
        sendVersion: (c, version, labels, volume, context) =>
          sendVersion(pacs, req.sentBy, project, c, version, labels, volume, context, jobId),
      },
      jobId,
      project,
      req,
      hooks,
    );
  });
  for (const s of projectShared) app.addSchema(s);

  /** Runs a handler with library refusals turned into their HTTP status. */
  const h =
    <T>(fn: (req: Req, reply: FastifyReply) => Promise<T>) =>
    async (req: Req, reply: FastifyReply): Promise<T> => {
      try {
        return await fn(req, reply);
      } catch (e) {
        throw asHttp(e);
      }
    };

  /** The project if the caller is a member (or a server admin), with their role; else 404. */
  const memberProject = async (p: Principal, name: string): Promise<{ project: Project; role: MemberRole }> => {
    const project = await svc.repo.projectByName(name);
    const m = project && (await svc.repo.members(project.id)).find((x) => x.name === p.name);
    if (project && (m || p.role === 'admin' || (await isServerAdmin(p.name)))) return { project, role: m?.role ?? 'admin' };
    throw new HttpError(404, `no project '${name}'`, 'list your projects with GET /projects');
  };
  const require = (project: Project, p: Principal, roles: MemberRole[]) => svc.requireRole(project, p.name, roles);

  /** The upload behind a case (410 when it is gone), without reading it. */
  const caseUpload = async (c: CaseRow) => {
    const id = uploadIdOf(c.source);
    const u = id === null ? undefined : await repo.upload(id);
    if (!u || !blobs.has(u.sha256))
      throw new HttpError(410, `the image of case ${c.name} is not on this server`, 'add the case again from an upload');
    return { upload: u };
  };
  const caseVolume = async (c: CaseRow) => {
    const { upload } = await caseUpload(c);
    return { upload, volume: await volumes.get(upload) };
  };

  app.post(
    '/projects',
    { schema: S.create },
    h(async (req, reply) => {
      const p = req.principal;
      if (!(p.role === 'admin' || (await isServerAdmin(p.name))))
        throw new HttpError(403, `user '${p.name}' (${p.role}) may not create projects`, 'a server admin creates projects');
      const b = req.body as {
        name: string;
        labels: { value: number; name: string; colour?: string; code?: string }[];
        model?: string;
        modelVersion?: string;
        guidelines?: string;
        idleSeconds?: number;
      };
      const model = b.model ?? config.models[0]!;
      if (!config.models.includes(model))
        throw new HttpError(400, `model '${model}' is not served here`, `use one of ${config.models.join(', ')}`);
      const palette = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#42d4f4'];
      const project = await svc.createProject({
        name: b.name,
        labels: b.labels.map((l) => ({
          value: l.value,
          name: l.name,
          colour: (l.colour ?? palette[(l.value - 1) % palette.length]!).toLowerCase(),
          code: l.code ?? null,
        })),
        model,
        modelVersion: b.modelVersion,
        guidelines: b.guidelines,
        idleSeconds: b.idleSeconds,
        members: [{ name: p.name, role: 'admin' }],
      });
      return reply.code(201).send(projectView(project, {}));
    }),
  );

  app.get(
    '/projects',
    { schema: S.list },
    h(async (req) => {
      const p = req.principal;
      const admin = p.role === 'admin' || (await isServerAdmin(p.name));
      const out = [];
      for (const project of await svc.repo.listProjects()) {
        if (!admin && !(await svc.repo.members(project.id)).some((m) => m.name === p.name)) continue;
        out.push(
          projectView(
            project,
            countBy(await svc.repo.listCases(project.id), (c) => c.state),
          ),
        );
      }
      return out;
    }),
  );

  app.get(
    '/projects/:name',
    { schema: S.get },
    h(async (req) => {
      const { project, role } = await memberProject(req.principal, params(req).name);
      const cases = await svc.repo.listCases(project.id);
      const byPerson: Record<string, Record<string, number>> = {};
      for (const c of cases) {
        const who = c.claimedBy ?? c.submittedBy;
        if (!who) continue;
        byPerson[who] ??= {};
        byPerson[who][c.state] = (byPerson[who][c.state] ?? 0) + 1;
      }
      return {
        project: projectView(project),
        members: (await svc.repo.members(project.id)).map((m) => ({ name: m.name, role: m.role })),
        counts: { byStatus: countBy(cases, (c) => c.state), byPerson },
        rounds: [...new Set(cases.map((c) => c.round))].sort((a, b) => a - b),
        pacs: pacsTarget(config)?.shown ?? null,
        myRole: role,
      };
    }),
  );

  app.put(
    '/projects/:name/members/:user',
    { schema: S.setMember },
    h(async (req) => {
      const { project } = await memberProject(req.principal, params(req).name);
      await require(project, req.principal, ['admin']);
      const user = params(req).user;
      if (!(await repo.userByName(user)))
        throw new HttpError(404, `no server user '${user}'`, `create it first: medsam2 users add ${user} --role annotator`);
      const role = (req.body as { role: MemberRole }).role;
      await svc.setMember(project, user, role);
      return { name: user, role };
    }),
  );

  app.post(
    '/projects/:name/cases',
    { schema: S.addCases },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      await require(project, req.principal, ['admin']);
      const b = req.body as { uploadIds: string[]; round?: number; mode?: 'assisted' | 'manual' };
      const sources = [];
      for (const id of b.uploadIds) {
        const u = await repo.upload(id);
        // Only the caller's own uploads (a server admin: any), as for sessions and jobs.
        if (!u || (u.owner !== req.principal.id && req.principal.role !== 'admin'))
          throw new HttpError(404, `no upload ${id}`, 'upload the image first with POST /uploads');
        sources.push({ source: uploadSource(u.id), name: u.name });
      }
      const rows = await svc.addCaseSources(project, sources, { round: b.round, mode: b.mode });
      return reply.code(201).send(rows.map((c) => caseView(c)));
    }),
  );

  app.get(
    '/projects/:name/cases',
    { schema: S.listCases },
    h(async (req) => {
      const { project } = await memberProject(req.principal, params(req).name);
      const q = req.query as { status?: CaseRow['state']; assignee?: string; round?: number };
      const rows = await svc.repo.listCases(project.id, { round: q.round, state: q.status });
      return rows.filter((c) => q.assignee === undefined || c.claimedBy === q.assignee).map((c) => caseView(c));
    }),
  );

  app.post(
    '/projects/:name/pre-annotate',
    { schema: S.preAnnotate },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      await require(project, req.principal, ['admin']);
      const b = req.body as { round?: number; source: string; boxes?: PreAnnotateRequest['boxes']; modelVersion?: string; label?: number };
      if (b.label !== undefined && !project.labels.some((l) => l.value === b.label))
        throw new HttpError(
          400,
          `label ${b.label} is not in project ${project.name}`,
          `use one of ${project.labels.map((l) => `${l.value} (${l.name})`).join(', ')}`,
        );
      if (b.source === 'boxes' && !b.boxes)
        throw new HttpError(400, "source 'boxes' needs a boxes list", 'send boxes: {"case": [{"slice": 7, "box": [x0, y0, x1, y1]}]}');
      if (b.source !== 'boxes' && b.boxes)
        throw new HttpError(400, `boxes are only read with source 'boxes', not '${b.source}'`, "drop boxes or use source 'boxes'");
      if (!config.models.includes(project.model))
        throw new HttpError(
          409,
          `the project's model '${project.model}' is not served here`,
          `start the server with --models ${project.model}`,
        );
      const todo = (await svc.repo.listCases(project.id, { round: b.round, state: 'new' })).filter((c) => c.mode === 'assisted');
      if (todo.length === 0)
        throw new HttpError(
          409,
          `project ${project.name} has no new assisted case${b.round ? ` in round ${b.round}` : ''} to pre-annotate`,
          'add cases first',
        );
      const source = b.source === 'label' ? 'label-box' : b.source === 'auto' ? 'recist' : (b.source as PreAnnotateRequest['source']);
      const job = await jobs.submit(req.principal, project, 'pre-annotate', {
        round: b.round,
        source,
        boxes: b.boxes,
        modelVersion: b.modelVersion,
        label: b.label,
      });
      return reply.code(202).send({ jobId: job.id, statusUrl: `/jobs/${job.id}` });
    }),
  );

  app.post(
    '/projects/:name/next',
    { schema: S.next },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      await require(project, req.principal, ['annotator']);
      const round = (req.body as { round?: number } | null | undefined)?.round;
      // Two annotators asking at once may pick the same case: the loser's claim is a 409, so ask again.
      for (let attempt = 0; attempt < 8; attempt++) {
        const c = await svc.nextCase(project, req.principal.name, round);
        if (!c) return reply.code(204).send();
        try {
          return caseView(await svc.claim(project, c.name, req.principal.name));
        } catch (e) {
          if (!(e instanceof ProjectError && e.status === 409)) throw e;
        }
      }
      throw new HttpError(409, 'the queue changed under every attempt to claim', 'ask again');
    }),
  );

  app.post(
    '/projects/:name/cases/:case/claim',
    { schema: S.claim },
    h(async (req) => {
      const { project } = await memberProject(req.principal, params(req).name);
      return caseView(await svc.claim(project, params(req).case, req.principal.name));
    }),
  );

  app.get(
    '/projects/:name/cases/:case',
    { schema: S.getCase },
    h(async (req) => {
      const { project } = await memberProject(req.principal, params(req).name);
      const c = await svc.caseByName(project, params(req).case);
      const log = await svc.repo.interactions(c.id);
      const byPerson: Record<string, ReturnType<typeof measureWork>> = {};
      for (const u of [...new Set(log.map((i) => i.user))].sort())
        byPerson[u] = measureWork(
          log.filter((i) => i.user === u),
          project.idleSeconds,
        );
      const all = measureWork(log, project.idleSeconds);
      const id = uploadIdOf(c.source);
      return {
        case: caseView(c, (id === null ? undefined : await repo.upload(id))?.format ?? null),
        versions: (await svc.repo.versions(c.id)).map(versionView),
        pacs: pacsTarget(config)?.shown ?? null,
        pacsSends: await pacsSends(svc.repo, c.id),
        interactions: {
          count: all.interactions,
          activeSeconds: Object.values(byPerson).reduce((s, m) => s + m.activeSeconds, 0),
          slicesTouched: all.slicesTouched,
          byPerson: Object.fromEntries(
            Object.entries(byPerson).map(([u, m]) => [
              u,
              { count: m.interactions, activeSeconds: m.activeSeconds, slicesTouched: m.slicesTouched },
            ]),
          ),
        },
      };
    }),
  );

  app.get(
    '/projects/:name/cases/:case/volume',
    { schema: S.volume },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      const { upload } = await caseUpload(await svc.caseByName(project, params(req).case));
      const filename = upload.name.replace(/[^\w.-]/g, '_');
      return reply
        .type('application/octet-stream')
        .header('content-disposition', `attachment; filename="${filename}"`)
        .header('content-length', String(upload.bytes))
        .send(createReadStream(blobs.path(upload.sha256)));
    }),
  );

  // What the project pages draw: the server's reading of the case (DICOM, PNG, JPEG included), never a format NiiVue must parse itself.
  app.get(
    '/projects/:name/cases/:case/volume.nii.gz',
    { schema: S.displayVolume },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      const c = await svc.caseByName(project, params(req).case);
      const { upload } = await caseUpload(c);
      return sendDisplayVolume(req, reply, upload, volumes, c.name);
    }),
  );

  app.get(
    '/projects/:name/cases/:case/versions/:v/labelmap',
    { schema: S.labelMap },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      const { labels, case: c, version } = await svc.mask(project, params(req).case, params(req).v);
      const { volume } = await caseVolume(c);
      const format = (req.query as { format: 'nifti' | 'nrrd' | 'npz' | 'dicom-seg' }).format;
      if (format === 'dicom-seg') {
        const seg = caseSeg(project, c, version.version, labels, volume);
        return reply
          .type('application/dicom')
          .header('content-disposition', `attachment; filename="${c.name}-v${version.version}.seg.dcm"`)
          .send(Buffer.from(seg.bytes));
      }
      const ext = { nifti: 'nii.gz', nrrd: 'nrrd', npz: 'npz' }[format];
      const tmp = blobs.tempPath(`.${ext}`);
      try {
        await writeMask(tmp, labelMapVolume(labels, volume), volume);
        return reply
          .type('application/octet-stream')
          .header('content-disposition', `attachment; filename="${c.name}-v${version.version}.${ext}"`)
          .send(readFileSync(tmp));
      } finally {
        rmSync(tmp, { force: true });
      }
    }),
  );

  /**
   * STOWs a version's SEG to the PACS and records the send on the case; a refusal (502) records nothing.
   * `jobId`: a round job's send, under UIDs named by the job (roundSegUids.ts) and recorded with the job's id.
   */
  const sendVersion = async (
    pacs: PacsTarget,
    sentBy: string,
    project: Project,
    c: CaseRow,
    version: number,
    labels: Uint8Array,
    volume: Volume,
    context = '',
    jobId?: string,
  ): Promise<PacsSend> => {
    const seg = caseSeg(project, c, version, labels, volume, jobId ? roundSegUids(jobId, c.id, version) : undefined);
    await stowToPacs(pacs, seg.bytes, seg.studyInstanceUid, `the SEG of case ${c.name} v${version}${context}`);
    return recordPacsSend(svc.repo, c.id, {
      version,
      sentBy,
      pacs: pacs.shown,
      studyInstanceUid: seg.studyInstanceUid,
      seriesInstanceUid: seg.seriesInstanceUid,
      sopInstanceUid: seg.sopInstanceUid,
      ...(jobId ? { jobId } : {}),
    });
  };

  app.post(
    '/projects/:name/cases/:case/versions/:v/send-to-pacs',
    { schema: S.sendToPacs },
    h(async (req) => {
      const { project } = await memberProject(req.principal, params(req).name);
      await require(project, req.principal, ['reviewer']);
      const pacs = requirePacs(config);
      const { labels, case: c, version } = await svc.mask(project, params(req).case, params(req).v);
      const { volume } = await caseVolume(c);
      return sendVersion(pacs, req.principal.name, project, c, version.version, labels, volume);
    }),
  );

  app.post(
    '/projects/:name/send-to-pacs',
    { schema: S.sendRoundToPacs },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      await require(project, req.principal, ['reviewer']);
      requirePacs(config);
      const round = (req.body as { round: number }).round;
      const accepted = await svc.repo.listCases(project.id, { round, state: 'accepted' });
      if (accepted.length === 0)
        throw new HttpError(409, `round ${round} of ${project.name} has no accepted case`, 'review and accept cases first');
      // Refused up front when no accepted case is a DICOM series (the job would send nothing), as a dicom-seg export is.
      const formats = await Promise.all(
        accepted.map(async (c) => {
          const id = uploadIdOf(c.source);
          return (id === null ? undefined : await repo.upload(id))?.format;
        }),
      );
      if (!formats.includes('dicom-zip'))
        throw new HttpError(
          409,
          `round ${round} of ${project.name} has no accepted case from a DICOM series (${accepted.map((c) => c.name).join(', ')})`,
          'a DICOM SEG references its source series: only cases added from a DICOM series can go to the PACS',
        );
      const job = await jobs.submit(req.principal, project, 'send-to-pacs', { round, sentBy: req.principal.name });
      return reply.code(202).send({ jobId: job.id, statusUrl: `/jobs/${job.id}` });
    }),
  );

  app.post(
    '/projects/:name/cases/:case/session',
    { schema: S.session },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      await require(project, req.principal, ['annotator']);
      const c = await svc.caseByName(project, params(req).case);
      if (c.state !== 'in_progress' || c.claimedBy !== req.principal.name)
        throw new HttpError(
          409,
          `${req.principal.name} does not hold case ${c.name} (it is ${c.state})`,
          'claim it first: POST …/claim or …/next',
        );
      const { upload } = await caseVolume(c);
      const model = (req.body as { model?: string } | null | undefined)?.model ?? project.model;
      const s = await sessions.create(req.principal, { uploadId: upload.id, model }, { uploadGranted: true });
      // The session starts from the latest version: its masks are the session's own (object = label value).
      if (c.headVersion >= 0) {
        const { labels } = await svc.mask(project, c.name, c.headVersion);
        try {
          await sessions.seed(req.principal, s.id, versionSlices(labels, c.dims));
        } catch (e) {
          await sessions.close(req.principal, s.id).catch(() => {});
          throw e;
        }
      }
      return reply.code(201).send({ sessionId: s.id, baseVersion: c.headVersion });
    }),
  );

  app.post(
    '/projects/:name/cases/:case/versions',
    { schema: S.saveVersion },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      const user = req.principal.name;
      await require(project, req.principal, ['annotator']);
      const b = req.body as {
        baseVersion: number;
        sessionId?: string;
        labelsRle?: { dims: number[]; rle: Rle; label?: number };
        note?: string;
      };
      if (!!b.sessionId === !!b.labelsRle)
        throw new HttpError(400, 'give either sessionId or labelsRle', 'see the request schema in /openapi.json');
      const c = await svc.caseByName(project, params(req).case);
      if (c.headVersion !== b.baseVersion)
        throw new HttpError(
          409,
          `case ${c.name} is at version ${c.headVersion}, this save was based on version ${b.baseVersion}`,
          'reload the latest version, redo the change on it and save again',
        );
      const [nx, ny, nz] = c.dims;
      let labels: Uint8Array;
      if (b.labelsRle) {
        const { dims, rle } = b.labelsRle;
        if (dims.some((d, i) => d !== c.dims[i]))
          throw new HttpError(
            400,
            `labelsRle dims [${dims.join(', ')}] are not the case's [${c.dims.join(', ')}]`,
            'encode the label map on the case grid',
          );
        const label = b.labelsRle.label ?? project.labels[0]!.value;
        labels = decodeRle(rle, nz * ny, nx, 'labelsRle.rle');
        if (label !== 1) for (let i = 0; i < labels.length; i++) if (labels[i]) labels[i] = label;
      } else {
        const view = await sessions.get(req.principal, b.sessionId!);
        if (view.uploadId !== uploadIdOf(c.source))
          throw new HttpError(400, `session ${b.sessionId} is not on case ${c.name}'s image`, 'start one with POST …/cases/{case}/session');
        const { labels: map } = await sessions.labelMap(req.principal, b.sessionId!);
        const base = c.headVersion >= 0 ? (await svc.mask(project, c.name, c.headVersion)).labels : new Uint8Array(nx * ny * nz);
        labels = overlaySession(base, map.data as ArrayLike<number>, view.objects, c.dims);
      }
      const v = await svc.save(project, c.name, user, labels, b.baseVersion, b.note ?? null);
      return reply.code(201).send(versionView(v));
    }),
  );

  app.post(
    '/projects/:name/cases/:case/interactions',
    { schema: S.interactions },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      const events = (req.body as { events: { tool: string; slice?: number | null; t: number }[] }).events;
      await svc.logInteractions(
        project,
        params(req).case,
        req.principal.name,
        events.map((e) => ({ tool: e.tool, slice: e.slice ?? null, at: e.t })),
      );
      return reply.code(204).send();
    }),
  );

  app.post(
    '/projects/:name/cases/:case/submit',
    { schema: S.submit },
    h(async (req) => {
      const { project } = await memberProject(req.principal, params(req).name);
      return caseView(await svc.submit(project, params(req).case, req.principal.name));
    }),
  );

  app.post(
    '/projects/:name/cases/:case/review',
    { schema: S.review },
    h(async (req) => {
      const { project } = await memberProject(req.principal, params(req).name);
      const b = req.body as { verdict: 'accept' | 'return'; comment?: string };
      return caseView(await svc.review(project, params(req).case, req.principal.name, b.verdict, b.comment ?? null));
    }),
  );

  app.get(
    '/projects/:name/cases/:case/diff',
    { schema: S.diff },
    h(async (req) => {
      const { project } = await memberProject(req.principal, params(req).name);
      const q = req.query as { a: number; b: number };
      const d = await svc.diff(project, params(req).case, q.a, q.b);
      return { a: q.a, b: q.b, ...d, volumeChangeMl: d.mlB - d.mlA };
    }),
  );

  app.post(
    '/projects/:name/cases/:case/restore',
    { schema: S.restore },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      const b = req.body as { version: number; baseVersion: number };
      return reply.code(201).send(versionView(await svc.restore(project, params(req).case, req.principal.name, b.version, b.baseVersion)));
    }),
  );

  app.get(
    '/projects/:name/report',
    { schema: S.report },
    h(async (req) => {
      const { project } = await memberProject(req.principal, params(req).name);
      return buildReport(svc, project);
    }),
  );

  app.get(
    '/projects/:name/report.html',
    { schema: S.reportHtml },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      return reply.type('text/html; charset=utf-8').send(reportHtml(await buildReport(svc, project)));
    }),
  );

  app.post(
    '/projects/:name/export',
    { schema: S.export },
    h(async (req, reply) => {
      const { project } = await memberProject(req.principal, params(req).name);
      await require(project, req.principal, ['reviewer']);
      const b = req.body as ExportRequest;
      const accepted = await svc.repo.listCases(project.id, { round: b.round, state: 'accepted' });
      if (accepted.length === 0)
        throw new HttpError(409, `round ${b.round} of ${project.name} has no accepted case`, 'review and accept cases first');
      if (b.format === 'dicom-seg') {
        // Refused up front when no accepted case can become a SEG (the job would export nothing);
        // a mixed round exports its DICOM cases and lists the others as skipped in the manifest.
        const formats = await Promise.all(
          accepted.map(async (c) => {
            const id = uploadIdOf(c.source);
            return (id === null ? undefined : await repo.upload(id))?.format;
          }),
        );
        if (!formats.includes('dicom-zip'))
          throw new HttpError(
            409,
            `round ${b.round} of ${project.name} has no accepted case from a DICOM series (${accepted.map((c) => c.name).join(', ')})`,
            'a DICOM SEG references its source series: export these cases as nifti or medsam2-npz',
          );
      }
      const job = await jobs.submit(req.principal, project, 'export', { round: b.round, format: b.format ?? 'medsam2-npz' });
      return reply.code(202).send({ jobId: job.id, statusUrl: `/jobs/${job.id}` });
    }),
  );

  const canSeeProject = (p: Principal) => async (projectId: string) =>
    (await isServerAdmin(p.name)) || (await svc.repo.members(projectId)).some((m) => m.name === p.name);

  /** Whether `p` manages the project: a server admin, or an admin member. */
  const managesProject = async (p: Principal, projectId: string) =>
    p.role === 'admin' ||
    (await isServerAdmin(p.name)) ||
    (await svc.repo.members(projectId)).some((m) => m.name === p.name && m.role === 'admin');

  await jobs.resume();
  return {
    service: svc,
    async listJobs(p, q = {}, page) {
      if (q.projectKinds?.length === 0) return [];
      let projectId: string | undefined;
      if (q.project !== undefined) {
        const named = (await svc.repo.projectByName(q.project)) ?? (await svc.repo.listProjects()).find((x) => x.id === q.project);
        if (!named) throw new HttpError(404, `no project ${q.project}`, 'filter by a project id or name from GET /projects');
        projectId = named.id;
      }
      const visibleProjects = async (): Promise<string[] | 'all'> => {
        if (await isServerAdmin(p.name)) return 'all';
        const all = await svc.repo.listProjects();
        const see = canSeeProject(p);
        const member = await Promise.all(all.map(async (x) => ((await see(x.id)) ? x.id : undefined)));
        return member.filter((x): x is string => x !== undefined);
      };
      const filter = { projectId, statuses: q.statuses, kinds: q.projectKinds, page };
      return Promise.all((await jobs.list(p, filter, visibleProjects)).map((j) => jobs.view(j)));
    },
    async cancelJob(p, id) {
      const j = await jobs.find(p, id, canSeeProject(p));
      return j && jobs.view(await jobs.cancel(p, j, await managesProject(p, j.projectId)));
    },
    async jobView(p, id) {
      const j = await jobs.find(p, id, canSeeProject(p));
      return j && jobs.view(j);
    },
    async jobResult(p, id) {
      const j = await jobs.find(p, id, canSeeProject(p));
      if (!j) return undefined;
      const view = await jobs.view(j);
      return { bytes: jobs.result(j), filename: `${view.project}-${j.kind}-${j.id.slice(0, 8)}.zip` };
    },
    async close() {
      jobs.stop();
      await svc.close();
    },
  };
}
