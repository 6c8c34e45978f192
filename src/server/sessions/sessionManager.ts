import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { gunzipSync, gzip } from 'node:zlib';
import { MedsamError } from '../../common/errors.js';
import type { Volume } from '../../io/volume.js';
import { resolveModel, type ModelEntry } from '../../models/registry.js';
import { labelMapVolume } from '../../session/labelMap.js';
import { parseWindow } from '../../preprocess/intensity.js';
import { extractSlice, sliceShape, type SliceAxis } from '../../preprocess/slices.js';
import type { Box, PointPrompt } from '../../predictor/prompts.js';
import type {
  BrushStroke,
  Direction,
  PropagationSummary,
  SessionApi,
  SessionInput,
  SessionOptions,
  SlicePrompt,
} from '../../session/types.js';
import { canSee, canWrite, type Principal } from '../auth.js';
import { ClickDecoders } from '../clickDecoders.js';
import { type ServerConfig, defaultClickWorkers } from '../config.js';
import { HttpError, fromMedsamError } from '../httpError.js';
import type { ServerMetrics } from '../metrics.js';
import { decodeRle, encodeRle, type Rle } from '../rle.js';
import type { BlobStore } from '../store/blobStore.js';
import type { InteractionRow, Repository, SessionRow } from '../store/repository.js';
import { intensityFor, loadUpload } from '../uploads/loadUpload.js';
import type { VolumeCache } from '../uploads/volumeCache.js';
import { frameGrid, isVideoFormat } from '../video/readUploadedVideo.js';
import { LabelMapBuilder } from './labelMapBuilder.js';
import { checkObjectName, namesInEffect } from './objectNames.js';
import { PRIORITY, type WorkQueue } from '../workQueue.js';

/**
 * Interactive sessions over the Session API, with nothing lost: every interaction that succeeded is
 * appended to the database before the client hears of it, and the label map is stored (content
 * addressed) after each change. A session not in memory — after a restart, kill -9 or idle
 * expiry — is rebuilt on its next use by replaying its log in order (undo included) on a fresh
 * Session; reads that need no model (info, label map, slice masks) are served from the stored
 * label map when it is current.
 */

const gzipAsync = promisify(gzip);

export type OpenSession = ((input: SessionInput, opts: SessionOptions) => Promise<SessionApi>) & {
  /** Where the Sessions share a model pool: tells `listener` when the pool closes a model (pooledSessions). */
  onModelClosed?: (listener: (entry: ModelEntry) => void) => void;
};

/** A prompt as it travels (and is logged): JSON, mask as RLE. */
export interface WirePrompt {
  box?: Box;
  points?: PointPrompt[];
  mask?: Rle;
  recist?: Box;
}

export interface PromptRequest extends WirePrompt {
  objId: number;
  slice: number;
  /** The axis the slice is cut along (the view it was drawn on: 2 axial, 1 coronal, 0 sagittal); default the session's. */
  axis?: SliceAxis;
  replace?: boolean;
  /** A correction on a slice propagation already reached (SAM2: clicks on a tracked frame). */
  correction?: boolean;
}

export interface PropagateRequest {
  objIds?: number[];
  range?: [number, number];
  direction?: Direction;
  full?: boolean;
}

/** A manual (brush/eraser) edit of one object's mask on a slice: the new mask, or a stroke on the current one. */
export interface EditRequest {
  objId: number;
  slice: number;
  /** As PromptRequest.axis: an edit on any view. */
  axis?: SliceAxis;
  mask?: Rle;
  stroke?: BrushStroke;
}

type LogEntry =
  | { kind: 'prompt'; payload: PromptRequest }
  | { kind: 'propagate'; payload: PropagateRequest }
  | { kind: 'remove'; payload: { objId: number } }
  | { kind: 'undo'; payload: Record<string, never> }
  | { kind: 'redo'; payload: Record<string, never> }
  // Logged with the resulting mask (never the stroke), so a replay is exact.
  // `seed`: part of the session's starting state (a project case's saved version), below undo's floor.
  | { kind: 'edit'; payload: { objId: number; slice: number; mask: Rle; axis?: SliceAxis; seed?: true } };

interface Live {
  row: SessionRow;
  session: SessionApi;
  /** The source volume, or a video's frame grid (frameGrid: dims W,H,frames, no voxels). */
  volume: Volume;
  lastUsed: number;
  /** A propagation in flight (its AbortController), if any. */
  propagation?: AbortController;
  /** Interactions applied (= log length). */
  applied: number;
  /** Seed edits at the log's start: the starting state, which undo never goes below. */
  floor: number;
  /** Serialises label-map persistence. */
  persisting: Promise<void>;
  /** A pending (debounced) label-map save. */
  saveTimer?: NodeJS.Timeout;
  /** Bumped by every interaction (done, failed or cancelled): what the label-map cache is keyed on. */
  version: number;
  /** The label map built at `version` (slice reads and downloads share it until the next change). */
  labels?: { version: number; data: Uint8Array };
}

