import Database from 'better-sqlite3';
import type { InteractionRow, JobRow, JobStatus, Repository, SessionRow, SessionStatus, UploadRow, UserRow } from './repository.js';

/**
 * Repository on an embedded SQLite file (better-sqlite3 12: v13 needs Node 22). WAL mode and
 * synchronous=FULL so a committed row survives kill -9; schema changes are numbered migrations
 * recorded in PRAGMA user_version, applied in one transaction each.
 */

const MIGRATIONS: string[] = [
  `CREATE TABLE users (
     id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
     token_hash TEXT NOT NULL, salt TEXT NOT NULL, created_at TEXT NOT NULL);
   CREATE TABLE uploads (
     id TEXT PRIMARY KEY, owner TEXT NOT NULL, sha256 TEXT NOT NULL, name TEXT NOT NULL, format TEXT NOT NULL,
     bytes INTEGER NOT NULL, dims TEXT NOT NULL, spacing TEXT NOT NULL, modality TEXT, created_at TEXT NOT NULL);
   CREATE INDEX uploads_owner ON uploads(owner);
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY, owner TEXT NOT NULL, upload_id TEXT NOT NULL REFERENCES uploads(id), model TEXT NOT NULL,
     axis INTEGER NOT NULL, window TEXT, status TEXT NOT NULL, labels_sha TEXT, labels_at INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
   CREATE INDEX sessions_owner ON sessions(owner, status);
   CREATE TABLE interactions (
     session_id TEXT NOT NULL REFERENCES sessions(id), seq INTEGER NOT NULL, kind TEXT NOT NULL,
     payload TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (session_id, seq));
   CREATE TABLE jobs (
     id TEXT PRIMARY KEY, owner TEXT NOT NULL, upload_id TEXT NOT NULL REFERENCES uploads(id), model TEXT NOT NULL,
     request TEXT NOT NULL, status TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, error TEXT, result_sha TEXT,
     result TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
   CREATE INDEX jobs_status ON jobs(status);`,
];

type Row = Record<string, unknown>;
const now = (): string => new Date().toISOString();

