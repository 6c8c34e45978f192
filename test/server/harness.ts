import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServer, type ServerParts } from '../../src/server/app.js';
import { createUser } from '../../src/server/auth.js';
import { defaultConfig, type ServerConfig } from '../../src/server/config.js';
import type { OpenSession } from '../../src/server/sessions/sessionManager.js';
import type { Role } from '../../src/server/store/repository.js';
import { openRepository } from '../../src/server/start.js';
import type { SqlRepository } from '../../src/server/store/sqlRepository.js';
import { SqliteRepository } from '../../src/server/store/sqliteRepository.js';
import { ROOT } from '../helpers/cli.js';

export const CT_LESION = join(ROOT, '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz');
export const SHARED_SKIP = existsSync(CT_LESION) ? false : `../shared/data is absent (${CT_LESION})`;

export interface TestServer extends ServerParts {
  url: string;
  dataDir: string;
  repo: SqlRepository;
  /** Creates a user straight in the database and returns its token. */
  user(name: string, role: Role): Promise<string>;
  stop(): Promise<void>;
}

/**
 * A real server listening on a free 127.0.0.1 port, state in a fresh temp folder (or in
 * `patch.dataDir`, e.g. one a test built the way an older version left it; removed by stop()).
 */
export async function startTestServer(
  patch: Partial<Omit<ServerConfig, 'limits'>> & { limits?: Partial<ServerConfig['limits']> } = {},
  open?: OpenSession,
): Promise<TestServer> {
  const dataDir = patch.dataDir ?? mkdtempSync(join(tmpdir(), 'medsam2-server-'));
  const base = defaultConfig(dataDir);
  const config: ServerConfig = {
    ...base,
    ...patch,
    dataDir,
    port: 0,
    host: '127.0.0.1',
    limits: { ...base.limits, ...patch.limits },
    threads: patch.threads ?? 2,
  };
  // --db: the whole server (users, uploads, sessions, jobs, projects) in that database.
  const repo = patch.db ? await openRepository(dataDir, patch.db) : new SqliteRepository(join(dataDir, 'medsam2.sqlite'));
  const opener = open ?? (await import('../../src/server/sessions/openSession.js')).pooledSessions(60_000).open;
  const parts = await buildServer(config, repo, opener);
  await parts.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = parts.app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return {
    ...parts,
    url,
    dataDir,
    repo,
    user: async (name, role) => (await createUser(repo, name, role)).token,
    stop: async () => {
      await parts.shutdown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Res<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/** JSON request helper: `body` is sent as JSON unless it is bytes (then octet-stream). */
export async function call<T = any>(
  url: string,
  method: string,
  path: string,
  opts: { body?: unknown; token?: string; raw?: string; headers?: Record<string, string> } = {},
): Promise<Res<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: RequestInit['body'];
  if (opts.raw !== undefined) {
    body = opts.raw;
    headers['content-type'] ??= 'application/json';
  } else if (opts.body instanceof Uint8Array) {
    body = opts.body;
    headers['content-type'] ??= 'application/octet-stream';
  } else if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers['content-type'] = 'application/json';
  }
  const r = await fetch(url + path, { method, headers, body });
  const type = r.headers.get('content-type') ?? '';
  const out = type.includes('json') ? await r.json() : new Uint8Array(await r.arrayBuffer());
  return { status: r.status, body: out as T, headers: r.headers };
}

/** A 4xx/5xx JSON error has exactly { error, fix? }, one line, no stack. */
export function errorShape(res: Res): string {
  const b = res.body as { error?: unknown; fix?: unknown };
  if (typeof b !== 'object' || b === null || typeof b.error !== 'string') throw new Error(`not an error body: ${JSON.stringify(b)}`);
  if (Object.keys(b).some((k) => k !== 'error' && k !== 'fix')) throw new Error(`extra keys in error body: ${JSON.stringify(b)}`);
  if (/\n|\bat .*\.(ts|js):\d+/.test(b.error)) throw new Error(`multi-line or stack in error: ${b.error}`);
  return b.error;
}

/**
 * The CT-lesion case cut to `half` slices either side of its reference's largest slice (the
 * encoder is the cost: ~1-5 s per slice on a busy 2-core machine), written to `dir`.
 * Returns the path and the key slice in the crop.
 */
export async function croppedLesion(dir: string, half = 2): Promise<{ path: string; key: number; slices: number }> {
  const { readNpzCase } = await import('../../src/io/npzFile.js');
  const { largestSlice } = await import('../../src/pipelines/referencePrompt.js');
  const { cropNpzCase } = await import('../cli/cropCase.js');
  const c = await readNpzCase(CT_LESION);
  const k = largestSlice(c.label!.data as ArrayLike<number>, c.image.dims, 2);
  const z0 = Math.max(0, k - half),
    z1 = Math.min(c.image.dims[2] - 1, k + half);
  const path = join(dir, 'lesion-crop.npz');
  await cropNpzCase(CT_LESION, path, z0, z1);
  return { path, key: k - z0, slices: z1 - z0 + 1 };
}