export interface ObjectView {
  objId: number;
  /** The name an annotator gave it (PATCH /sessions/{id}/objects/{objId}); absent when none. */
  name?: string;
  /** The axis its keys are slices of (the view it was started on), when not the session's. */
  axis?: number;
  /** Prompted slices, ascending. */
  keys: number[];
  /** Slices where the object has a mask, ascending. */
  slices: number[];
}

export interface SessionView {
  id: string;
  owner: string;
  uploadId: string;
  /** video: slices are frames, masks are stored per frame (exports under /sessions/{id}/video/). */
  kind: 'volume' | 'video';
  model: string;
  axis: number;
  window: string | null;
  status: string;
  numSlices: number;
  rows: number;
  cols: number;
  interactions: number;
  /** Undone interactions that redo would bring back. */
  redoable: number;
  /** Whether the stored label map reflects every interaction (what survives a crash without replay). */
  persisted: boolean;
  live: boolean;
  propagating: boolean;
  objects: ObjectView[];
  createdAt: string;
  updatedAt: string;
}

function toSlicePrompt(p: WirePrompt, rows: number, cols: number): SlicePrompt {
  const out: SlicePrompt = {};
  if (p.box) out.box = p.box;
  if (p.points) out.points = p.points;
  if (p.recist) out.recist = p.recist;
  if (p.mask) out.mask = decodeRle(p.mask, rows, cols);
  return out;
}

/**
 * The interactions still in effect (each undo removes the latest one, each redo brings back the
 * latest undone one, any other interaction clears the undone ones) and how many redo could bring back.
 */
export function effective(log: readonly InteractionRow[]): InteractionRow[] & { redoable: number } {
  const out: InteractionRow[] = [];
  let undone: InteractionRow[] = [];
  for (const r of log) {
    if (r.kind === 'undo') {
      const u = out.pop();
      if (u) undone.push(u);
    } else if (r.kind === 'redo') {
      const u = undone.pop();
      if (u) out.push(u);
    } else {
      out.push(r);
      undone = [];
    }
  }
  return Object.assign(out, { redoable: undone.length });
}

/**
 * The objects of a session's interactions in effect: each one's prompted slices (keys) along the axis
 * it was started on. A delete drops the object; an edit on another view than its object's is no key.
 */
function objectKeys(
  inEffect: readonly InteractionRow[],
  sessionAxis: number,
): { keys: Map<number, Set<number>>; axes: Map<number, number> } {
  const keys = new Map<number, Set<number>>();
  const axes = new Map<number, number>();
  for (const r of inEffect) {
    if (r.kind === 'prompt' || r.kind === 'edit') {
      const q = r.payload as { objId: number; slice: number; axis?: number };
      if (!keys.has(q.objId)) keys.set(q.objId, new Set());
      if (!axes.has(q.objId)) axes.set(q.objId, q.axis ?? sessionAxis);
      if ((q.axis ?? sessionAxis) === axes.get(q.objId)) keys.get(q.objId)!.add(q.slice);
    } else if (r.kind === 'remove') {
      keys.delete((r.payload as { objId: number }).objId);
    }
  }
  return { keys, axes };
}

/** The label map's voxels (x-fastest): a volume's labelMap(), or a video's frames one after another. */
function labelData(s: SessionApi): Uint8Array {
  if (s.kind === 'volume') return s.labelMap().data as Uint8Array;
  const frames = s.sliceLabels();
  const out = new Uint8Array(frames.length * s.rows * s.cols);
  frames.forEach((f, i) => out.set(f, i * s.rows * s.cols));
  return out;
}

function asHttp(e: unknown): unknown {
  if (e instanceof MedsamError) return fromMedsamError(e);
  return e;
}

export class SessionManager {
  private readonly live = new Map<string, Live>();
  private readonly loading = new Map<string, Promise<Live>>();
  private readonly sweeper: NodeJS.Timeout;
  /** Worker threads that decode SAM1 clicks off the main thread, on every core. */
  private readonly clicks: ClickDecoders;
  /** Stored label maps last read, by session id (LRU, STORED_KEPT of them). */
  private readonly stored = new Map<string, { sha: string; data: Uint8Array }>();
  private static readonly STORED_KEPT = 4;
  /** How many times a live session's label map was built (tests check that slice reads reuse it). */
  labelMapBuilds = 0;
  /** Builds label maps for saves off the event loop. */
  private readonly labelMaps = new LabelMapBuilder();

