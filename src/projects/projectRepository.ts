import { ProjectConflictError, ProjectError } from './projectErrors.js';
import { isUniqueViolation, type SqlDb } from './sqlDb.js';
import { JOB_COLUMNS, type SelectPage, SqlTable, json, num, optNum, optText, text } from './sqlTable.js';
import type { Author, CaseRow, CaseState, Interaction, JobPage, LabelVersion, Member, Project, ProjectJob } from './types.js';

/**
 * Project state behind one interface (async, as the server's Repository), implemented once in
 * SQL over a SqlDb so SQLite and PostgreSQL run the same statements and migrations.
 */
export interface ProjectRepository {
  /** `fn` with a repository bound to one transaction. */
  transaction<T>(fn: (r: ProjectRepository) => Promise<T>): Promise<T>;
  createProject(p: Project): Promise<void>;
  projectByName(name: string): Promise<Project | undefined>;
  listProjects(): Promise<Project[]>;
  setMember(m: Member): Promise<void>;
  members(projectId: string): Promise<Member[]>;
  addCase(c: CaseRow): Promise<void>;
  caseById(id: string): Promise<CaseRow | undefined>;
  caseByName(projectId: string, name: string): Promise<CaseRow | undefined>;
  listCases(projectId: string, filter?: { round?: number; state?: CaseState }): Promise<CaseRow[]>;
  /** Updates a case only if it is still in `expected` state with head `expectedHead`; false when it moved on. */
  updateCase(
    id: string,
    expected: { state: CaseState; headVersion: number },
    patch: Partial<Omit<CaseRow, 'id' | 'projectId' | 'name'>>,
  ): Promise<boolean>;
  /** Inserts a label version; a version number already taken → ProjectConflictError. */
  addVersion(v: LabelVersion): Promise<void>;
  versions(caseId: string): Promise<LabelVersion[]>;
  appendInteraction(i: Omit<Interaction, 'seq'>): Promise<number>;
  interactions(caseId: string): Promise<Interaction[]>;
  addEvent(caseId: string, event: string, user: string, comment: string | null): Promise<void>;
  events(caseId: string): Promise<{ seq: number; event: string; user: string; comment: string | null; at: string }[]>;
  addJob(j: ProjectJob): Promise<void>;
  job(id: string): Promise<ProjectJob | undefined>;
  /** Jobs matching every condition given (a list: any of it), oldest first; with `page`, that page newest first. */
  listJobs(filter?: ProjectJobFilter): Promise<ProjectJob[]>;
  /** Whether a job's result is this blob (the server's blob store: a refused upload's bytes are dropped unless so). */
  hasJobResult(sha256: string): Promise<boolean>;
  /** Updates a job (only while its status is one of `whileStatus`, when given); false when no row changed. */
  updateJob(
    id: string,
    patch: Partial<Pick<ProjectJob, 'status' | 'progress' | 'error' | 'resultSha' | 'result'>>,
    whileStatus?: ProjectJob['status'][],
  ): Promise<boolean>;
  close(): Promise<void>;
}

export { ProjectConflictError } from './projectErrors.js';

/** Which project jobs ProjectRepository.listJobs returns. */
export interface ProjectJobFilter {
  projectId?: string | readonly string[];
  owner?: string;
  statuses?: readonly ProjectJob['status'][];
  kinds?: readonly ProjectJob['kind'][];
  page?: JobPage;
}

/** A job list page as SqlTable reads it: newest first by (createdAt, id), from the key `before`. */
export function jobPage(page: JobPage | undefined): SelectPage {
  if (!page) return {};
  return { descending: true, limit: page.limit, ...(page.before ? { after: [page.before.createdAt, page.before.id] } : {}) };
}

/** A label version as stored: the author in three columns. */
interface VersionRecord extends Omit<LabelVersion, 'author'> {
  authorKind: Author['kind'];
  authorName: string;
  authorVersion: string | null;
}
type EventRecord = { caseId: string; seq: number; event: string; user: string; comment: string | null; at: string };

