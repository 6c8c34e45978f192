import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MedsamError, errorMessage } from '../common/errors.js';
import { buildServer, type ServerParts } from './app.js';
import type { ServerConfig } from './config.js';
import { pooledSessions } from './sessions/openSession.js';
import { openDb, parseDbSpec } from '../projects/openDb.js';
import { SqlRepository, migrateServer } from './store/sqlRepository.js';

/** Default data folder: $MEDSAM2_HOME/server, else ~/.medsam2/server (beside the model registry). */
export function defaultDataDir(): string {
  return join(process.env.MEDSAM2_HOME ?? join(homedir(), '.medsam2'), 'server');
}

/**
 * The server database: `db` (`sqlite:PATH` or `postgres://…`) when given, else the WAL SQLite file
 * medsam2.sqlite in the data folder; migrated before it is returned.
 */
export async function openRepository(dataDir: string, db?: string): Promise<SqlRepository> {
  const spec = parseDbSpec(db ?? `sqlite:${join(dataDir, 'medsam2.sqlite')}`);
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (e) {
    throw new MedsamError(`cannot create the data folder ${dataDir}: ${errorMessage(e)}`, 'choose a writable --data-dir');
  }
  let sql: Awaited<ReturnType<typeof openDb>>;
  try {
    sql = await openDb(spec);
  } catch (e) {
    if (e instanceof MedsamError) throw e;
    throw new MedsamError(`cannot open the server database in ${dataDir}: ${errorMessage(e)}`, 'choose a writable --data-dir');
  }
  try {
    await migrateServer(sql);
  } catch (e) {
    await sql.close().catch(() => undefined);
    throw new MedsamError(`cannot migrate the server database: ${errorMessage(e)}`, 'check that --db names a medsam2 database');
  }
  return new SqlRepository(sql, true);
}

/** Builds and starts the server; resolves once it listens, with its URL. */
export async function startServer(config: ServerConfig): Promise<ServerParts & { url: string }> {
  const repo = await openRepository(config.dataDir, config.db);
  const { open } = pooledSessions();
  const parts = await buildServer(config, repo, open);
  if (parts.authRequired && (await repo.listUsers()).length === 0) {
    await parts.shutdown();
    throw new MedsamError(
      `binding to ${config.host} requires auth, and ${config.dataDir} has no users`,
      `create one first: medsam2 users add NAME --role admin --data-dir ${config.dataDir}`,
    );
  }
  try {
    await parts.app.listen({ host: config.host, port: config.port });
  } catch (e) {
    await parts.shutdown();
    const code = (e as { code?: string }).code;
    if (code === 'EADDRINUSE')
      throw new MedsamError(`port ${config.port} on ${config.host} is in use`, 'choose another --port (0 picks a free one)');
    throw new MedsamError(`cannot listen on ${config.host}:${config.port}: ${errorMessage(e)}`, 'check --host and --port');
  }
  const addr = parts.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  return { ...parts, url: `http://${host}:${port}` };
}