  constructor(
    private readonly repo: Repository,
    private readonly blobs: BlobStore,
    private readonly volumes: VolumeCache,
    private readonly queue: WorkQueue,
    private readonly open: OpenSession,
    private readonly metrics: ServerMetrics,
    private readonly config: ServerConfig,
    private readonly labelSaveDelayMs = 1500,
  ) {
    this.sweeper = setInterval(() => void this.sweepIdle(), Math.min(60_000, Math.max(1000, config.limits.sessionIdleSeconds * 250)));
    this.sweeper.unref();
    this.clicks = new ClickDecoders(config.clickWorkers ?? defaultClickWorkers(), config.clickWorkerThreads ?? 2);
    // A model's click-decoder threads go when the model pool closes the model, as its ORT sessions do.
    open.onModelClosed?.((entry) => void this.clicks.released(entry));
  }

  /** Click-decoder worker threads alive now (0 once every model that had them was released). */
  get clickWorkersLive(): number {
    return this.clicks.liveWorkers;
  }

  /** How many clicks of `model` may run at once: one per click worker, else one. */
  clickLanes(model: string): number {
    try {
      return this.clicks.for(resolveModel(model)) ? this.clicks.workers : 1;
    } catch {
      return 1;
    }
  }

  private clickDecoder(model: string) {
    try {
      return this.clicks.for(resolveModel(model));
    } catch {
      return undefined;
    }
  }

  /** The session row if `p` may see it; anything else is 404 (never reveal another user's ids). */
  async row(p: Principal, id: string): Promise<SessionRow> {
    const row = await this.repo.session(id);
    if (!row || !canSee(p, row.owner)) throw new HttpError(404, `no session ${id}`, 'list your sessions with GET /sessions');
    return row;
  }

  private writable(p: Principal, row: SessionRow): void {
    if (!canWrite(p) || (p.id !== row.owner && p.role !== 'admin'))
      throw new HttpError(403, `user '${p.name}' (${p.role}) may not change session ${row.id}`, 'ask its owner or an annotator');
    if (row.status !== 'open') throw new HttpError(409, `session ${row.id} is closed`, 'start a new session');
  }

  /** `access.uploadGranted`: the caller already checked access to the upload (a project case's image). */
  async create(
    p: Principal,
    req: { uploadId: string; model?: string; axis?: 0 | 1 | 2; window?: string },
    access: { uploadGranted?: boolean } = {},
  ): Promise<SessionView> {
    if (!canWrite(p))
      throw new HttpError(403, `user '${p.name}' (${p.role}) may not start sessions`, 'ask an admin for the annotator role');
    const upload = await this.repo.upload(req.uploadId);
    if (!upload || (!canSee(p, upload.owner) && !access.uploadGranted))
      throw new HttpError(404, `no upload ${req.uploadId}`, 'upload the image first with POST /uploads');
    const model = req.model ?? this.config.models[0]!;
    if (!this.config.models.includes(model))
      throw new HttpError(400, `model '${model}' is not served here`, `use one of ${this.config.models.join(', ')}`);
    if (req.window !== undefined) {
      try {
        parseWindow(req.window);
      } catch (e) {
        throw asHttp(e);
      }
    }
    const open = await this.repo.listSessions(p.id, 'open');
    if (open.length >= this.config.limits.maxSessionsPerUser) {
      throw new HttpError(
        429,
        `user '${p.name}' already has ${open.length} open sessions (limit ${this.config.limits.maxSessionsPerUser})`,
        'close one with DELETE /sessions/{id}',
      );
    }
    const now = new Date().toISOString();
    const video = isVideoFormat(upload.format);
    const row: SessionRow = {
      id: randomUUID(),
      owner: p.id,
      uploadId: upload.id,
      model,
      // A video is sliced into its frames; its colours need no window.
      axis: video ? 2 : (req.axis ?? 2),
      window: video ? null : (req.window ?? null),
      status: 'open',
      labelsSha: null,
      labelsAt: 0,
      createdAt: now,
      updatedAt: now,
    };
    // Open the Session before recording it: a volume or model that fails is the request's error, not a dead row.
    const live = await this.start(row, []);
    await this.repo.addSession(row);
    this.live.set(row.id, live);
    this.metrics.sessionsLive.set(this.live.size);
    return this.view(row, live, []);
  }

