/**
 * The server's state behind one interface: users, uploads, sessions with their interaction
 * history and object names, jobs. The SQLite implementation (sqliteRepository.ts) is the default; the methods are
 * async so a PostgreSQL implementation (issue #12) can sit behind the same interface.
 */

import type { JobPage } from '../../projects/types.js';

export type Role = 'admin' | 'annotator' | 'reviewer' | 'viewer';
export const ROLES: readonly Role[] = ['admin', 'annotator', 'reviewer', 'viewer'];

export interface UserRow {
  id: string;
  name: string;
  role: Role;
  /** scrypt(secret, salt), hex. The token itself is never stored. */
  tokenHash: string;
  salt: string;
  createdAt: string;
}

export interface UploadRow {
  id: string;
  owner: string;
  /** sha256 of the bytes: the file's name in the content-addressed store. */
  sha256: string;
  /** The client's file name: metadata only, never a path. */
  name: string;
  format: string;
  bytes: number;
  dims: [number, number, number];
  spacing: [number, number, number];
  modality: string | null;
  createdAt: string;
}

export type SessionStatus = 'open' | 'closed';

export interface SessionRow {
  id: string;
  owner: string;
  uploadId: string;
  model: string;
  axis: 0 | 1 | 2;
  window: string | null;
  status: SessionStatus;
  /** sha256 of the last stored label map (uint8, x-fastest, gzip) in the blob store. */
  labelsSha: string | null;
  /** Number of interactions the stored label map reflects. */
  labelsAt: number;
  createdAt: string;
  updatedAt: string;
}

/** One step of a session, stored as JSON in order; replaying them rebuilds the session. */
export interface InteractionRow {
  sessionId: string;
  seq: number;
  kind: string;
  payload: unknown;
  at: string;
}

/**
 * A name an annotator gave one object of a session. `namedAt`: the session's log length (the seq of
 * its last interaction) when it was given, so a later delete of the object ends the name (a new
 * object with the same id starts unnamed) while undoing that delete brings it back.
 */
export interface ObjectNameRow {
  sessionId: string;
  objId: number;
  name: string;
  namedAt: number;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
/** A segmentation job: of a volume (or picture), or of a video's frames (jobs/videoJob.ts). */
export type JobKind = 'segment' | 'segment-video';
export const JOB_KINDS: readonly JobKind[] = ['segment', 'segment-video'];

export interface JobRow {
  id: string;
  kind: JobKind;
  owner: string;
  uploadId: string;
  model: string;
  request: unknown;
  status: JobStatus;
  progress: number;
  error: string | null;
  resultSha: string | null;
  /** Summary of the finished result (slices segmented, seconds, …). */
  result: unknown;
  createdAt: string;
  updatedAt: string;
}

export interface Repository {
  createUser(u: UserRow): Promise<void>;
  userByName(name: string): Promise<UserRow | undefined>;
  userById(id: string): Promise<UserRow | undefined>;
  listUsers(): Promise<UserRow[]>;

  addUpload(u: UploadRow): Promise<void>;
  upload(id: string): Promise<UploadRow | undefined>;
  listUploads(owner?: string): Promise<UploadRow[]>;
  /**
   * Whether any row here refers to this blob: an upload's bytes, a session's label map, a job's
   * result (a refused upload's bytes are dropped unless so).
   */
  refersToBlob(sha256: string): Promise<boolean>;

  addSession(s: SessionRow): Promise<void>;
  session(id: string): Promise<SessionRow | undefined>;
  listSessions(owner?: string, status?: SessionStatus): Promise<SessionRow[]>;
  updateSession(id: string, patch: Partial<Pick<SessionRow, 'status' | 'labelsSha' | 'labelsAt'>>): Promise<void>;
  /** Appends one interaction; returns its seq (1-based). */
  appendInteraction(sessionId: string, kind: string, payload: unknown): Promise<number>;
  interactions(sessionId: string): Promise<InteractionRow[]>;
  /** Sets (or replaces) an object's name. */
  setObjectName(row: ObjectNameRow): Promise<void>;
  objectNames(sessionId: string): Promise<ObjectNameRow[]>;

  addJob(j: JobRow): Promise<void>;
  job(id: string): Promise<JobRow | undefined>;
  /** Jobs of `owner` (all when undefined) in these statuses and of these kinds, oldest first; with `page`, that page newest first. */
  listJobs(owner?: string, statuses?: readonly JobStatus[], filter?: { kinds?: readonly JobKind[]; page?: JobPage }): Promise<JobRow[]>;
  /** Updates a job (only while its status is one of `whileStatus`, when given); false when no row changed. */
  updateJob(
    id: string,
    patch: Partial<Pick<JobRow, 'status' | 'progress' | 'error' | 'resultSha' | 'result'>>,
    whileStatus?: JobStatus[],
  ): Promise<boolean>;

  close(): Promise<void>;
}
