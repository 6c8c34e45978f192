import { ProjectConflictError, ProjectError } from './projectErrors.js';
import { isUniqueViolation, type SqlDb } from './sqlDb.js';
import type { Author, CaseRow, CaseState, Interaction, LabelVersion, Member, Project, ProjectJob } from './types.js';

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
  listJobs(filter?: { projectId?: string; statuses?: ProjectJob['status'][] }): Promise<ProjectJob[]>;
  updateJob(id: string, patch: Partial<Pick<ProjectJob, 'status' | 'progress' | 'error' | 'resultSha' | 'result'>>): Promise<void>;
  close(): Promise<void>;
}

export { ProjectConflictError } from './projectErrors.js';

type Row = Record<string, unknown>;

function projectOf(r: Row): Project {
  return {
    id: r.id as string,
    name: r.name as string,
    labels: JSON.parse(r.labels as string),
    model: r.model as string,
    modelVersion: r.model_version as string,
    guidelines: r.guidelines as string,
    idleSeconds: Number(r.idle_seconds),
    createdAt: r.created_at as string,
  };
}
function caseOf(r: Row): CaseRow {
  return {
    id: r.id as string,
    projectId: r.project_id as string,
    name: r.name as string,
    source: r.source as string,
    round: Number(r.round),
    mode: r.mode as CaseRow['mode'],
    state: r.state as CaseState,
    dims: JSON.parse(r.dims as string),
    spacing: JSON.parse(r.spacing as string),
    headVersion: Number(r.head_version),
    claimedBy: (r.claimed_by as string | null) ?? null,
    claimExpiresAt: (r.claim_expires_at as string | null) ?? null,
    submittedBy: (r.submitted_by as string | null) ?? null,
    reviewedBy: (r.reviewed_by as string | null) ?? null,
    reviewComment: (r.review_comment as string | null) ?? null,
    updatedAt: r.updated_at as string,
  };
}
function jobOf(r: Row): ProjectJob {
  return {
    id: r.id as string,
    projectId: r.project_id as string,
    owner: r.owner as string,
    kind: r.kind as ProjectJob['kind'],
    request: JSON.parse(r.request as string),
    status: r.status as ProjectJob['status'],
    progress: Number(r.progress),
    error: (r.error as string | null) ?? null,
    resultSha: (r.result_sha as string | null) ?? null,
    result: r.result ? JSON.parse(r.result as string) : null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}
function versionOf(r: Row): LabelVersion {
  const author: Author =
    r.author_kind === 'model'
      ? { kind: 'model', model: r.author_name as string, version: (r.author_version as string | null) ?? '' }
      : { kind: 'person', name: r.author_name as string };
  return {
    caseId: r.case_id as string,
    version: Number(r.version),
    author,
    maskSha: r.mask_sha as string,
    voxels: Number(r.voxels),
    note: (r.note as string | null) ?? null,
    restoredFrom: r.restored_from === null || r.restored_from === undefined ? null : Number(r.restored_from),
    createdAt: r.created_at as string,
  };
}

const CASE_COLUMNS: Record<string, string> = {
  source: 'source',
  round: 'round',
  mode: 'mode',
  state: 'state',
  dims: 'dims',
  spacing: 'spacing',
  headVersion: 'head_version',
  claimedBy: 'claimed_by',
  claimExpiresAt: 'claim_expires_at',
  submittedBy: 'submitted_by',
  reviewedBy: 'reviewed_by',
  reviewComment: 'review_comment',
  updatedAt: 'updated_at',
};

export class SqlProjectRepository implements ProjectRepository {
  constructor(private readonly db: SqlDb) {}

  transaction<T>(fn: (r: ProjectRepository) => Promise<T>): Promise<T> {
    return this.db.transaction((tx) => fn(new SqlProjectRepository(tx)));
  }

  async createProject(p: Project): Promise<void> {
    try {
      await this.db.run(
        'INSERT INTO projects (id, name, labels, model, model_version, guidelines, idle_seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [p.id, p.name, JSON.stringify(p.labels), p.model, p.modelVersion, p.guidelines, p.idleSeconds, p.createdAt],
      );
    } catch (e) {
      if (isUniqueViolation(e))
        throw new ProjectError(`a project named '${p.name}' already exists in this database`, 'choose another --name', 409);
      throw e;
    }
  }
  async projectByName(name: string): Promise<Project | undefined> {
    const [r] = await this.db.query('SELECT * FROM projects WHERE name = ?', [name]);
    return r && projectOf(r);
  }
  async listProjects(): Promise<Project[]> {
    return (await this.db.query('SELECT * FROM projects ORDER BY created_at, name')).map(projectOf);
  }

  async setMember(m: Member): Promise<void> {
    const n = await this.db.run('UPDATE members SET role = ? WHERE project_id = ? AND name = ?', [m.role, m.projectId, m.name]);
    if (n === 0) await this.db.run('INSERT INTO members (project_id, name, role) VALUES (?, ?, ?)', [m.projectId, m.name, m.role]);
  }
  async members(projectId: string): Promise<Member[]> {
    return (await this.db.query('SELECT * FROM members WHERE project_id = ? ORDER BY name', [projectId])).map((r) => ({
      projectId: r.project_id as string,
      name: r.name as string,
      role: r.role as Member['role'],
    }));
  }

  async addCase(c: CaseRow): Promise<void> {
    try {
      await this.db.run(
        `INSERT INTO cases (id, project_id, name, source, round, mode, state, dims, spacing, head_version, claimed_by,
        claim_expires_at, submitted_by, reviewed_by, review_comment, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          c.id,
          c.projectId,
          c.name,
          c.source,
          c.round,
          c.mode,
          c.state,
          JSON.stringify(c.dims),
          JSON.stringify(c.spacing),
          c.headVersion,
          c.claimedBy,
          c.claimExpiresAt,
          c.submittedBy,
          c.reviewedBy,
          c.reviewComment,
          c.updatedAt,
        ],
      );
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
  async caseById(id: string): Promise<CaseRow | undefined> {
    const [r] = await this.db.query('SELECT * FROM cases WHERE id = ?', [id]);
    return r && caseOf(r);
  }
  async caseByName(projectId: string, name: string): Promise<CaseRow | undefined> {
    const [r] = await this.db.query('SELECT * FROM cases WHERE project_id = ? AND name = ?', [projectId, name]);
    return r && caseOf(r);
  }
  async listCases(projectId: string, filter: { round?: number; state?: CaseState } = {}): Promise<CaseRow[]> {
    const where = ['project_id = ?'];
    const args: unknown[] = [projectId];
    if (filter.round !== undefined) {
      where.push('round = ?');
      args.push(filter.round);
    }
    if (filter.state !== undefined) {
      where.push('state = ?');
      args.push(filter.state);
    }
    return (await this.db.query(`SELECT * FROM cases WHERE ${where.join(' AND ')} ORDER BY round, name`, args)).map(caseOf);
  }
  async updateCase(
    id: string,
    expected: { state: CaseState; headVersion: number },
    patch: Partial<Omit<CaseRow, 'id' | 'projectId' | 'name'>>,
  ): Promise<boolean> {
    const sets: string[] = [];
    const args: unknown[] = [];
    for (const [k, v] of Object.entries({ ...patch, updatedAt: new Date().toISOString() })) {
      const col = CASE_COLUMNS[k];
      if (!col) throw new Error(`unknown case field ${k}`);
      sets.push(`${col} = ?`);
      args.push(k === 'dims' || k === 'spacing' ? JSON.stringify(v) : v);
    }
    const n = await this.db.run(`UPDATE cases SET ${sets.join(', ')} WHERE id = ? AND state = ? AND head_version = ?`, [
      ...args,
      id,
      expected.state,
      expected.headVersion,
    ]);
    return n === 1;
  }

  async addVersion(v: LabelVersion): Promise<void> {
    try {
      await this.db.run(
        `INSERT INTO label_versions (case_id, version, author_kind, author_name, author_version, mask_sha, voxels, note, restored_from, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          v.caseId,
          v.version,
          v.author.kind,
          v.author.kind === 'model' ? v.author.model : v.author.name,
          v.author.kind === 'model' ? v.author.version : null,
          v.maskSha,
          v.voxels,
          v.note,
          v.restoredFrom,
          v.createdAt,
        ],
      );
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
    return (await this.db.query('SELECT * FROM label_versions WHERE case_id = ? ORDER BY version', [caseId])).map(versionOf);
  }

  async appendInteraction(i: Omit<Interaction, 'seq'>): Promise<number> {
    const [r] = await this.db.query<{ n: number | string | null }>('SELECT MAX(seq) AS n FROM interactions WHERE case_id = ?', [i.caseId]);
    const seq = Number(r?.n ?? 0) + 1;
    await this.db.run('INSERT INTO interactions (case_id, seq, user_name, tool, slice, at) VALUES (?, ?, ?, ?, ?, ?)', [
      i.caseId,
      seq,
      i.user,
      i.tool,
      i.slice,
      i.at,
    ]);
    return seq;
  }
  async interactions(caseId: string): Promise<Interaction[]> {
    return (await this.db.query('SELECT * FROM interactions WHERE case_id = ? ORDER BY seq', [caseId])).map((r) => ({
      caseId: r.case_id as string,
      seq: Number(r.seq),
      user: r.user_name as string,
      tool: r.tool as string,
      slice: r.slice === null ? null : Number(r.slice),
      at: Number(r.at),
    }));
  }

  async addEvent(caseId: string, event: string, user: string, comment: string | null): Promise<void> {
    const [r] = await this.db.query<{ n: number | string | null }>('SELECT MAX(seq) AS n FROM case_events WHERE case_id = ?', [caseId]);
    await this.db.run('INSERT INTO case_events (case_id, seq, event, user_name, comment, at) VALUES (?, ?, ?, ?, ?, ?)', [
      caseId,
      Number(r?.n ?? 0) + 1,
      event,
      user,
      comment,
      new Date().toISOString(),
    ]);
  }
  async events(caseId: string): Promise<{ seq: number; event: string; user: string; comment: string | null; at: string }[]> {
    return (await this.db.query('SELECT * FROM case_events WHERE case_id = ? ORDER BY seq', [caseId])).map((r) => ({
      seq: Number(r.seq),
      event: r.event as string,
      user: r.user_name as string,
      comment: (r.comment as string | null) ?? null,
      at: r.at as string,
    }));
  }

  async addJob(j: ProjectJob): Promise<void> {
    await this.db.run(
      `INSERT INTO project_jobs (id, project_id, owner, kind, request, status, progress, error, result_sha, result, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        j.id,
        j.projectId,
        j.owner,
        j.kind,
        JSON.stringify(j.request),
        j.status,
        j.progress,
        j.error,
        j.resultSha,
        j.result === null ? null : JSON.stringify(j.result),
        j.createdAt,
        j.updatedAt,
      ],
    );
  }
  async job(id: string): Promise<ProjectJob | undefined> {
    const [r] = await this.db.query('SELECT * FROM project_jobs WHERE id = ?', [id]);
    return r && jobOf(r);
  }
  async listJobs(filter: { projectId?: string; statuses?: ProjectJob['status'][] } = {}): Promise<ProjectJob[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.projectId !== undefined) {
      where.push('project_id = ?');
      args.push(filter.projectId);
    }
    if (filter.statuses?.length) {
      where.push(`status IN (${filter.statuses.map(() => '?').join(', ')})`);
      args.push(...filter.statuses);
    }
    const sql = `SELECT * FROM project_jobs${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
    return (await this.db.query(sql, args)).map(jobOf);
  }
  async updateJob(id: string, patch: Partial<Pick<ProjectJob, 'status' | 'progress' | 'error' | 'resultSha' | 'result'>>): Promise<void> {
    const cols: Record<string, string> = {
      status: 'status',
      progress: 'progress',
      error: 'error',
      resultSha: 'result_sha',
      result: 'result',
    };
    const sets: string[] = [];
    const args: unknown[] = [];
    for (const [k, v] of Object.entries(patch)) {
      sets.push(`${cols[k]} = ?`);
      args.push(k === 'result' ? (v === null ? null : JSON.stringify(v)) : v);
    }
    await this.db.run(`UPDATE project_jobs SET ${[...sets, 'updated_at = ?'].join(', ')} WHERE id = ?`, [
      ...args,
      new Date().toISOString(),
      id,
    ]);
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