  private async start(row: SessionRow, log: readonly InteractionRow[]): Promise<Live> {
    const { volume, frames } = await loadUpload(this.repo, this.volumes, row.uploadId, `session ${row.id}`);
    const clickDecoder = this.clickDecoder(row.model);
    let session: SessionApi;
    try {
      session = await this.open(frames ?? volume, {
        model: row.model,
        axis: row.axis,
        intensity: intensityFor(row.window),
        id: row.id,
        threads: this.config.threads,
        ...(clickDecoder ? { family: { sam1PromptDecoder: clickDecoder } } : {}),
      });
    } catch (e) {
      throw asHttp(e);
    }
    const live: Live = { row, session, volume, lastUsed: Date.now(), applied: 0, floor: 0, persisting: Promise.resolve(), version: 0 };
    for (const r of log) {
      await this.apply(live, { kind: r.kind, payload: r.payload } as LogEntry);
      live.applied++;
      if (r.kind === 'edit' && (r.payload as { seed?: boolean }).seed) live.floor++;
    }
    return live;
  }

  /** The session in memory, rebuilt from its log if needed (one rebuild at a time per session). */
  private async ensureLive(row: SessionRow): Promise<Live> {
    const hit = this.live.get(row.id);
    if (hit) {
      hit.lastUsed = Date.now();
      return hit;
    }
    let p = this.loading.get(row.id);
    if (!p) {
      p = (async () => {
        const log = await this.repo.interactions(row.id);
        const live = await this.queue.run(row.model, 'long', PRIORITY.interactive, () => this.start(row, log));
        this.live.set(row.id, live);
        this.metrics.sessionsLive.set(this.live.size);
        this.metrics.recoveries.inc();
        return live;
      })();
      this.loading.set(row.id, p);
      p.finally(() => this.loading.delete(row.id)).catch(() => {});
    }
    return p;
  }

  private async apply(
    live: Live,
    e: LogEntry,
    signal?: AbortSignal,
    onProgress?: (done: number, total: number, objId: number) => void,
    onSlice?: (objId: number, slice: number, mask: Uint8Array) => void,
  ): Promise<unknown> {
    const s = live.session;
    switch (e.kind) {
      case 'prompt': {
        const q = e.payload;
        const sh = this.planeShape(live, q.axis);
        const prompt = toSlicePrompt(q, sh.rows, sh.cols);
        return q.correction
          ? s.correct(q.objId, q.slice, prompt, { axis: q.axis })
          : s.addPrompt(q.objId, q.slice, prompt, { replace: q.replace ?? false, axis: q.axis });
      }
      case 'propagate':
        return s.propagate({ ...e.payload, signal, onProgress, onSlice });
      case 'remove':
        return s.removeObject(e.payload.objId);
      case 'undo':
        return s.undo();
      case 'redo':
        return s.redo();
      case 'edit': {
        const q = e.payload;
        const sh = this.planeShape(live, q.axis);
        return s.edit(q.objId, q.slice, { mask: decodeRle(q.mask, sh.rows, sh.cols) }, { axis: q.axis });
      }
    }
  }

  /** rows × cols of a slice along `axis` (default the session's). */
  private planeShape(live: Live, axis: SliceAxis | undefined): { rows: number; cols: number } {
    if (axis === undefined || axis === live.row.axis) return { rows: live.session.rows, cols: live.session.cols };
    return sliceShape(live.volume.dims, axis);
  }

  /**
   * Runs one interaction on the live session, then logs it (`e`, or what `e` makes of the result)
   * and schedules the label-map save.
   */
  private async interact(live: Live, e: LogEntry | ((out: unknown) => LogEntry), run: () => Promise<unknown>): Promise<unknown> {
    let out: unknown;
    try {
      out = await run();
    } catch (err) {
      throw asHttp(err);
    } finally {
      live.version++;
    }
    const entry = typeof e === 'function' ? e(out) : e;
    await this.repo.appendInteraction(live.row.id, entry.kind, entry.payload);
    live.applied++;
    live.lastUsed = Date.now();
    this.persistLabels(live);
    return out;
  }

  /**
   * Stores the label map once the session has been quiet for `labelSaveDelayMs`: a burst of clicks
   * costs one save, not one per click (building the label map takes ~100 ms on a 512x512x16
   * volume). Nothing is at risk meanwhile: the log already has every interaction, and a rebuild
   * replays it.
   */
  private persistLabels(live: Live): void {
    if (live.saveTimer) clearTimeout(live.saveTimer);
    live.saveTimer = setTimeout(() => {
      live.saveTimer = undefined;
      this.saveLabels(live);
    }, this.labelSaveDelayMs);
    live.saveTimer.unref();
  }

  private saveLabels(live: Live): void {
    const at = live.applied;
    live.persisting = live.persisting
      .then(async () => {
        if (live.applied !== at) return; // a newer change will store its own
        const labels = await this.labelsToSave(live);
        // Compressed on libuv's thread pool: the event loop stays free for other users' clicks.
        await this.blobs.keepBytes(await gzipAsync(labels, { level: 1 }), async (sha) => {
          live.row.labelsSha = sha;
          live.row.labelsAt = at;
          await this.repo.updateSession(live.row.id, { labelsSha: sha, labelsAt: at });
        });
      })
      .catch(() => {
        /* the log still has it: a rebuild replays it */
      });
  }

