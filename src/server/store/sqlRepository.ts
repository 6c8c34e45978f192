import { migrate } from '../../projects/migrations.js';
import type { SqlDb } from '../../projects/sqlDb.js';
import type { InteractionRow, JobRow, JobStatus, Repository, SessionRow, SessionStatus, UploadRow, UserRow } from './repository.js';

/**
 * The server's Repository on the one SQL layer the projects use (src/projects/sqlDb.ts): the same
 * statements on SQLite (embedded default: WAL, synchronous=FULL, so a committed row survives
 * kill -9) and PostgreSQL (`medsam2 serve --db postgres://…`), numbered migrations recorded in
 * `server_migrations` (the project tables keep their own list in the same database).
 * `window` is quoted everywhere: PostgreSQL reserves the word.
 */

export const SERVER_MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
     token_hash TEXT NOT NULL, salt TEXT NOT NULL, created_at TEXT NOT NULL);
   CREATE TABLE uploads (
     id TEXT PRIMARY KEY, owner TEXT NOT NULL, sha256 TEXT NOT NULL, name TEXT NOT NULL, format TEXT NOT NULL,
     bytes BIGINT NOT NULL, dims TEXT NOT NULL, spacing TEXT NOT NULL, modality TEXT, created_at TEXT NOT NULL);
   CREATE INDEX uploads_owner ON uploads(owner);
   CREATE TABLE sessions (
     id TEXT PRIMARY KEY, owner TEXT NOT NULL, upload_id TEXT NOT NULL REFERENCES uploads(id), model TEXT NOT NULL,
     axis INTEGER NOT NULL, "window" TEXT, status TEXT NOT NULL, labels_sha TEXT, labels_at INTEGER NOT NULL DEFAULT 0,
     created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
   CREATE INDEX sessions_owner ON sessions(owner, status);
   CREATE TABLE session_interactions (
     session_id TEXT NOT NULL REFERENCES sessions(id), seq INTEGER NOT NULL, kind TEXT NOT NULL,
     payload TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (session_id, seq));
   CREATE TABLE jobs (
     id TEXT PRIMARY KEY, owner TEXT NOT NULL, upload_id TEXT NOT NULL REFERENCES uploads(id), model TEXT NOT NULL,
     request TEXT NOT NULL, status TEXT NOT NULL, progress DOUBLE PRECISION NOT NULL DEFAULT 0, error TEXT, result_sha TEXT,
     result TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
   CREATE INDEX jobs_status ON jobs(status);`,
];

const MIGRATION_TABLE = 'server_migrations';

/**
 * A server database made before this layer (better-sqlite3 directly, schema version in PRAGMA
 * user_version = 1, session log in `interactions`) is adopted in place: its log table gets the
 * name migration 1 gives it (the project tables own `interactions`) and migration 1 is recorded.
 */
async function adoptLegacySqlite(db: SqlDb): Promise<void> {
  if (db.dialect !== 'sqlite') return;
  await db.transaction(async (tx) => {
    const [tracked] = await tx.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?", [MIGRATION_TABLE]);
    if (tracked) return;
    const [uv] = await tx.query<{ user_version: number }>('PRAGMA user_version');
    if (Number(uv?.user_version ?? 0) !== 1) return;
    const [log] = await tx.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'interactions'");
    if (log && /session_id/.test(String(log.sql))) await tx.exec('ALTER TABLE interactions RENAME TO session_interactions');
    await tx.exec(`CREATE TABLE ${MIGRATION_TABLE} (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`);
    await tx.run(`INSERT INTO ${MIGRATION_TABLE} (version, applied_at) VALUES (?, ?)`, [1, new Date().toISOString()]);
  });
}

/** Brings the server tables of `db` up to date (legacy SQLite files adopted first). */
export async function migrateServer(db: SqlDb): Promise<number> {
  await adoptLegacySqlite(db);
  return migrate(db, SERVER_MIGRATIONS, MIGRATION_TABLE);
}

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
    bytes: Number(r.bytes),
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
    axis: Number(r.axis) as 0 | 1 | 2,
    window: (r.window as string | null) ?? null,
    status: r.status as SessionStatus,
    labelsSha: (r.labels_sha as string | null) ?? null,
    labelsAt: Number(r.labels_at),
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
    progress: Number(r.progress),
    error: (r.error as string | null) ?? null,
    resultSha: (r.result_sha as string | null) ?? null,
    result: r.result ? JSON.parse(r.result as string) : null,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
  };
}

function where(conds: [string, unknown][]): { sql: string; args: unknown[] } {
  const used = conds.filter(([, v]) => v !== undefined);
  return { sql: used.length ? ` WHERE ${used.map(([c]) => c).join(' AND ')}` : '', args: used.map(([, v]) => v) };
}

export class SqlRepository implements Repository {
  /** Migrations finished (every method waits for it, so the constructor can stay synchronous). */
  private readonly ready: Promise<unknown>;

  /** `migrated`: the caller already ran migrateServer on `db`. */
  constructor(
    readonly db: SqlDb,
    migrated = false,
  ) {
    this.ready = migrated ? Promise.resolve() : migrateServer(db);
    this.ready.catch(() => undefined);
  }

  private async q(sql: string, args: unknown[] = []): Promise<Row[]> {
    await this.ready;
    return this.db.query(sql, args);
  }
  private async run(sql: string, args: unknown[] = []): Promise<number> {
    await this.ready;
    return this.db.run(sql, args);
  }

  async createUser(u: UserRow): Promise<void> {
    await this.run('INSERT INTO users (id, name, role, token_hash, salt, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
      u.id,
      u.name,
      u.role,
      u.tokenHash,
      u.salt,
      u.createdAt,
    ]);
  }
  async userByName(name: string): Promise<UserRow | undefined> {
    const [r] = await this.q('SELECT * FROM users WHERE name = ?', [name]);
    return r && userOf(r);
  }
  async userById(id: string): Promise<UserRow | undefined> {
    const [r] = await this.q('SELECT * FROM users WHERE id = ?', [id]);
    return r && userOf(r);
  }
  async listUsers(): Promise<UserRow[]> {
    return (await this.q('SELECT * FROM users ORDER BY created_at, id')).map(userOf);
  }

  async addUpload(u: UploadRow): Promise<void> {
    await this.run(
      'INSERT INTO uploads (id, owner, sha256, name, format, bytes, dims, spacing, modality, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [u.id, u.owner, u.sha256, u.name, u.format, u.bytes, JSON.stringify(u.dims), JSON.stringify(u.spacing), u.modality, u.createdAt],
    );
  }
  async upload(id: string): Promise<UploadRow | undefined> {
    const [r] = await this.q('SELECT * FROM uploads WHERE id = ?', [id]);
    return r && uploadOf(r);
  }
  async listUploads(owner?: string): Promise<UploadRow[]> {
    const w = where([['owner = ?', owner]]);
    return (await this.q(`SELECT * FROM uploads${w.sql} ORDER BY created_at, id`, w.args)).map(uploadOf);
  }
  async hasUploadWithSha(sha256: string): Promise<boolean> {
    return (await this.q('SELECT 1 AS one FROM uploads WHERE sha256 = ? LIMIT 1', [sha256])).length > 0;
  }

  async addSession(s: SessionRow): Promise<void> {
    await this.run(
      'INSERT INTO sessions (id, owner, upload_id, model, axis, "window", status, labels_sha, labels_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [s.id, s.owner, s.uploadId, s.model, s.axis, s.window, s.status, s.labelsSha, s.labelsAt, s.createdAt, s.updatedAt],
    );
  }
  async session(id: string): Promise<SessionRow | undefined> {
    const [r] = await this.q('SELECT * FROM sessions WHERE id = ?', [id]);
    return r && sessionOf(r);
  }
  async listSessions(owner?: string, status?: SessionStatus): Promise<SessionRow[]> {
    const w = where([
      ['owner = ?', owner],
      ['status = ?', status],
    ]);
    return (await this.q(`SELECT * FROM sessions${w.sql} ORDER BY created_at, id`, w.args)).map(sessionOf);
  }
  async updateSession(id: string, patch: Partial<Pick<SessionRow, 'status' | 'labelsSha' | 'labelsAt'>>): Promise<void> {
    const cols: Record<string, string> = { status: 'status', labelsSha: 'labels_sha', labelsAt: 'labels_at' };
    const keys = Object.keys(patch) as (keyof typeof patch)[];
    await this.run(`UPDATE sessions SET ${[...keys.map((k) => `${cols[k]} = ?`), 'updated_at = ?'].join(', ')} WHERE id = ?`, [
      ...keys.map((k) => patch[k]),
      now(),
      id,
    ]);
  }
  async appendInteraction(sessionId: string, kind: string, payload: unknown): Promise<number> {
    await this.ready;
    return this.db.transaction(async (tx) => {
      const [r] = await tx.query<{ n: number | string | null }>('SELECT MAX(seq) AS n FROM session_interactions WHERE session_id = ?', [
        sessionId,
      ]);
      const seq = Number(r?.n ?? 0) + 1;
      await tx.run('INSERT INTO session_interactions (session_id, seq, kind, payload, at) VALUES (?, ?, ?, ?, ?)', [
        sessionId,
        seq,
        kind,
        JSON.stringify(payload),
        now(),
      ]);
      await tx.run('UPDATE sessions SET updated_at = ? WHERE id = ?', [now(), sessionId]);
      return seq;
    });
  }
  async interactions(sessionId: string): Promise<InteractionRow[]> {
    return (await this.q('SELECT * FROM session_interactions WHERE session_id = ? ORDER BY seq', [sessionId])).map((r) => ({
      sessionId: r.session_id as string,
      seq: Number(r.seq),
      kind: r.kind as string,
      payload: JSON.parse(r.payload as string),
      at: r.at as string,
    }));
  }

  async addJob(j: JobRow): Promise<void> {
    await this.run(
      'INSERT INTO jobs (id, owner, upload_id, model, request, status, progress, error, result_sha, result, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [
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
      ],
    );
  }
  async job(id: string): Promise<JobRow | undefined> {
    const [r] = await this.q('SELECT * FROM jobs WHERE id = ?', [id]);
    return r && jobOf(r);
  }
  async listJobs(owner?: string, statuses?: JobStatus[]): Promise<JobRow[]> {
    const conds: [string, unknown][] = [['owner = ?', owner]];
    const w = where(conds);
    let sql = w.sql;
    const args = [...w.args];
    if (statuses?.length) {
      sql += `${sql ? ' AND' : ' WHERE'} status IN (${statuses.map(() => '?').join(', ')})`;
      args.push(...statuses);
    }
    return (await this.q(`SELECT * FROM jobs${sql} ORDER BY created_at, id`, args)).map(jobOf);
  }
  async updateJob(id: string, patch: Partial<Pick<JobRow, 'status' | 'progress' | 'error' | 'resultSha' | 'result'>>): Promise<void> {
    const cols: Record<string, string> = {
      status: 'status',
      progress: 'progress',
      error: 'error',
      resultSha: 'result_sha',
      result: 'result',
    };
    const keys = Object.keys(patch) as (keyof typeof patch)[];
    const values = keys.map((k) => (k === 'result' ? (patch.result === null ? null : JSON.stringify(patch.result)) : patch[k]));
    await this.run(`UPDATE jobs SET ${[...keys.map((k) => `${cols[k]} = ?`), 'updated_at = ?'].join(', ')} WHERE id = ?`, [
      ...values,
      now(),
      id,
    ]);
  }

  async close(): Promise<void> {
    await this.ready.catch(() => undefined);
    await this.db.close();
  }
}