const PROJECTS = new SqlTable<Project>('projects', {
  id: text('id'),
  name: text('name'),
  labels: json('labels'),
  model: text('model'),
  modelVersion: text('model_version'),
  guidelines: text('guidelines'),
  idleSeconds: num('idle_seconds'),
  createdAt: text('created_at'),
});
const MEMBERS = new SqlTable<Member>('members', { projectId: text('project_id'), name: text('name'), role: text('role') });
const CASES = new SqlTable<CaseRow>('cases', {
  id: text('id'),
  projectId: text('project_id'),
  name: text('name'),
  source: text('source'),
  round: num('round'),
  mode: text('mode'),
  state: text('state'),
  dims: json('dims'),
  spacing: json('spacing'),
  headVersion: num('head_version'),
  claimedBy: optText('claimed_by'),
  claimExpiresAt: optText('claim_expires_at'),
  submittedBy: optText('submitted_by'),
  reviewedBy: optText('reviewed_by'),
  reviewComment: optText('review_comment'),
  updatedAt: text('updated_at'),
});
const VERSIONS = new SqlTable<VersionRecord>('label_versions', {
  caseId: text('case_id'),
  version: num('version'),
  authorKind: text('author_kind'),
  authorName: text('author_name'),
  authorVersion: optText('author_version'),
  maskSha: text('mask_sha'),
  voxels: num('voxels'),
  note: optText('note'),
  restoredFrom: optNum('restored_from'),
  createdAt: text('created_at'),
});
const INTERACTIONS = new SqlTable<Interaction>('interactions', {
  caseId: text('case_id'),
  seq: num('seq'),
  user: text('user_name'),
  tool: text('tool'),
  slice: optNum('slice'),
  at: num('at'),
});
const EVENTS = new SqlTable<EventRecord>('case_events', {
  caseId: text('case_id'),
  seq: num('seq'),
  event: text('event'),
  user: text('user_name'),
  comment: optText('comment'),
  at: text('at'),
});
const JOBS = new SqlTable<ProjectJob>('project_jobs', { ...JOB_COLUMNS, projectId: text('project_id'), kind: text('kind') });

function versionOf({ authorKind, authorName, authorVersion, ...v }: VersionRecord): LabelVersion {
  const author: Author =
    authorKind === 'model' ? { kind: 'model', model: authorName, version: authorVersion ?? '' } : { kind: 'person', name: authorName };
  return { ...v, author };
}
function versionRecord({ author, ...v }: LabelVersion): VersionRecord {
  return author.kind === 'model'
    ? { ...v, authorKind: 'model', authorName: author.model, authorVersion: author.version }
    : { ...v, authorKind: 'person', authorName: author.name, authorVersion: null };
}

export class SqlProjectRepository implements ProjectRepository {
  constructor(private readonly db: SqlDb) {}