  /** Runs a pending save now and waits for every save to finish. */
  private async flush(live: Live): Promise<void> {
    if (live.saveTimer) {
      clearTimeout(live.saveTimer);
      live.saveTimer = undefined;
      this.saveLabels(live);
    }
    await live.persisting;
  }

  /**
   * The live session's label map, built once per version: GET …/slices/{k} reads one slice of it,
   * so reading slice after slice (or a video frame by frame) costs one build per change, not one
   * per request. While a propagation runs the session changes under it: built fresh, not cached.
   */
  private liveLabels(live: Live): Uint8Array {
    if (live.propagation) {
      this.labelMapBuilds++;
      return labelData(live.session);
    }
    if (!live.labels || live.labels.version !== live.version) {
      this.labelMapBuilds++;
      live.labels = { version: live.version, data: labelData(live.session) };
    }
    return live.labels.data;
  }

  /**
   * The label map a save stores: the cached one when current, else built on the label-map worker
   * (the event loop stays free for other users' clicks) and cached if nothing changed meanwhile.
   */
  private async labelsToSave(live: Live): Promise<Uint8Array> {
    const s = live.session;
    if ((live.labels && live.labels.version === live.version) || live.propagation || s.kind !== 'volume' || !s.labelMapParts)
      return this.liveLabels(live);
    const version = live.version;
    const data = await this.labelMaps.build(s.labelMapParts());
    this.labelMapBuilds++;
    if (live.version === version && !live.propagation) live.labels = { version, data };
    return data;
  }

  private busy(live: Live): void {
    if (live.propagation)
      throw new HttpError(409, `session ${live.row.id} is propagating`, 'wait for it to finish or POST /sessions/{id}/cancel');
  }

  async prompt(
    p: Principal,
    id: string,
    req: PromptRequest,
  ): Promise<{ objId: number; slice: number; area: number; mask: Rle; axis: number }> {
    const row = await this.row(p, id);
    this.writable(p, row);
    const live = await this.ensureLive(row);
    this.busy(live);
    const t0 = performance.now();
    const res = (await this.queue.run(row.model, 'interactive', PRIORITY.interactive, () =>
      this.interact(live, { kind: 'prompt', payload: req }, () => this.apply(live, { kind: 'prompt', payload: req })),
    )) as { objId: number; slice: number; area: number; mask: Uint8Array };
    this.metrics.modelRun.observe({ model: row.model, operation: 'prompt' }, (performance.now() - t0) / 1000);
    const sh = this.planeShape(live, req.axis);
    return { objId: res.objId, slice: res.slice, area: res.area, mask: encodeRle(res.mask, sh.rows, sh.cols), axis: req.axis ?? row.axis };
  }

  /**
   * Propagates; progress goes to `onProgress`, and each slice's mask goes to `onMask` as soon as the
   * Session decides it (again whenever it changes during the run; area 0 = the object is absent
   * there). The last mask sent for a slice is its final one unless the run is cancelled.
   */
  async propagate(
    p: Principal,
    id: string,
    req: PropagateRequest,
    hooks: {
      onProgress?: (done: number, total: number, objId: number) => void;
      /** `axis`: what `slice` counts along (the object's own axis, see PromptRequest.axis). */
      onMask?: (objId: number, slice: number, mask: Rle, area: number, axis: number) => void;
      /**
       * Aborted when whoever asked for this propagation is gone (its connection closed): the run is
       * cancelled as by POST …/cancel, so it neither holds the session busy nor takes the model's
       * long lane for a result nobody receives. Cancels this run only, never a later one.
       */
      requesterGone?: AbortSignal;
    } = {},
  ): Promise<PropagationSummary> {
    const row = await this.row(p, id);
    this.writable(p, row);
    const live = await this.ensureLive(row);
    this.busy(live);
    const abort = new AbortController();
    live.propagation = abort;
    const gone = () => {
      if (live.propagation !== abort) return;
      abort.abort();
      live.session.cancel();
    };
    hooks.requesterGone?.addEventListener('abort', gone, { once: true });
    if (hooks.requesterGone?.aborted) gone();
    const t0 = performance.now();
    try {
      const summary = (await this.queue.run(row.model, 'long', PRIORITY.propagation, () =>
        this.interact(live, { kind: 'propagate', payload: req }, () => {
          if (abort.signal.aborted) throw new HttpError(409, 'propagation cancelled before it started', 'propagate again');
          const onMask = hooks.onMask;
          const s = live.session;
          const axes = new Map(s.objects.map((o) => [o.objId, o.axis]));
          return this.apply(
            live,
            { kind: 'propagate', payload: req },
            abort.signal,
            hooks.onProgress,
            onMask &&
              ((objId, slice, m) => {
                let area = 0;
                for (let i = 0; i < m.length; i++) if (m[i]) area++;
                const axis = axes.get(objId) ?? row.axis;
                const sh = this.planeShape(live, axis);
                onMask(objId, slice, encodeRle(m, sh.rows, sh.cols), area, axis);
              }),
          );
        }),
      )) as PropagationSummary;
      this.metrics.modelRun.observe({ model: row.model, operation: 'propagate' }, (performance.now() - t0) / 1000);
      return summary;
    } catch (e) {
      if (abort.signal.aborted)
        throw new HttpError(409, 'propagation cancelled', 'the session is as it was before the propagation; propagate again when ready');
      throw e;
    } finally {
      hooks.requesterGone?.removeEventListener('abort', gone);
      live.propagation = undefined;
    }
  }

