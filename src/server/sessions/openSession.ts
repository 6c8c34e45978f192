import { ModelPool } from '../../session/modelPool.js';
import { Session } from '../../session/session.js';
import type { OpenSession } from './sessionManager.js';

/** Sessions on one shared model pool: each model's ORT sessions are opened once per server. */
export function pooledSessions(idleMs = 10 * 60_000): { open: OpenSession; pool: ModelPool } {
  const pool = new ModelPool({ idleMs });
  return { pool, open: (volume, opts) => Session.open(volume, { ...opts, pool }) };
}