  transaction<T>(fn: (r: ProjectRepository) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(new SqlProjectRepository(tx)));
  }

  async createProject(p: Project): Promise<void> {
    try {
      await PROJECTS.insert(this.db, p);
    } catch (e) {
      if (isUniqueViolation(e))
        throw new ProjectError(`a project named '${p.name}' already exists in this database`, 'choose another --name', 409);
      throw e;
    }
  }
  projectByName(name: string): Promise<Project | undefined> {
    return PROJECTS.one(this.db, { name });
  }
  listProjects(): Promise<Project[]> {
    return PROJECTS.select(this.db, {}, ['createdAt', 'name']);
  }

  async setMember(m: Member): Promise<void> {
    const n = await MEMBERS.update(this.db, { role: m.role }, { projectId: m.projectId, name: m.name });
    if (n === 0) await MEMBERS.insert(this.db, m);
  }
  members(projectId: string): Promise<Member[]> {
    return MEMBERS.select(this.db, { projectId }, ['name']);
  }

  async addCase(c: CaseRow): Promise<void> {
    try {
      await CASES.insert(this.db, c);
    } catch (e) {
      if (isUniqueViolation(e))
        throw new ProjectError(
          `the project already has a case named '${c.name}'`,
          'rename the file, or skip it (cases are never replaced)',
          409,
        );
      throw e;
    }
  }
  caseById(id: string): Promise<CaseRow | undefined> {
    return CASES.one(this.db, { id });
  }
  caseByName(projectId: string, name: string): Promise<CaseRow | undefined> {
    return CASES.one(this.db, { projectId, name });
  }
  listCases(projectId: string, filter: { round?: number; state?: CaseState } = {}): Promise<CaseRow[]> {
    return CASES.select(this.db, { projectId, round: filter.round, state: filter.state }, ['round', 'name']);
  }
  async updateCase(
    id: string,
    expected: { state: CaseState; headVersion: number },
    patch: Partial<Omit<CaseRow, 'id' | 'projectId' | 'name'>>,
  ): Promise<boolean> {
    const n = await CASES.update(
      this.db,
      { ...patch, updatedAt: new Date().toISOString() },
      { id, state: expected.state, headVersion: expected.headVersion },
    );
    return n === 1;
  }

  async addVersion(v: LabelVersion): Promise<void> {
    try {
      await VERSIONS.insert(this.db, versionRecord(v));
    } catch (e) {
      if (isUniqueViolation(e))
        throw new ProjectConflictError(
          `version ${v.version} of the case was saved by someone else first`,
          'reload the latest version, redo the change on it and save again',
        );
      throw e;
    }
  }
  async versions(caseId: string): Promise<LabelVersion[]> {
    return (await VERSIONS.select(this.db, { caseId }, ['version'])).map(versionOf);
  }

  async appendInteraction(i: Omit<Interaction, 'seq'>): Promise<number> {
    const seq = await INTERACTIONS.nextSeq(this.db, 'seq', { caseId: i.caseId });
    await INTERACTIONS.insert(this.db, { ...i, seq });
    return seq;
  }
  interactions(caseId: string): Promise<Interaction[]> {
    return INTERACTIONS.select(this.db, { caseId }, ['seq']);
  }

  async addEvent(caseId: string, event: string, user: string, comment: string | null): Promise<void> {
    const seq = await EVENTS.nextSeq(this.db, 'seq', { caseId });
    await EVENTS.insert(this.db, { caseId, seq, event, user, comment, at: new Date().toISOString() });
  }
  async events(caseId: string): Promise<{ seq: number; event: string; user: string; comment: string | null; at: string }[]> {
    return (await EVENTS.select(this.db, { caseId }, ['seq'])).map(({ caseId: _, ...e }) => e);
  }

  addJob(j: ProjectJob): Promise<void> {
    return JOBS.insert(this.db, j);
  }
  job(id: string): Promise<ProjectJob | undefined> {
    return JOBS.one(this.db, { id });
  }
  listJobs(filter: ProjectJobFilter = {}): Promise<ProjectJob[]> {
    const { projectId, owner, statuses, kinds, page } = filter;
    // An empty list matches nothing (SqlTable drops an empty IN: it would match everything).
    if ([projectId, statuses, kinds].some((v) => Array.isArray(v) && v.length === 0)) return Promise.resolve([]);
    return JOBS.select(this.db, { projectId, owner, status: statuses, kind: kinds }, ['createdAt', 'id'], jobPage(page));
  }
  hasJobResult(sha256: string): Promise<boolean> {
    return JOBS.exists(this.db, { resultSha: sha256 });
  }
  async updateJob(
    id: string,
    patch: Partial<Pick<ProjectJob, 'status' | 'progress' | 'error' | 'resultSha' | 'result'>>,
    whileStatus?: ProjectJob['status'][],
  ): Promise<boolean> {
    return (await JOBS.update(this.db, { ...patch, updatedAt: new Date().toISOString() }, { id, status: whileStatus })) > 0;
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
