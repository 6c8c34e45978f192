import { PROJECT_JOB_KINDS, type JobPage, type ProjectJobKind } from '../../projects/types.js';
import { HttpError } from '../httpError.js';
import { JOB_KINDS, type JobKind, type JobStatus } from '../store/repository.js';

/**
 * GET /jobs' filters, as a CVAT or MONAI Label user expects them: `project` (id or name), `kind` and
 * `status` (each repeatable or a comma list), and `limit` with `before` for newest-first paging (the
 * list is otherwise every job, oldest first). Checked here before the schema, so a wrong name or
 * value is one line naming it and what is allowed; each job table is then filtered in its query
 * (JobRunner.list, ProjectJobs.list) and the two answers merged (mergeJobLists).
 */

export const JOB_STATUSES: readonly JobStatus[] = ['queued', 'running', 'done', 'failed', 'cancelled'];
export const ALL_JOB_KINDS: readonly (JobKind | ProjectJobKind)[] = [...JOB_KINDS, ...PROJECT_JOB_KINDS];
const PARAMS = ['project', 'kind', 'status', 'limit', 'before'] as const;
export const MAX_JOB_PAGE = 500;

export interface JobListQuery {
  project?: string;
  /** Segmentation job kinds asked for (undefined: all; empty: none). */
  kinds?: JobKind[];
  /** Project job kinds asked for (undefined: all; empty: none). */
  projectKinds?: ProjectJobKind[];
  statuses?: JobStatus[];
  /** Newest first, at most `limit`, older than the job `before` (its id). */
  limit?: number;
  before?: string;
}

/** Repeated values and comma lists as one list of non-empty values. */
function values(v: unknown): string[] {
  return (Array.isArray(v) ? v : [v])
    .flatMap((x) => String(x).split(','))
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

function oneOf<T extends string>(param: string, v: unknown, allowed: readonly T[]): T[] {
  const list = values(v);
  const wrong = list.find((x) => !allowed.includes(x as T));
  if (wrong !== undefined)
    throw new HttpError(
      400,
      `unknown job ${param} '${wrong}'`,
      `${param} is one of ${allowed.join(', ')} (repeat ${param}= or separate with commas)`,
    );
  return list as T[];
}

/**
 * Fastify preValidation for GET /jobs: unknown parameters and values are one clear 400; `kind` and
 * `status` become lists (comma lists split) for the schema that follows.
 */
export function normaliseJobListQuery(query: Record<string, unknown>): void {
  for (const k of Object.keys(query))
    if (!(PARAMS as readonly string[]).includes(k))
      throw new HttpError(400, `unknown query parameter '${k}' for GET /jobs`, `filter with ${PARAMS.join(', ')}`);
  if (query.kind !== undefined) query.kind = oneOf('kind', query.kind, ALL_JOB_KINDS);
  if (query.status !== undefined) query.status = oneOf('status', query.status, JOB_STATUSES);
  if (query.before !== undefined && query.limit === undefined)
    throw new HttpError(400, 'before pages a newest-first list and needs limit', `add limit=N (at most ${MAX_JOB_PAGE})`);
}

/** The query after the schema checked it (types, limit range). */
export function jobListQuery(q: { project?: string; kind?: string[]; status?: string[]; limit?: number; before?: string }): JobListQuery {
  const kinds = q.kind?.length ? q.kind : undefined;
  return {
    project: q.project,
    kinds: kinds && (kinds.filter((k) => (JOB_KINDS as readonly string[]).includes(k)) as JobKind[]),
    projectKinds: kinds && (kinds.filter((k) => (PROJECT_JOB_KINDS as readonly string[]).includes(k)) as ProjectJobKind[]),
    statuses: q.status?.length ? (q.status as JobStatus[]) : undefined,
    limit: q.limit,
    before: q.before,
  };
}

/** The repository page for `q`, from the `before` job's creation time and id; undefined when not paged. */
export function pageOf(q: JobListQuery, before: { createdAt: string; id: string } | undefined): JobPage | undefined {
  return q.limit === undefined
    ? undefined
    : { limit: q.limit, ...(before ? { before: { createdAt: before.createdAt, id: before.id } } : {}) };
}

/** Both tables' answers as one list: oldest first, or the newest `limit` newest first when paged. */
export function mergeJobLists<J extends { createdAt: string; id: string }>(lists: J[][], q: JobListQuery): J[] {
  const asc = (a: J, b: J) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id);
  const all = lists.flat();
  if (q.limit === undefined) return all.sort(asc);
  return all.sort((a, b) => asc(b, a)).slice(0, q.limit);
}
