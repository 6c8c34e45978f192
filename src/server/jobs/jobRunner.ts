import { promisify } from 'node:util';
import { gunzipSync, gzip, gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { MedsamError, errorMessage } from '../../common/errors.js';
import { throwIfCancelled } from '../../families/cancelled.js';
import { readNpzCase } from '../../io/npzFile.js';
import type { Volume } from '../../io/volume.js';
import { labelMapVolume } from '../../session/labelMap.js';
import { PROMPT_POLICIES, promptFromReference, type PromptPolicy } from '../../pipelines/referencePrompt.js';
import { parseWindow } from '../../preprocess/intensity.js';
import { sliceGeometry, validatePrompts, type VolumePrompt } from '../../predictor/prompts.js';
import { canSee, canWrite, type Principal } from '../auth.js';
import type { ServerConfig } from '../config.js';
import { HttpError, fromMedsamError } from '../httpError.js';
import type { ServerMetrics } from '../metrics.js';
import { decodeRle } from '../rle.js';
import type { BlobStore } from '../store/blobStore.js';
import { JobCheckpoints } from '../store/jobCheckpoints.js';
import type { JobRow, Repository, UploadRow } from '../store/repository.js';
import { intensityFor, loadUpload } from '../uploads/loadUpload.js';
import type { VolumeCache } from '../uploads/volumeCache.js';
import type { LoadedFrames } from '../../pipelines/videoFrames.js';
import { isVideoFormat } from '../video/readUploadedVideo.js';
import { segmentByObject, type ObjectCheckpoint } from './segmentByObject.js';
import { queuedJob } from './queuedJob.js';
import type { JobListQuery } from './jobListQuery.js';
import type { JobPage } from '../../projects/types.js';
import { runVideoJob, videoJobPrompts } from './videoJob.js';
import type { PromptRequest } from '../sessions/sessionManager.js';
import { PRIORITY, type WorkQueue } from '../workQueue.js';

/**
 * Batch jobs: the work of `medsam2 segment` (segmentVolume) in the background, persisted. A job is
 * written to the database before it is queued, and checkpointed after each object it finishes
 * (segmentByObject.ts: the object's mask in the job's own checkpoint folder, its entry in the row).
 * On start-up every job left queued or running by a previous process (a crash, kill -9) runs again
 * from its last finished object — the pipeline is deterministic, so the result is the one the first
 * run would have given — and a job whose upload is gone is marked failed with the reason. Results
 * are label maps in the content-addressed store. A job that ends (done, failed, cancelled) drops its
 * checkpoints, so nothing is left in the data folder that no row refers to.
 */

const gzipAsync = promisify(gzip);

export interface JobRequest {
  uploadId: string;
  model?: string;
  axis?: 0 | 1 | 2;
  window?: string;
  /** Explicit prompts … */
  prompts?: Omit<PromptRequest, 'replace' | 'correction'>[];
  /** … or an automatic policy from the reference mask stored in the upload (MedSAM2 .npz gts). */
  policy?: PromptPolicy;
  /** Set by the server (never by a client): the upload is a video, segmented frame by frame (videoJob.ts). */
  video?: true;
}

export interface JobView {
  id: string;
  /** Absent for a volume segmentation job. */
  kind?: 'segment-video';
  owner: string;
  uploadId: string;
  model: string;
  status: JobRow['status'];
  progress: number;
  error: string | null;
  result: unknown;
  resultUrl: string | null;
  createdAt: string;
  updatedAt: string;
}

export class JobRunner {
  private stopping = false;
  /**
   * Jobs running in this process, by id: a cancel aborts them. They stop before their next step
   * (model load, key-slice encode, slice or frame, object) and write nothing.
   */
  private readonly running = new Map<string, AbortController>();
  /** Jobs storing their result: past the last check a cancel waits for it (the job ends done, not half stored). */
  private readonly finishing = new Map<string, Promise<void>>();
  private readonly checkpoints: JobCheckpoints;

  constructor(
    private readonly repo: Repository,
    private readonly blobs: BlobStore,
    private readonly volumes: VolumeCache,
    private readonly queue: WorkQueue,
    private readonly metrics: ServerMetrics,
    private readonly config: ServerConfig,
  ) {
    this.checkpoints = new JobCheckpoints(config.dataDir);
  }

  view(j: JobRow): JobView {
    const video = j.kind === 'segment-video';
    return {
      id: j.id,
      ...(video ? { kind: 'segment-video' as const } : {}),
      owner: j.owner,
      uploadId: j.uploadId,
      model: j.model,
      status: j.status,
      progress: j.progress,
      error: j.error,
      // While a job runs its result field holds its per-object checkpoints: not for clients.
      result: j.status === 'done' ? j.result : null,
      resultUrl: j.status === 'done' ? (video ? `/jobs/${j.id}/video/masks.npz` : `/jobs/${j.id}/result`) : null,
      createdAt: j.createdAt,
      updatedAt: j.updatedAt,
    };
  }

  async row(p: Principal, id: string): Promise<JobRow> {
    const j = await this.repo.job(id);
    if (!j || !canSee(p, j.owner)) throw new HttpError(404, `no job ${id}`, 'list your jobs with GET /jobs');
    return j;
  }

  /** The segmentation jobs `p` may see that match `q` (GET /jobs; none when it names a project or only project kinds). */
  async list(p: Principal, q: JobListQuery = {}, page?: JobPage): Promise<JobView[]> {
    if (q.project !== undefined || q.kinds?.length === 0) return [];
    const owner = p.role === 'admin' || p.role === 'reviewer' ? undefined : p.id;
    return (await this.repo.listJobs(owner, q.statuses, { kinds: q.kinds, page })).map((j) => this.view(j));
  }

  async submit(p: Principal, req: JobRequest): Promise<JobView> {
    if (!canWrite(p)) throw new HttpError(403, `user '${p.name}' (${p.role}) may not submit jobs`, 'ask an admin for the annotator role');
    const upload = await this.repo.upload(req.uploadId);
    if (!upload || !canSee(p, upload.owner))
      throw new HttpError(404, `no upload ${req.uploadId}`, 'upload the image first with POST /uploads');
    const model = req.model ?? this.config.models[0]!;
    if (!this.config.models.includes(model))
      throw new HttpError(400, `model '${model}' is not served here`, `use one of ${this.config.models.join(', ')}`);
    if (!!req.prompts === !!req.policy)
      throw new HttpError(400, 'give either prompts or policy', `policy is one of ${PROMPT_POLICIES.join(', ')}`);
    if (req.window !== undefined) {
      try {
        parseWindow(req.window);
      } catch (e) {
        throw e instanceof MedsamError ? fromMedsamError(e) : e;
      }
    }
    // Check prompts (and the policy's reference) now, so a bad job is a 400, not a failed job later.
    const video = isVideoFormat(upload.format);
    if (video) videoJobPrompts(upload, req);
    else await this.prompts(upload, req);
    const job: JobRow = {
      ...queuedJob(p.id, video ? { ...req, video: true } : req),
      kind: video ? 'segment-video' : 'segment',
      uploadId: upload.id,
      model,
    };
    await this.repo.addJob(job);
    this.enqueue(job);
    return this.view(job);
  }

  private async prompts(upload: UploadRow, req: JobRequest): Promise<VolumePrompt[]> {
    const volume = await this.volumes.get(upload);
    const axis = req.axis ?? 2;
    const geom = sliceGeometry(volume.dims, axis);
    try {
      if (req.policy) {
        if (upload.format !== 'npz')
          throw new HttpError(
            400,
            `policy '${req.policy}' needs a reference mask, and upload ${upload.id} (${upload.format}) has none`,
            'upload a MedSAM2 .npz with gts, or give prompts',
          );
        const c = await readNpzCase(this.blobs.path(upload.sha256));
        if (!c.label)
          throw new HttpError(
            400,
            `policy '${req.policy}' needs a reference mask, and upload ${upload.id} has no gts`,
            'give prompts instead',
          );
        return [
          promptFromReference(req.policy, {
            reference: c.label.data as ArrayLike<number>,
            dims: volume.dims,
            axis,
            recist: c.recist?.data as ArrayLike<number> | undefined,
          }),
        ];
      }
      const prompts = req.prompts!.map((q) => ({
        objId: q.objId,
        slice: q.slice,
        box: q.box,
        points: q.points,
        recist: q.recist,
        mask: q.mask ? decodeRle(q.mask, geom.height, geom.width, 'prompt mask') : undefined,
      }));
      return validatePrompts(prompts, geom);
    } catch (e) {
      throw e instanceof MedsamError ? fromMedsamError(e) : e;
    }
  }

  private enqueue(job: JobRow): void {
    void this.queue.run(job.model, 'long', PRIORITY.job, () => this.execute(job.id)).catch(() => {});
  }

  private async execute(id: string): Promise<void> {
    const job = await this.repo.job(id);
    if (!job || job.status === 'cancelled' || job.status === 'done' || this.stopping) return;
    const req = job.request as JobRequest;
    // A previous run's checkpoints (kept in the row's result while the job runs) are reused.
    const done = ((job.result as { checkpoints?: ObjectCheckpoint[] } | null)?.checkpoints ?? []).filter((c) =>
      this.checkpoints.has(id, c.sha),
    );
    // Only a job nobody cancelled meanwhile starts.
    if (!(await this.repo.updateJob(id, { status: 'running', error: null }, ['queued', 'running']))) return;
    const abort = new AbortController();
    this.running.set(id, abort);
    const { signal } = abort;
    try {
      const { upload, volume, frames } = await loadUpload(this.repo, this.volumes, job.uploadId, `job ${id}`);
      if (!this.blobs.has(upload.sha256)) throw new HttpError(410, `upload ${job.uploadId} is gone`, 'upload the image again and resubmit');
      throwIfCancelled(signal);
      const t0 = performance.now();
      let lastWrite = 0;
      const onProgress = (f: number) => {
        const now = Date.now();
        if (now - lastWrite > 500 || f >= 1) {
          lastWrite = now;
          void this.repo.updateJob(id, { progress: f }, ['running']);
        }
      };
      if (frames) {
        // A video runs whole (no per-object checkpoints): after a restart it runs again, to the same result.
        const res = await runVideoJob(frames, videoJobPrompts(upload, req), {
          model: job.model,
          threads: this.config.threads,
          onProgress,
          signal,
        });
        const seconds = (performance.now() - t0) / 1000;
        await this.finish(job, signal, res.labels, { ...res.summary, seconds }, seconds);
        return;
      }
      const prompts = await this.prompts(upload, req);
      const checkpoints = [...done];
      const res = await segmentByObject(volume, validatePrompts(prompts, sliceGeometry(volume.dims, req.axis ?? 2)), {
        model: job.model,
        axis: req.axis ?? 2,
        threads: this.config.threads,
        intensity: intensityFor(req.window),
        done,
        signal,
        save: async (objId, mask, slices, seconds) => {
          const c: ObjectCheckpoint = { objId, sha: this.checkpoints.put(id, gzipSync(mask, { level: 1 })), slices, seconds };
          checkpoints.push(c);
          // Only while running: a cancel has cleared the checkpoints and must stay cleared.
          await this.repo.updateJob(id, { result: { checkpoints } }, ['running']);
          return c;
        },
        load: (sha) => new Uint8Array(gunzipSync(this.checkpoints.read(id, sha))),
        onProgress,
      });
      const seconds = (performance.now() - t0) / 1000;
      const summary = {
        slicesSegmented: res.slicesSegmented,
        slicesEncoded: res.slicesEncoded,
        seconds,
        objects: res.objects,
        resumedObjects: done.length,
      };
      await this.finish(job, signal, res.labels, summary, seconds);
    } catch (e) {
      // A cancelled job stops with PropagationCancelled; cancel() already wrote its status.
      if (signal.aborted) return;
      const msg = e instanceof HttpError ? `${e.message}${e.fix ? ` — ${e.fix}` : ''}` : errorMessage(e);
      // A failed job is not resumed: its checkpoints go (below), and so does their list.
      if (await this.repo.updateJob(id, { status: 'failed', error: msg, result: null }, ['running']))
        this.metrics.jobs.inc({ status: 'failed' });
    } finally {
      this.running.delete(id);
      // An ended job's checkpoints are dropped; one left running (the server stopping) keeps them for its resume.
      const row = await this.repo.job(id).catch(() => undefined);
      if (row && row.status !== 'queued' && row.status !== 'running') this.checkpoints.drop(id);
    }
  }

  /**
   * Stores a finished job's label map and marks it done, unless it was cancelled first. From the
   * check on, a cancel waits for this (finishing), so the result is never stored for a job that
   * then reads cancelled (a blob no row refers to).
   */
  private async finish(job: JobRow, signal: AbortSignal, labels: Uint8Array, result: object, seconds: number): Promise<void> {
    if (signal.aborted) return;
    let finished!: () => void;
    this.finishing.set(job.id, new Promise<void>((r) => (finished = r)));
    try {
      const stored = await this.blobs.keepBytes(await gzipAsync(labels, { level: 1 }), (sha) =>
        this.repo.updateJob(job.id, { status: 'done', progress: 1, resultSha: sha, result }, ['running']),
      );
      if (!stored) return;
      this.metrics.jobs.inc({ status: 'done' });
      this.metrics.modelRun.observe({ model: job.model, operation: 'job' }, seconds);
    } finally {
      this.finishing.delete(job.id);
      finished();
    }
  }

  /**
   * On start-up: jobs a previous process left queued or running run again, from their last
   * finished object; checkpoints of jobs that ended (a process stopped before dropping them) go.
   */
  async resume(): Promise<number> {
    const pending = await this.repo.listJobs(undefined, ['queued', 'running']);
    const live = new Set(pending.map((j) => j.id));
    for (const id of this.checkpoints.jobs()) if (!live.has(id)) this.checkpoints.drop(id);
    for (const j of pending) {
      await this.repo.updateJob(j.id, { status: 'queued', error: j.status === 'running' ? null : j.error });
      this.enqueue({ ...j, status: 'queued' });
    }
    return pending.length;
  }

  /**
   * Cancels a queued or running job (its owner or an admin). A queued one never starts. A running
   * one stops cooperatively before its next step (its model load or key-slice encode under way ends
   * first: an ONNX Runtime run cannot be stopped midway): it writes no result, its checkpoints are
   * dropped (so it is never resumed), its worker goes to the next job. A job already storing its
   * result, or finished, is left to end done.
   */
  async cancel(p: Principal, id: string): Promise<JobView> {
    const j = await this.row(p, id);
    if (!canWrite(p) || (p.id !== j.owner && p.role !== 'admin'))
      throw new HttpError(403, `user '${p.name}' (${p.role}) may not cancel job ${id}`, 'ask its owner');
    const finishing = this.finishing.get(id);
    if (finishing) await finishing;
    else {
      // Aborted before the row changes, so the job cannot reach finish() after it reads cancelled.
      this.running.get(id)?.abort();
      if (await this.repo.updateJob(id, { status: 'cancelled', error: `cancelled by ${p.name}`, result: null }, ['queued', 'running'])) {
        // Again: a queued job may have started while the row was being written.
        const running = this.running.get(id);
        if (running) running.abort();
        else this.checkpoints.drop(id); // a queued job's checkpoints (from a run before a restart)
      }
    }
    return this.view((await this.repo.job(id))!);
  }

  async result(p: Principal, id: string): Promise<{ labels: Volume; source: Volume }> {
    const j = await this.finished(p, id);
    if ((j.request as JobRequest).video)
      throw new HttpError(400, `job ${id} segmented a video: it has masks, not a label map volume`, `download /jobs/${id}/video/masks.npz`);
    const upload = (await this.repo.upload(j.uploadId))!;
    const source = await this.volumes.get(upload);
    const labels = new Uint8Array(gunzipSync(readFileSync(this.blobs.path(j.resultSha!))));
    return { labels: labelMapVolume(labels, source), source };
  }

  /** A finished video job's masks on the video's frame grid, with the frames (for the overlay). */
  async videoResult(p: Principal, id: string): Promise<{ labels: Volume; frames: LoadedFrames }> {
    const j = await this.finished(p, id);
    if (!(j.request as JobRequest).video)
      throw new HttpError(400, `job ${id} segmented a volume, not a video`, `download its label map from /jobs/${id}/result`);
    const { volume, frames } = await loadUpload(this.repo, this.volumes, j.uploadId, `job ${id}`);
    const labels = new Uint8Array(gunzipSync(readFileSync(this.blobs.path(j.resultSha!))));
    return { labels: { ...volume, data: labels }, frames: frames! };
  }

  private async finished(p: Principal, id: string): Promise<JobRow> {
    const j = await this.row(p, id);
    if (j.status !== 'done' || !j.resultSha)
      throw new HttpError(409, `job ${id} is ${j.status}, it has no result yet`, 'poll GET /jobs/{id} until status is done');
    return j;
  }

  stop(): void {
    this.stopping = true;
  }
}