  async cancel(p: Principal, id: string): Promise<boolean> {
    const row = await this.row(p, id);
    this.writable(p, row);
    const live = this.live.get(id);
    if (!live?.propagation) return false;
    live.propagation.abort();
    live.session.cancel();
    return true;
  }

  async removeObject(p: Principal, id: string, objId: number): Promise<SessionView> {
    const row = await this.row(p, id);
    this.writable(p, row);
    const live = await this.ensureLive(row);
    this.busy(live);
    if (!live.session.objects.some((o) => o.objId === objId))
      throw new HttpError(404, `session ${id} has no object ${objId}`, 'list its objects with GET /sessions/{id}');
    const e: LogEntry = { kind: 'remove', payload: { objId } };
    await this.queue.run(row.model, 'interactive', PRIORITY.interactive, () => this.interact(live, e, () => this.apply(live, e)));
    return this.get(p, id);
  }

  /**
   * Names an object of the session (one that has a prompt or edit in effect). Not an interaction:
   * no model runs, undo does not step back over it, and it may happen during a propagation.
   */
  async renameObject(p: Principal, id: string, objId: number, rawName: unknown): Promise<SessionView> {
    const row = await this.row(p, id);
    this.writable(p, row);
    const name = checkObjectName(rawName);
    const log = await this.repo.interactions(id);
    if (!objectKeys(effective(log), row.axis).keys.has(objId))
      throw new HttpError(404, `session ${id} has no object ${objId}`, 'prompt the object first; list its objects with GET /sessions/{id}');
    await this.repo.setObjectName({ sessionId: id, objId, name, namedAt: log.at(-1)?.seq ?? 0 });
    return this.get(p, id);
  }

  async undo(p: Principal, id: string): Promise<boolean> {
    const row = await this.row(p, id);
    this.writable(p, row);
    const live = await this.ensureLive(row);
    this.busy(live);
    if (live.session.history().length <= live.floor) return false;
    const e: LogEntry = { kind: 'undo', payload: {} };
    return (await this.queue.run(row.model, 'interactive', PRIORITY.interactive, () =>
      this.interact(live, e, () => this.apply(live, e)),
    )) as boolean;
  }

  async redo(p: Principal, id: string): Promise<boolean> {
    const row = await this.row(p, id);
    this.writable(p, row);
    const live = await this.ensureLive(row);
    this.busy(live);
    if (live.session.redoable().length === 0) return false;
    const e: LogEntry = { kind: 'redo', payload: {} };
    return (await this.queue.run(row.model, 'interactive', PRIORITY.interactive, () =>
      this.interact(live, e, () => this.apply(live, e)),
    )) as boolean;
  }

  /**
   * A literal brush/eraser edit (no model runs, so it skips the model queue); logged with the
   * resulting mask. The next propagation uses the edited slice as that slice's mask prompt.
   */
  async edit(p: Principal, id: string, req: EditRequest): Promise<{ objId: number; slice: number; area: number; mask: Rle; axis: number }> {
    const row = await this.row(p, id);
    this.writable(p, row);
    if ((req.mask === undefined) === (req.stroke === undefined))
      throw new HttpError(400, 'an edit needs exactly one of mask (RLE) or stroke', 'send {objId, slice, stroke: {points, radius, mode}}');
    const live = await this.ensureLive(row);
    this.busy(live);
    const s = live.session;
    const sh = this.planeShape(live, req.axis);
    let mask: Uint8Array | undefined;
    if (req.mask) {
      try {
        mask = decodeRle(req.mask, sh.rows, sh.cols);
      } catch (e) {
        throw asHttp(e);
      }
    }
    const res = (await this.interact(
      live,
      (out) => {
        const m = out as { mask: Uint8Array };
        const payload = { objId: req.objId, slice: req.slice, mask: encodeRle(m.mask, sh.rows, sh.cols) };
        return { kind: 'edit', payload: req.axis === undefined ? payload : { ...payload, axis: req.axis } };
      },
      () => s.edit(req.objId, req.slice, mask ? { mask } : { stroke: req.stroke! }, { axis: req.axis }),
    )) as { objId: number; slice: number; area: number; mask: Uint8Array };
    return { objId: res.objId, slice: res.slice, area: res.area, mask: encodeRle(res.mask, sh.rows, sh.cols), axis: req.axis ?? row.axis };
  }

