import { migrate } from '../../projects/migrations.js';
import type { SqlDb } from '../../projects/sqlDb.js';
import { jobPage } from '../../projects/projectRepository.js';
import { JOB_COLUMNS, SqlTable, json, num, optText, text } from '../../projects/sqlTable.js';
import type { JobPage } from '../../projects/types.js';
import type {
  InteractionRow,
  JobKind,
  JobRow,
  ObjectNameRow,
  JobStatus,
  Repository,
  SessionRow,
  SessionStatus,
  UploadRow,
  UserRow,
} from './repository.js';

/**
 * The server's Repository on the one SQL layer the projects use (src/projects/sqlDb.ts): the same
 * statements on SQLite (embedded default: WAL, synchronous=NORMAL, so a committed row survives
 * kill -9) and PostgreSQL (`medsam2 serve --db postgres://…`), numbered migrations recorded in
 * `server_migrations` (the project tables keep their own list in the same database).
 * Rows map to objects through the table codecs of src/projects/sqlTable.ts, as the project tables do.
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
  `CREATE TABLE session_object_names (
     session_id TEXT NOT NULL REFERENCES sessions(id), obj_id INTEGER NOT NULL, name TEXT NOT NULL,
     named_at INTEGER NOT NULL, PRIMARY KEY (session_id, obj_id));`,
  // A job's kind as a column, so GET /jobs?kind= filters in the query (video jobs were told by their request).
  `ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'segment';
   UPDATE jobs SET kind = 'segment-video' WHERE request LIKE '%"video":true%';
   CREATE INDEX jobs_created ON jobs(created_at, id);`,
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

const now = (): string => new Date().toISOString();

const USERS = new SqlTable<UserRow>('users', {
  id: text('id'),
  name: text('name'),
  role: text('role'),
  tokenHash: text('token_hash'),
  salt: text('salt'),
  createdAt: text('created_at'),
});
const UPLOADS = new SqlTable<UploadRow>('uploads', {
  id: text('id'),
  owner: text('owner'),
  sha256: text('sha256'),
  name: text('name'),
  format: text('format'),
  bytes: num('bytes'),
  dims: json('dims'),
  spacing: json('spacing'),
  modality: optText('modality'),
  createdAt: text('created_at'),
});
const SESSIONS = new SqlTable<SessionRow>('sessions', {
  id: text('id'),
  owner: text('owner'),
  uploadId: text('upload_id'),
  model: text('model'),
  axis: num('axis'),
  window: optText('window'),
  status: text('status'),
  labelsSha: optText('labels_sha'),
  labelsAt: num('labels_at'),
  createdAt: text('created_at'),
  updatedAt: text('updated_at'),
});
const INTERACTIONS = new SqlTable<InteractionRow>('session_interactions', {
  sessionId: text('session_id'),
  seq: num('seq'),
  kind: text('kind'),
  payload: json('payload'),
  at: text('at'),
});
const OBJECT_NAMES = new SqlTable<ObjectNameRow>('session_object_names', {
  sessionId: text('session_id'),
  objId: num('obj_id'),
  name: text('name'),
  namedAt: num('named_at'),
});
const JOBS = new SqlTable<JobRow>('jobs', { ...JOB_COLUMNS, kind: text('kind'), uploadId: text('upload_id'), model: text('model') });

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

  /** The database once migrated. */
  private async on(): Promise<SqlDb> {
    await this.ready;
    return this.db;
  }

  async createUser(u: UserRow): Promise<void> {
    await USERS.insert(await this.on(), u);
  }
  async userByName(name: string): Promise<UserRow | undefined> {
    return USERS.one(await this.on(), { name });
  }
  async userById(id: string): Promise<UserRow | undefined> {
    return USERS.one(await this.on(), { id });
  }
  async listUsers(): Promise<UserRow[]> {
    return USERS.select(await this.on(), {}, ['createdAt', 'id']);
  }

  async addUpload(u: UploadRow): Promise<void> {
    await UPLOADS.insert(await this.on(), u);
  }
  async upload(id: string): Promise<UploadRow | undefined> {
    return UPLOADS.one(await this.on(), { id });
  }
  async listUploads(owner?: string): Promise<UploadRow[]> {
    return UPLOADS.select(await this.on(), { owner }, ['createdAt', 'id']);
  }
  async refersToBlob(sha256: string): Promise<boolean> {
    const db = await this.on();
    return (
      (await UPLOADS.exists(db, { sha256 })) ||
      (await SESSIONS.exists(db, { labelsSha: sha256 })) ||
      (await JOBS.exists(db, { resultSha: sha256 }))
    );
  }

  async addSession(s: SessionRow): Promise<void> {
    await SESSIONS.insert(await this.on(), s);
  }
  async session(id: string): Promise<SessionRow | undefined> {
    return SESSIONS.one(await this.on(), { id });
  }
  async listSessions(owner?: string, status?: SessionStatus): Promise<SessionRow[]> {
    return SESSIONS.select(await this.on(), { owner, status }, ['createdAt', 'id']);
  }
  async updateSession(id: string, patch: Partial<Pick<SessionRow, 'status' | 'labelsSha' | 'labelsAt'>>): Promise<void> {
    await SESSIONS.update(await this.on(), { ...patch, updatedAt: now() }, { id });
  }
  async appendInteraction(sessionId: string, kind: string, payload: unknown): Promise<number> {
    return (await this.on()).transaction(async (tx) => {
      const seq = await INTERACTIONS.nextSeq(tx, 'seq', { sessionId });
      await INTERACTIONS.insert(tx, { sessionId, seq, kind, payload, at: now() });
      await SESSIONS.update(tx, { updatedAt: now() }, { id: sessionId });
      return seq;
    });
  }
  async interactions(sessionId: string): Promise<InteractionRow[]> {
    return INTERACTIONS.select(await this.on(), { sessionId }, ['seq']);
  }

  async setObjectName(row: ObjectNameRow): Promise<void> {
    await (await this.on()).transaction(async (tx) => {
      const key = { sessionId: row.sessionId, objId: row.objId };
      if ((await OBJECT_NAMES.update(tx, { name: row.name, namedAt: row.namedAt }, key)) === 0) await OBJECT_NAMES.insert(tx, row);
      await SESSIONS.update(tx, { updatedAt: now() }, { id: row.sessionId });
    });
  }
  async objectNames(sessionId: string): Promise<ObjectNameRow[]> {
    return OBJECT_NAMES.select(await this.on(), { sessionId }, ['objId']);
  }

  async addJob(j: JobRow): Promise<void> {
    await JOBS.insert(await this.on(), j);
  }
  async job(id: string): Promise<JobRow | undefined> {
    return JOBS.one(await this.on(), { id });
  }
  async listJobs(
    owner?: string,
    statuses?: readonly JobStatus[],
    filter: { kinds?: readonly JobKind[]; page?: JobPage } = {},
  ): Promise<JobRow[]> {
    // An empty list matches nothing (SqlTable drops an empty IN: it would match everything).
    if ([statuses, filter.kinds].some((v) => v?.length === 0)) return [];
    return JOBS.select(await this.on(), { owner, status: statuses, kind: filter.kinds }, ['createdAt', 'id'], jobPage(filter.page));
  }
  async updateJob(
    id: string,
    patch: Partial<Pick<JobRow, 'status' | 'progress' | 'error' | 'resultSha' | 'result'>>,
    whileStatus?: JobStatus[],
  ): Promise<boolean> {
    return (await JOBS.update(await this.on(), { ...patch, updatedAt: now() }, { id, status: whileStatus })) > 0;
  }

  async close(): Promise<void> {
    await this.ready.catch(() => undefined);
    await this.db.close();
  }
}
