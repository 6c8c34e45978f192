import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { errorMessage, MedsamError } from '../../common/errors.js';
import { buildZip } from '../../io/zip.js';
import type { VolumePrompt } from '../../predictor/prompts.js';
import { exportRound, type ExportFormat } from '../../projects/exportRound.js';
import { preAnnotateRound, type PromptSource } from '../../projects/preAnnotate.js';
import type { ProjectJobFilter } from '../../projects/projectRepository.js';
import type { ProjectService } from '../../projects/projectService.js';
import type { Project, ProjectJob } from '../../projects/types.js';
import type { Principal } from '../auth.js';
import type { ServerConfig } from '../config.js';
import { HttpError } from '../httpError.js';
import { queuedJob } from '../jobs/queuedJob.js';
import { mergeJobLists } from '../jobs/jobListQuery.js';
import type { BlobStore } from '../store/blobStore.js';
import { PRIORITY, type WorkQueue } from '../workQueue.js';
import type { PacsRoundRequest, PacsRoundResult } from './pacsRound.js';

/**
 * Project work the server runs in the background: pre-annotation of a round (the model on every
 * new assisted case, stored as version 0), the export of a round's accepted labels (a zip in
 * the content-addressed store) and the send of a round's SEGs to the PACS (pacsRound.ts). A job's
 * row is written before it is queued; after a restart the jobs left queued or running run again —
 * pre-annotation only takes cases still 'new', an export writes a fresh zip, and a PACS send skips
 * the cases it sent before the restart (pacsRound.ts: each case gets one SEG from the job). They are listed by GET /jobs, read through
 * GET /jobs/{id} and GET /jobs/{id}/result and cancelled by DELETE /jobs/{id}, beside the
 * segmentation jobs (app.ts). A running job that is cancelled stops after the case in progress
 * (pre-annotation: the cases already stored stay, as versions; a PACS send: the cases sent stay
 * sent and recorded) or before its zip is stored (export).
 */

export interface PreAnnotateRequest {
  round?: number;
  source: PromptSource;
  boxes?: Record<string, VolumePrompt[]>;
  modelVersion?: string;
  label?: number;
}
export interface ExportRequest {
  round: number;
  format: ExportFormat;
}

/** Runs a round's PACS send as job `jobId` (projectRoutes.ts binds it to the server's PACS and case loading). */
export type PacsRoundRunner = (
  jobId: string,
  project: Project,
  req: PacsRoundRequest,
  hooks: { step: () => void; progress: (partial: PacsRoundResult, done: number, total: number) => Promise<void> },
) => Promise<PacsRoundResult>;

/** How a project job looks at GET /jobs/{id} (the Job schema). */
export interface ProjectJobView {
  id: string;
  kind: ProjectJob['kind'];
  /** The project's name and id. */
  project: string;
  projectId: string;
  /** The round it works on (pre-annotate: when the request named one) and an export's format, from the request. */
  round?: number;
  format?: string;
  owner: string;
  uploadId: string;
  model: string;
  status: ProjectJob['status'];
  progress: number;
  error: string | null;
  result: unknown;
  resultUrl: string | null;
  createdAt: string;
  updatedAt: string;
}

