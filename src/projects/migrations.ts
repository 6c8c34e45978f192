import type { SqlDb } from './sqlDb.js';

/**
 * The project schema as numbered SQL migrations, portable between SQLite and PostgreSQL (TEXT,
 * INTEGER, BIGINT, REAL only; JSON kept as TEXT; times as ISO text, interaction times as epoch ms).
 * A tiny runner records applied versions in schema_migrations and applies each new one in its own
 * transaction. Never edit a released migration: append a new one.
 */
export const PROJECT_MIGRATIONS: readonly string[] = [
  `CREATE TABLE projects (
     id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, labels TEXT NOT NULL, model TEXT NOT NULL,
     model_version TEXT NOT NULL, guidelines TEXT NOT NULL, idle_seconds REAL NOT NULL, created_at TEXT NOT NULL);
   CREATE TABLE members (
     project_id TEXT NOT NULL REFERENCES projects(id), name TEXT NOT NULL, role TEXT NOT NULL,
     PRIMARY KEY (project_id, name));
   CREATE TABLE cases (
     id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id), name TEXT NOT NULL, source TEXT NOT NULL,
     round INTEGER NOT NULL, mode TEXT NOT NULL, state TEXT NOT NULL, dims TEXT NOT NULL, spacing TEXT NOT NULL,
     head_version INTEGER NOT NULL, claimed_by TEXT, claim_expires_at TEXT, submitted_by TEXT, reviewed_by TEXT,
     review_comment TEXT, updated_at TEXT NOT NULL, UNIQUE (project_id, name));
   CREATE INDEX cases_state ON cases(project_id, round, state);
   CREATE TABLE label_versions (
     case_id TEXT NOT NULL REFERENCES cases(id), version INTEGER NOT NULL, author_kind TEXT NOT NULL,
     author_name TEXT NOT NULL, author_version TEXT, mask_sha TEXT NOT NULL, voxels INTEGER NOT NULL,
     note TEXT, restored_from INTEGER, created_at TEXT NOT NULL, PRIMARY KEY (case_id, version));
   CREATE TABLE interactions (
     case_id TEXT NOT NULL REFERENCES cases(id), seq INTEGER NOT NULL, user_name TEXT NOT NULL, tool TEXT NOT NULL,
     slice INTEGER, at BIGINT NOT NULL, PRIMARY KEY (case_id, seq));
   CREATE TABLE case_events (
     case_id TEXT NOT NULL REFERENCES cases(id), seq INTEGER NOT NULL, event TEXT NOT NULL, user_name TEXT NOT NULL,
     comment TEXT, at TEXT NOT NULL, PRIMARY KEY (case_id, seq));`,
  // 2: project jobs the server runs in the background (pre-annotation, export), resumed after a restart.
  `CREATE TABLE project_jobs (
     id TEXT PRIMARY KEY, project_id TEXT NOT NULL REFERENCES projects(id), owner TEXT NOT NULL, kind TEXT NOT NULL,
     request TEXT NOT NULL, status TEXT NOT NULL, progress REAL NOT NULL, error TEXT, result_sha TEXT, result TEXT,
     created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
   CREATE INDEX project_jobs_status ON project_jobs(status);`,
];

/**
 * Applies the migrations the database has not seen; returns the schema version. `table` records
 * them: one per list, so the server's tables and the projects' can share a database.
 */
export async function migrate(db: SqlDb, migrations: readonly string[] = PROJECT_MIGRATIONS, table = 'schema_migrations'): Promise<number> {
  if (!/^\w+$/.test(table)) throw new Error(`bad migration table name ${table}`);
  let version = 0;
  for (;;) {
    const applied = await db.transaction(async (tx) => {
      // PostgreSQL: servers starting together migrate one at a time (SQLite: BEGIN IMMEDIATE does it).
      if (tx.dialect === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(120012) AS locked');
      await tx.exec(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`);
      const [row] = await tx.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${table}`);
      version = Number(row?.v ?? 0);
      if (version >= migrations.length) return false;
      await tx.exec(migrations[version]!);
      await tx.run(`INSERT INTO ${table} (version, applied_at) VALUES (?, ?)`, [version + 1, new Date().toISOString()]);
      return true;
    });
    if (!applied) return version;
  }
}
