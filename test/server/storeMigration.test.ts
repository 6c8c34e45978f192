import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { ProjectService } from '../../src/projects/projectService.js';
import { openRepository } from '../../src/server/start.js';
import { SERVER_MIGRATIONS } from '../../src/server/store/sqlRepository.js';
import { SqliteRepository } from '../../src/server/store/sqliteRepository.js';

/**
 * The one database layer: a server database written by the previous store (better-sqlite3
 * directly, PRAGMA user_version = 1, the session log in `interactions`) opens with every row
 * intact (its jobs given their kind: a video job's from its request), and the project tables then
 * fit in the same file beside the server's.
 */

const dir = mkdtempSync(join(tmpdir(), 'medsam2-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The schema the server shipped before this layer (its migration 1, verbatim). */
const LEGACY = `CREATE TABLE users (
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
   CREATE INDEX jobs_status ON jobs(status);`;

test('a server database from the previous store is adopted in place, then holds the projects too', async () => {
  const file = join(dir, 'medsam2.sqlite');
  const t = '2026-01-01T00:00:00.000Z';
  const old = new Database(file);
  old.pragma('journal_mode = WAL');
  old.exec(LEGACY);
  old.pragma('user_version = 1');
  old.prepare('INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)').run('00112233aabbccdd', 'alice', 'annotator', 'ab', 'cd', t);
  old
    .prepare('INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
    .run('u1', 'alice', 'f'.repeat(64), 'a.nii.gz', 'nifti', 12, '[2,2,2]', '[1,1,1]', null, t);
  old
    .prepare('INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
    .run('s1', 'alice', 'u1', 'minisam', 2, '-100,200', 'open', null, 0, t, t);
  old.prepare('INSERT INTO interactions VALUES (?, ?, ?, ?, ?)').run('s1', 1, 'prompt', '{"objId":1,"slice":0,"box":[0,0,1,1]}', t);
  // Two jobs of the old store: a volume's and a video's (told apart by the request alone then).
  const job = old.prepare('INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  job.run('j1', 'alice', 'u1', 'minisam', '{"uploadId":"u1","policy":"key-box"}', 'done', 1, null, null, null, t, t);
  job.run('j2', 'alice', 'u1', 'minisam', '{"uploadId":"u1","prompts":[],"video":true}', 'running', 0, null, null, null, t, t);
  old.close();

  const repo = await openRepository(dir);
  try {
    assert.equal((await repo.userByName('alice'))?.role, 'annotator');
    const s = await repo.session('s1');
    assert.equal(s?.window, '-100,200');
    assert.deepEqual(
      (await repo.interactions('s1')).map((i) => [i.seq, i.kind, i.payload]),
      [[1, 'prompt', { objId: 1, slice: 0, box: [0, 0, 1, 1] }]],
    );
    assert.equal(await repo.appendInteraction('s1', 'undo', {}), 2);
    // The jobs got their kind as a column (GET /jobs?kind= filters on it), and list by it, by status and in pages.
    assert.deepEqual(
      (await repo.listJobs()).map((j) => [j.id, j.kind]),
      [
        ['j1', 'segment'],
        ['j2', 'segment-video'],
      ],
    );
    assert.deepEqual(
      (await repo.listJobs(undefined, undefined, { kinds: ['segment-video'] })).map((j) => j.id),
      ['j2'],
    );
    assert.deepEqual(
      (await repo.listJobs('alice', ['done'], { kinds: ['segment-video'] })).map((j) => j.id),
      [],
    );
    const page = { limit: 1, before: { createdAt: t, id: 'j2' } };
    assert.deepEqual(
      [
        (await repo.listJobs(undefined, undefined, { page: { limit: 1 } }))[0]?.id,
        (await repo.listJobs(undefined, undefined, { page }))[0]?.id,
      ],
      ['j2', 'j1'],
      'pages newest first, then older than the last one',
    );
    // The projects' own tables (their `interactions` among them) fit in the same database.
    const svc = await ProjectService.onDb(repo.db, join(dir, 'masks'));
    const p = await svc.createProject({
      name: 'p',
      labels: [{ value: 1, name: 'lesion', colour: '#ff0000', code: null }],
      model: 'minisam',
    });
    assert.equal((await svc.project('p')).id, p.id);
    await svc.close();
    assert.equal((await repo.interactions('s1')).length, 2, 'closing the projects leaves the shared database open');
  } finally {
    await repo.close();
  }
  // Opened again (as the default SqliteRepository): nothing is migrated twice.
  const again = new SqliteRepository(file);
  try {
    assert.equal((await again.listUsers()).length, 1);
    const [row] = await again.db.query<{ v: number }>('SELECT MAX(version) AS v FROM server_migrations');
    assert.equal(Number(row!.v), SERVER_MIGRATIONS.length);
  } finally {
    await again.close();
  }
});

test('--db names a database that cannot be opened: one clear error', async () => {
  await assert.rejects(openRepository(dir, 'mysql://x'), /neither sqlite:PATH nor postgres/);
  await assert.rejects(
    openRepository(dir, 'postgres://nobody@127.0.0.1:1/none'),
    /cannot connect to postgres:\/\/nobody@127\.0\.0\.1:1\/none/,
  );
});
