import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MedsamError, errorMessage } from '../common/errors.js';
import { buildServer, type ServerParts } from './app.js';
import type { ServerConfig } from './config.js';
import { pooledSessions } from './sessions/openSession.js';
import { SqliteRepository } from './store/sqliteRepository.js';

/** Default data folder: $MEDSAM2_HOME/server, else ~/.medsam2/server (beside the model registry). */
export function defaultDataDir(): string {
  return join(process.env.MEDSAM2_HOME ?? join(homedir(), '.medsam2'), 'server');
}

export function openRepository(dataDir: string): SqliteRepository {
  try {
    mkdirSync(dataDir, { recursive: true });
    return new SqliteRepository(join(dataDir, 'medsam2.sqlite'));
  } catch (e) {
    throw new MedsamError(`cannot open the server database in ${dataDir}: ${errorMessage(e)}`, 'choose a writable --data-dir');
  }
}

/** Builds and starts the server; resolves once it listens, with its URL. */
export async function startServer(config: ServerConfig): Promise<ServerParts & { url: string }> {
  const repo = openRepository(config.dataDir);
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
