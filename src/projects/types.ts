/**
 * The annotation-project domain (issue #12): a project with its label set, model and members;
 * cases that move through an explicit life cycle; label versions that are never overwritten;
 * the interaction log that measures the work.
 */

/** 'viewer' reads the project (dashboard, cases, report) and changes nothing. */
export type MemberRole = 'admin' | 'annotator' | 'reviewer' | 'viewer';
export const MEMBER_ROLES: readonly MemberRole[] = ['admin', 'annotator', 'reviewer', 'viewer'];

export interface LabelDef {
  /** Value in the label map, 1..255. */
  value: number;
  name: string;
  /** '#rrggbb'. */
  colour: string;
  /** SNOMED CT concept id where known (e.g. 52988006 'Lesion'), else null. */
  code: string | null;
}

export interface Project {
  id: string;
  name: string;
  labels: LabelDef[];
  /** Model registry id and version that pre-annotates (a round may name another). */
  model: string;
  modelVersion: string;
  guidelines: string;
  /** Interaction gaps longer than this count as this many seconds of work. */
  idleSeconds: number;
  createdAt: string;
}

export interface Member {
  projectId: string;
  name: string;
  role: MemberRole;
}

export type CaseState = 'new' | 'pre_annotated' | 'in_progress' | 'submitted' | 'accepted' | 'returned';
export const CASE_STATES: readonly CaseState[] = ['new', 'pre_annotated', 'in_progress', 'submitted', 'accepted', 'returned'];

/** 'assisted': pre-annotated by the model; 'manual': brush/eraser only, the baseline for cost saved. */
export type CaseMode = 'assisted' | 'manual';

export interface CaseRow {
  id: string;
  projectId: string;
  /** Unique in the project; from the file name. */
  name: string;
  /** Absolute path of the image file or folder (read through src/io), or `upload:<id>` for a server upload. */
  source: string;
  round: number;
  mode: CaseMode;
  state: CaseState;
  dims: [number, number, number];
  spacing: [number, number, number];
  /** Latest label version number; -1 while the case has none. */
  headVersion: number;
  claimedBy: string | null;
  /** ISO time the claim lapses. */
  claimExpiresAt: string | null;
  submittedBy: string | null;
  reviewedBy: string | null;
  reviewComment: string | null;
  updatedAt: string;
}

/** Who made a label version: a person, or a model with its version. */
export type Author = { kind: 'person'; name: string } | { kind: 'model'; model: string; version: string };

export interface LabelVersion {
  caseId: string;
  /** 0 = pre-annotation (or the empty start of a manual case); every save adds one. */
  version: number;
  author: Author;
  /** sha256 of the gzip'd uint8 label map (x-fastest) in the content-addressed store. */
  maskSha: string;
  /** Foreground voxels, for volume change without reading the mask. */
  voxels: number;
  note: string | null;
  /** The version this was restored from, when it is a restore. */
  restoredFrom: number | null;
  createdAt: string;
}

export interface Interaction {
  caseId: string;
  seq: number;
  user: string;
  /** 'box', 'point', 'brush', 'eraser', 'propagate', 'undo', … as the client names it. */
  tool: string;
  slice: number | null;
  /** Epoch milliseconds. */
  at: number;
}

export function authorLabel(a: Author): string {
  return a.kind === 'person' ? a.name : `${a.model}@${a.version}`;
}

export type ProjectJobKind = 'pre-annotate' | 'export' | 'send-to-pacs';
export const PROJECT_JOB_KINDS: readonly ProjectJobKind[] = ['pre-annotate', 'export', 'send-to-pacs'];

/**
 * A page of a job list (both job tables: the server's segmentation jobs, the projects' jobs): newest
 * first, at most `limit`, older than the job `before` (its creation time and id) when given.
 */
export interface JobPage {
  limit: number;
  before?: { createdAt: string; id: string };
}
export type ProjectJobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** A background job on a project (the server runs it; its row survives a restart). */
export interface ProjectJob {
  id: string;
  projectId: string;
  /** Server user id of who started it. */
  owner: string;
  kind: ProjectJobKind;
  request: unknown;
  status: ProjectJobStatus;
  progress: number;
  error: string | null;
  /** sha256 of the result bytes in the server's content-addressed store (export: a zip). */
  resultSha: string | null;
  result: unknown;
  createdAt: string;
  updatedAt: string;
}