  /**
   * Gives a fresh session its starting state: each mask as a literal edit (so the seeded slices act
   * as mask prompts for corrections and re-propagation), logged as seed edits that undo never goes
   * below (the floor is rebuilt from the log on replay). Only before any other interaction.
   */
  async seed(p: Principal, id: string, masks: readonly { objId: number; slice: number; mask: Uint8Array }[]): Promise<SessionView> {
    const row = await this.row(p, id);
    this.writable(p, row);
    const live = await this.ensureLive(row);
    if (live.applied !== live.floor)
      throw new HttpError(409, `session ${id} already has interactions`, 'seed a session right after creating it');
    const { rows, cols } = this.planeShape(live, undefined);
    for (const m of masks) {
      const e: LogEntry = { kind: 'edit', payload: { objId: m.objId, slice: m.slice, mask: encodeRle(m.mask, rows, cols), seed: true } };
      await this.interact(live, e, () => live.session.edit(m.objId, m.slice, { mask: m.mask }));
      live.floor++;
    }
    return this.get(p, id);
  }

  async close(p: Principal, id: string): Promise<SessionView> {
    const row = await this.row(p, id);
    this.writable(p, row);
    const live = this.live.get(id);
    if (live) {
      live.propagation?.abort();
      live.session.cancel();
      await this.flush(live);
      await this.evict(live);
    }
    await this.repo.updateSession(id, { status: 'closed' });
    return this.get(p, id);
  }

  /** Stored labels if current, else undefined (the last few read are kept: a stored session read slice by slice is unpacked once). */
  private storedLabels(row: SessionRow, logLength: number): Uint8Array | undefined {
    if (!row.labelsSha || row.labelsAt !== logLength) return undefined;
    const hit = this.stored.get(row.id);
    if (hit?.sha === row.labelsSha) return hit.data;
    const data = new Uint8Array(gunzipSync(readFileSync(this.blobs.path(row.labelsSha))));
    this.stored.delete(row.id);
    this.stored.set(row.id, { sha: row.labelsSha, data });
    for (const k of this.stored.keys()) if (this.stored.size > SessionManager.STORED_KEPT) this.stored.delete(k);
    return data;
  }

  /** The label map on the source grid: live, or stored, or (a stale store) rebuilt by replay. */
  async labelMap(p: Principal, id: string): Promise<{ labels: Volume; source: Volume }> {
    return this.labelsOf(await this.row(p, id));
  }

  private async labelsOf(row: SessionRow): Promise<{ labels: Volume; source: Volume }> {
    const live = await this.currentLive(row);
    if (live) return { labels: labelMapVolume(this.liveLabels(live), live.volume), source: live.volume };
    const log = await this.repo.interactions(row.id);
    const upload = (await this.repo.upload(row.uploadId))!;
    const volume = isVideoFormat(upload.format)
      ? frameGrid({ width: upload.dims[0], height: upload.dims[1], fps: 1 / upload.spacing[2], frameCount: upload.dims[2] }, upload.name)
      : await this.volumes.get(upload);
    const stored = this.storedLabels(row, log.length);
    if (stored) return { labels: labelMapVolume(stored, volume), source: volume };
    const rebuilt = await this.ensureLive(row);
    return { labels: labelMapVolume(this.liveLabels(rebuilt), rebuilt.volume), source: rebuilt.volume };
  }

  /** Live if in memory; for an open session whose store is stale, rebuilt. */
  private async currentLive(row: SessionRow): Promise<Live | undefined> {
    const hit = this.live.get(row.id);
    if (hit) return hit;
    if (row.labelsSha && row.labelsAt === (await this.repo.interactions(row.id)).length) return undefined;
    if (row.status !== 'open' && row.labelsSha) return undefined;
    return this.ensureLive(row);
  }