function userOf(r: Row): UserRow {
  return {
    id: r.id as string,
    name: r.name as string,
    role: r.role as UserRow['role'],
    tokenHash: r.token_hash as string,
    salt: r.salt as string,
    createdAt: r.created_at as string,
  };
}
function uploadOf(r: Row): UploadRow {
  return {
    id: r.id as string,
    owner: r.owner as string,
    sha256: r.sha256 as string,
    name: r.name as string,
    format: r.format as string,
    bytes: r.bytes as number,
    dims: JSON.parse(r.dims as string),
    spacing: JSON.parse(r.spacing as string),
    modality: (r.modality as string | null) ?? null,
    createdAt: r.created_at as string,
  };
}
function sessionOf(r: Row): SessionRow {
  return {
    id: r.id as string,
    owner: r.owner as string,
    uploadId: r.upload_id as string,
    model: r.model as string,
    axis: r.axis as 0 | 1 | 2,
    window: (r.window as string | null) ?? null,
    status: r.status as SessionStatus,
    labelsSha: (r.labels_sha as string | null) ?? null,
    labelsAt: r.labels_at as number,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}
function jobOf(r: Row): JobRow {
  return {
    id: r.id as string,
    owner: r.owner as string,
    uploadId: r.upload_id as string,
    model: r.model as string,
    request: JSON.parse(r.request as string),
    status: r.status as JobStatus,
    progress: r.progress as number,
    error: (r.error as string | null) ?? null,
    resultSha: (r.result_sha as string | null) ?? null,
    result: r.result ? JSON.parse(r.result as string) : null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

export class SqliteRepository implements Repository {
  private readonly db: Database.Database;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a commit is in the WAL (the OS's page cache) before it returns, so it survives a
    // kill -9 of the server; only an OS crash or power loss can drop the last commits. FULL's fsync
    // per commit cost each click several ms.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  /** Applies the migrations the file has not seen yet; returns the schema version. */
  private migrate(): number {
    let version = this.db.pragma('user_version', { simple: true }) as number;
    for (; version < MIGRATIONS.length; version++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[version]!);
        this.db.pragma(`user_version = ${version + 1}`);
      })();
    }
    return version;
  }

  async createUser(u: UserRow): Promise<void> {
    this.db
      .prepare('INSERT INTO users (id, name, role, token_hash, salt, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(u.id, u.name, u.role, u.tokenHash, u.salt, u.createdAt);
  }
  async userByName(name: string): Promise<UserRow | undefined> {
    const r = this.db.prepare('SELECT * FROM users WHERE name = ?').get(name) as Row | undefined;
    return r && userOf(r);
  }
  async userById(id: string): Promise<UserRow | undefined> {
    const r = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as Row | undefined;
    return r && userOf(r);
  }
  async listUsers(): Promise<UserRow[]> {
    return (this.db.prepare('SELECT * FROM users ORDER BY created_at').all() as Row[]).map(userOf);
  }

  async addUpload(u: UploadRow): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO uploads (id, owner, sha256, name, format, bytes, dims, spacing, modality, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(u.id, u.owner, u.sha256, u.name, u.format, u.bytes, JSON.stringify(u.dims), JSON.stringify(u.spacing), u.modality, u.createdAt);
  }
  async upload(id: string): Promise<UploadRow | undefined> {
    const r = this.db.prepare('SELECT * FROM uploads WHERE id = ?').get(id) as Row | undefined;
    return r && uploadOf(r);
  }
  async listUploads(owner?: string): Promise<UploadRow[]> {
    const rows =
      owner === undefined
        ? this.db.prepare('SELECT * FROM uploads ORDER BY created_at').all()
        : this.db.prepare('SELECT * FROM uploads WHERE owner = ? ORDER BY created_at').all(owner);
    return (rows as Row[]).map(uploadOf);
  }

  async hasUploadWithSha(sha256: string): Promise<boolean> {
    return this.db.prepare('SELECT 1 FROM uploads WHERE sha256 = ? LIMIT 1').get(sha256) !== undefined;
  }

  async addSession(s: SessionRow): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO sessions (id, owner, upload_id, model, axis, window, status, labels_sha, labels_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(s.id, s.owner, s.uploadId, s.model, s.axis, s.window, s.status, s.labelsSha, s.labelsAt, s.createdAt, s.updatedAt);
  }
  async session(id: string): Promise<SessionRow | undefined> {
    const r = this.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id) as Row | undefined;
    return r && sessionOf(r);
  }
  async listSessions(owner?: string, status?: SessionStatus): Promise<SessionRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (owner !== undefined) {
      where.push('owner = ?');
      args.push(owner);
    }
    if (status !== undefined) {
      where.push('status = ?');
      args.push(status);
    }
    const sql = `SELECT * FROM sessions${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(sessionOf);
  }
  async updateSession(id: string, patch: Partial<Pick<SessionRow, 'status' | 'labelsSha' | 'labelsAt'>>): Promise<void> {
    const cols: Record<string, string> = { status: 'status', labelsSha: 'labels_sha', labelsAt: 'labels_at' };
    const sets = Object.keys(patch).map((k) => `${cols[k]} = @${k}`);
    this.db
      .prepare(`UPDATE sessions SET ${[...sets, 'updated_at = @updatedAt'].join(', ')} WHERE id = @id`)
      .run({ ...patch, updatedAt: now(), id });
  }
  async appendInteraction(sessionId: string, kind: string, payload: unknown): Promise<number> {
    return this.db.transaction(() => {
      const r = this.db.prepare('SELECT COALESCE(MAX(seq), 0) AS n FROM interactions WHERE session_id = ?').get(sessionId) as { n: number };
      const seq = r.n + 1;
      this.db
        .prepare('INSERT INTO interactions (session_id, seq, kind, payload, at) VALUES (?, ?, ?, ?, ?)')
        .run(sessionId, seq, kind, JSON.stringify(payload), now());
      this.db.prepare('UPDATE sessions SET updated_at = ? WHERE id = ?').run(now(), sessionId);
      return seq;
    })();
  }
  async interactions(sessionId: string): Promise<InteractionRow[]> {
    return (this.db.prepare('SELECT * FROM interactions WHERE session_id = ? ORDER BY seq').all(sessionId) as Row[]).map((r) => ({
      sessionId: r.session_id as string,
      seq: r.seq as number,
      kind: r.kind as string,
      payload: JSON.parse(r.payload as string),
      at: r.at as string,
    }));
  }

  async addJob(j: JobRow): Promise<void> {
    this.db
      .prepare(
        'INSERT INTO jobs (id, owner, upload_id, model, request, status, progress, error, result_sha, result, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        j.id,
        j.owner,
        j.uploadId,
        j.model,
        JSON.stringify(j.request),
        j.status,
        j.progress,
        j.error,
        j.resultSha,
        j.result === null ? null : JSON.stringify(j.result),
        j.createdAt,
        j.updatedAt,
      );
  }
  async job(id: string): Promise<JobRow | undefined> {
    const r = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return r && jobOf(r);
  }
  async listJobs(owner?: string, statuses?: JobStatus[]): Promise<JobRow[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (owner !== undefined) {
      where.push('owner = ?');
      args.push(owner);
    }
    if (statuses?.length) {
      where.push(`status IN (${statuses.map(() => '?').join(', ')})`);
      args.push(...statuses);
    }
    const sql = `SELECT * FROM jobs${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY created_at`;
    return (this.db.prepare(sql).all(...args) as Row[]).map(jobOf);
  }
  async updateJob(id: string, patch: Partial<Pick<JobRow, 'status' | 'progress' | 'error' | 'resultSha' | 'result'>>): Promise<void> {
    const cols: Record<string, string> = {
      status: 'status',
      progress: 'progress',
      error: 'error',
      resultSha: 'result_sha',
      result: 'result',
    };
    const values: Record<string, unknown> = { ...patch };
    if ('result' in patch) values.result = patch.result === null ? null : JSON.stringify(patch.result);
    const sets = Object.keys(patch).map((k) => `${cols[k]} = @${k}`);
    this.db
      .prepare(`UPDATE jobs SET ${[...sets, 'updated_at = @updatedAt'].join(', ')} WHERE id = @id`)
      .run({ ...values, updatedAt: now(), id });
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
