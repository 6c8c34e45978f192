import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { MedsamError } from '../common/errors.js';
import type { SqlDb } from './sqlDb.js';

/** `sqlite:PATH` (or a bare path) → SQLite file; `postgres://…` / `postgresql://…` → PostgreSQL. */
export type DbSpec = { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string };

export function parseDbSpec(text: string): DbSpec {
  if (/^postgres(ql)?:\/\//i.test(text)) return { kind: 'postgres', url: text };
  const path = text.startsWith('sqlite:') ? text.slice('sqlite:'.length) : text;
  if (!path || /^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    throw new MedsamError(
      `--db '${text}' is neither sqlite:PATH nor postgres://…`,
      'use --db sqlite:project.db or --db postgres://user@host:port/dbname',
    );
  }
  return { kind: 'sqlite', path: resolve(path) };
}

/** Opens the database the spec names (drivers are loaded only when used). */
export async function openDb(spec: DbSpec): Promise<SqlDb> {
  if (spec.kind === 'sqlite') {
    const dir = dirname(spec.path);
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new MedsamError(`cannot open ${spec.path}: folder ${dir} does not exist`, 'create the folder or choose another --db path');
    const { SqliteDb } = await import('./sqliteDb.js');
    return new SqliteDb(spec.path);
  }
  const { PostgresDb } = await import('./postgresDb.js');
  const db = new PostgresDb(spec.url);
  try {
    await db.query('SELECT 1');
  } catch (e) {
    await db.close().catch(() => undefined);
    const safe = spec.url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
    throw new MedsamError(
      `cannot connect to ${safe}: ${(e as Error).message}`,
      'check that PostgreSQL runs there and the user, password and database are right',
    );
  }
  return db;
}