  /** One slice of the label map along `axis` (default the session's): any plane, as prompts and edits take. */
  async sliceMasks(
    p: Principal,
    id: string,
    slice: number,
    axis?: SliceAxis,
  ): Promise<{ slice: number; axis: SliceAxis; rows: number; cols: number; objects: { objId: number; area: number; mask: Rle }[] }> {
    const row = await this.row(p, id);
    const { labels } = await this.labelsOf(row);
    const along = axis ?? row.axis;
    const shape = sliceShape(labels.dims, along);
    if (!Number.isInteger(slice) || slice < 0 || slice >= shape.count)
      throw new HttpError(
        400,
        `slice ${slice} is outside the volume along axis ${along} (0..${shape.count - 1})`,
        along === row.axis ? 'give a slice index along the session axis' : `give a slice index along axis ${along}, or another axis`,
      );
    const s = extractSlice(labels.data as Uint8Array, labels.dims, along, slice);
    const ids = [...new Set(s)].filter((v) => v !== 0).sort((a, b) => a - b);
    return {
      slice,
      axis: along,
      rows: shape.rows,
      cols: shape.cols,
      objects: ids.map((objId) => {
        const m = Uint8Array.from(s, (v) => (v === objId ? 1 : 0));
        return { objId, area: m.reduce((a, b) => a + b, 0), mask: encodeRle(m, shape.rows, shape.cols) };
      }),
    };
  }

  async get(p: Principal, id: string): Promise<SessionView> {
    const row = await this.row(p, id);
    const log = await this.repo.interactions(id);
    const live = this.live.get(id);
    return this.view(row, live, log);
  }

  async list(p: Principal): Promise<SessionView[]> {
    const rows = await this.repo.listSessions(p.role === 'admin' || p.role === 'reviewer' ? undefined : p.id);
    return Promise.all(rows.map(async (r) => this.view(r, this.live.get(r.id), await this.repo.interactions(r.id))));
  }

  private async view(row: SessionRow, live: Live | undefined, log: readonly InteractionRow[]): Promise<SessionView> {
    const upload = (await this.repo.upload(row.uploadId))!;
    const shape = sliceShape(upload.dims, row.axis);
    // Objects and their prompted slices from the log (what survives any crash) …
    const inEffect = effective(log);
    const { keys, axes } = objectKeys(inEffect, row.axis);
    // … and where each has a mask: from the live session, else from the stored label map.
    const slices = new Map<number, number[]>();
    if (live) {
      for (const o of live.session.objects) slices.set(o.objId, o.slices);
    } else {
      const stored = this.storedLabels(row, log.length);
      if (stored) {
        for (let k = 0; k < shape.count; k++) {
          for (const v of new Set(extractSlice(stored, upload.dims, row.axis, k))) {
            if (v === 0) continue;
            if (!slices.has(v)) slices.set(v, []);
            slices.get(v)!.push(k);
          }
        }
      }
    }
    const names = namesInEffect(await this.repo.objectNames(row.id), inEffect);
    const objects = [...keys.keys()]
      .sort((a, b) => a - b)
      .map((objId) => ({
        objId,
        ...(names.has(objId) ? { name: names.get(objId)! } : {}),
        // Only for an object started on another view than the session's (older clients compare objects whole).
        ...((axes.get(objId) ?? row.axis) !== row.axis ? { axis: axes.get(objId)! } : {}),
        keys: [...keys.get(objId)!].sort((a, b) => a - b),
        slices: slices.get(objId) ?? [],
      }));
    return {
      id: row.id,
      owner: row.owner,
      uploadId: row.uploadId,
      kind: isVideoFormat(upload.format) ? 'video' : 'volume',
      model: row.model,
      axis: row.axis,
      window: row.window,
      status: row.status,
      numSlices: shape.count,
      rows: shape.rows,
      cols: shape.cols,
      interactions: log.length,
      redoable: inEffect.redoable,
      persisted: row.labelsAt === log.length && (log.length === 0 || row.labelsSha !== null),
      live: !!live,
      propagating: !!live?.propagation,
      objects,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    };
  }

  private async evict(live: Live): Promise<void> {
    this.live.delete(live.row.id);
    this.metrics.sessionsLive.set(this.live.size);
    await live.session.close().catch(() => {});
  }

  /** Sessions idle past the limit leave memory; their log and label map stay on disk. */
  async sweepIdle(now = Date.now()): Promise<number> {
    let n = 0;
    for (const live of [...this.live.values()]) {
      if (live.propagation || now - live.lastUsed < this.config.limits.sessionIdleSeconds * 1000) continue;
      await this.flush(live);
      await this.evict(live);
      n++;
    }
    return n;
  }

  /** Graceful shutdown: cancel propagations, finish label-map saves, close Sessions. */
  async shutdown(): Promise<void> {
    clearInterval(this.sweeper);
    for (const live of [...this.live.values()]) {
      live.propagation?.abort();
      live.session.cancel();
      await this.flush(live);
      await this.evict(live);
    }
    await this.clicks.close();
    await this.labelMaps.close();
  }
}