export class ProjectJobs {
  private stopping = false;
  /** Jobs running in this process, by id: a cancel aborts them. */
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly svc: ProjectService,
    private readonly blobs: BlobStore,
    private readonly queue: WorkQueue,
    private readonly config: ServerConfig,
    private readonly pacsRound: PacsRoundRunner,
  ) {}

  async submit(
    p: Principal,
    project: Project,
    kind: ProjectJob['kind'],
    request: PreAnnotateRequest | ExportRequest | PacsRoundRequest,
  ): Promise<ProjectJob> {
    const job: ProjectJob = { ...queuedJob(p.id, request), projectId: project.id, kind };
    await this.svc.repo.addJob(job);
    this.enqueue(job, project.model);
    return job;
  }

  private enqueue(job: ProjectJob, model: string): void {
    // Pre-annotation runs the model: it queues on the model's long lane behind interactive clicks.
    const lane = job.kind === 'pre-annotate' ? model : 'project-export';
    void this.queue.run(lane, 'long', PRIORITY.job, () => this.execute(job.id)).catch(() => {});
  }

  /** On start-up: project jobs a previous process left queued or running run again. */
  async resume(): Promise<number> {
    // A PACS send cancelled while its case was on the way, whose process ended before it stopped, has stopped now.
    for (const j of await this.svc.repo.listJobs({ statuses: ['cancelled'] })) {
      const r = j.result as PacsRoundResult | null;
      if (j.kind === 'send-to-pacs' && r?.stopped === false)
        await this.svc.repo.updateJob(j.id, { result: { ...r, stopped: true } }, ['cancelled']);
    }
    const pending = await this.svc.repo.listJobs({ statuses: ['queued', 'running'] });
    const projects = await this.svc.repo.listProjects();
    for (const j of pending) {
      await this.svc.repo.updateJob(j.id, { status: 'queued', progress: 0 });
      this.enqueue(j, projects.find((p) => p.id === j.projectId)?.model ?? this.config.models[0]!);
    }
    return pending.length;
  }

  stop(): void {
    this.stopping = true;
  }

  private async execute(id: string): Promise<void> {
    const job = await this.svc.repo.job(id);
    if (!job || job.status === 'done' || job.status === 'cancelled' || this.stopping) return;
    // Listed as running here before its row says so: a cancel that finds the row running finds the job to abort too.
    const abort = new AbortController();
    this.running.set(id, abort);
    const cancelled = () => {
      if (abort.signal.aborted) throw new JobCancelled();
    };
    /** A PACS send's result so far (written after each case): marked stopped when the job ends. */
    let round: PacsRoundResult | undefined;
    try {
      // Only a job nobody cancelled meanwhile starts.
      if (!(await this.svc.repo.updateJob(id, { status: 'running', progress: 0, error: null }, ['queued', 'running']))) return;
      const project = (await this.svc.repo.listProjects()).find((p) => p.id === job.projectId);
      if (!project) throw new MedsamError('the project of this job is gone', 'create the project again');
      if (job.kind === 'pre-annotate') {
        const req = job.request as PreAnnotateRequest;
        const cases = await preAnnotateRound(this.svc, project, {
          round: req.round,
          prompts: req.source,
          boxes: req.boxes,
          modelVersion: req.modelVersion,
          label: req.label,
          threads: this.config.threads,
          onCase: (_c, done, total) => {
            cancelled();
            void this.svc.repo.updateJob(id, { progress: done / total }, ['running']);
          },
        });
        await this.svc.repo.updateJob(id, { status: 'done', progress: 1, result: { cases } }, ['running']);
      } else if (job.kind === 'send-to-pacs') {
        const result = await this.pacsRound(id, project, job.request as PacsRoundRequest, {
          step: cancelled,
          // The sends so far are the job's result from the first one on: a later failure or cancel keeps them
          // listed (a cancel that came while a SEG was on its way lists that one too: it was sent and recorded,
          // and the result says stopped only after it).
          progress: async (partial, done, total) => {
            round = partial;
            await this.svc.repo.updateJob(id, { progress: done / total, result: partial }, ['running', 'cancelled']);
          },
        });
        // Cancelled while the last case was on its way: that case went, the job stays cancelled and has stopped.
        if (!(await this.svc.repo.updateJob(id, { status: 'done', progress: 1, result }, ['running'])))
          await this.svc.repo.updateJob(id, { result }, ['cancelled']);
      } else {
        const req = job.request as ExportRequest;
        const dir = mkdtempSync(join(this.blobs.tempPath('-export')));
        try {
          const out = join(dir, `${project.name}-round${req.round}`);
          const files = await exportRound(this.svc, project, req.round, req.format, out);
          const members: Record<string, Uint8Array> = {};
          for (const f of listFiles(out)) members[relative(dir, f).split('\\').join('/')] = readFileSync(f);
          const zip = buildZip(members, false);
          cancelled();
          await this.blobs.keepBytes(zip, (sha) =>
            this.svc.repo.updateJob(
              id,
              { status: 'done', progress: 1, resultSha: sha, result: { files: files.length, bytes: zip.length } },
              ['running'],
            ),
          );
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    } catch (e) {
      const stopped = round ? { result: { ...round, stopped: true } } : {};
      // cancel() already wrote the status; a PACS send's result now says that nothing more will come.
      if (e instanceof JobCancelled) {
        if (round) await this.svc.repo.updateJob(id, stopped, ['cancelled']);
        return;
      }
      const msg = e instanceof HttpError ? `${e.message}${e.fix ? ` — ${e.fix}` : ''}` : errorMessage(e);
      await this.svc.repo.updateJob(id, { status: 'failed', error: msg.split(this.config.dataDir).join('<data>'), ...stopped }, [
        'running',
      ]);
      // A failure that came after a cancel (the case on its way refused): the cancelled job has stopped all the same.
      if (round) await this.svc.repo.updateJob(id, stopped, ['cancelled']);
    } finally {
      this.running.delete(id);
    }
  }

  /**
   * The project jobs `p` may see (see find) that match `filter`: oldest first, or `page` newest
   * first. `visibleProjects` are the projects whose jobs `p` sees ('all': a server admin); the rest
   * of `p`'s own jobs come too. Filtered in the queries: one for everything visible, or one for
   * `p`'s own jobs and one for the visible projects' (each at most a page), merged.
   */
  async list(
    p: Principal,
    filter: Omit<ProjectJobFilter, 'owner'>,
    visibleProjects: () => Promise<string[] | 'all'>,
  ): Promise<ProjectJob[]> {
    const repo = this.svc.repo;
    const visible = p.role === 'admin' ? 'all' : await visibleProjects();
    if (visible === 'all') return repo.listJobs(filter);
    const wanted = filter.projectId === undefined ? visible : visible.filter((id) => [filter.projectId].flat().includes(id));
    const [own, shared] = await Promise.all([
      repo.listJobs({ ...filter, owner: p.id }),
      wanted.length ? repo.listJobs({ ...filter, projectId: wanted }) : Promise.resolve([]),
    ]);
    const seen = new Set(own.map((j) => j.id));
    return mergeJobLists([own, shared.filter((j) => !seen.has(j.id))], { limit: filter.page?.limit });
  }

  /**
   * Cancels a queued or running job (the same rule as a segmentation job: its owner or an admin,
   * here a server admin or an admin of its project: `mayManage`). A finished job is left as it is.
   */
  async cancel(p: Principal, j: ProjectJob, mayManage: boolean): Promise<ProjectJob> {
    if (p.role === 'viewer' || (j.owner !== p.id && !mayManage))
      throw new HttpError(403, `user '${p.name}' (${p.role}) may not cancel job ${j.id}`, 'ask its owner or an admin of the project');
    if (await this.svc.repo.updateJob(j.id, { status: 'cancelled', error: `cancelled by ${p.name}` }, ['queued', 'running']))
      this.running.get(j.id)?.abort();
    return (await this.svc.repo.job(j.id))!;
  }

  /** The job if it is a project job `p` may see (its owner, a server admin, or a member of its project); else undefined. */
  async find(p: Principal, id: string, canSeeProject: (projectId: string) => Promise<boolean>): Promise<ProjectJob | undefined> {
    const j = await this.svc.repo.job(id);
    if (!j) return undefined;
    if (j.owner === p.id || p.role === 'admin' || (await canSeeProject(j.projectId))) return j;
    return undefined;
  }

  async view(j: ProjectJob): Promise<ProjectJobView> {
    const project = (await this.svc.repo.listProjects()).find((x) => x.id === j.projectId);
    const req = (j.request ?? {}) as { round?: unknown; format?: unknown };
    return {
      id: j.id,
      kind: j.kind,
      project: project?.name ?? '',
      projectId: j.projectId,
      ...(typeof req.round === 'number' ? { round: req.round } : {}),
      ...(j.kind === 'export' && typeof req.format === 'string' ? { format: req.format } : {}),
      owner: j.owner,
      uploadId: '',
      model: project ? `${project.model}@${project.modelVersion}` : '',
      status: j.status,
      progress: j.progress,
      error: j.error,
      result: j.result,
      resultUrl: j.status === 'done' && j.resultSha ? `/jobs/${j.id}/result` : null,
      createdAt: j.createdAt,
      updatedAt: j.updatedAt,
    };
  }

  /** The result bytes (an export's zip). */
  result(j: ProjectJob): Uint8Array {
    if (j.status !== 'done' || !j.resultSha)
      throw new HttpError(
        409,
        `job ${j.id} is ${j.status}${j.status === 'done' ? ' and has no file result' : ', it has no result yet'}`,
        'poll GET /jobs/{id} until status is done',
      );
    if (!this.blobs.has(j.resultSha)) throw new HttpError(410, `the result of job ${j.id} is gone`, 'run the export again');
    return readFileSync(this.blobs.path(j.resultSha));
  }
}

/** Thrown inside a job that was cancelled while it ran. */
class JobCancelled extends Error {}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir).sort()) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}
