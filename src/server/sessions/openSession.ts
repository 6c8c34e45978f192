import type { ModelEntry } from '../../models/registry.js';
import type { ModelPool } from '../../session/modelPool.js';
import type { OpenSession } from './sessionManager.js';

/**
 * Sessions on one shared model pool: each model's ORT sessions are opened once per server. The
 * session/model stack is imported on the first session, so the server starts without loading it.
 */
export function pooledSessions(idleMs = 10 * 60_000): { open: OpenSession; pool: () => Promise<ModelPool> } {
  let pool: Promise<ModelPool> | undefined;
  const closed: ((entry: ModelEntry) => void)[] = [];
  const onClose = (entry: ModelEntry) => {
    for (const f of closed) f(entry);
  };
  const getPool = () => (pool ??= import('../../session/modelPool.js').then(({ ModelPool }) => new ModelPool({ idleMs, onClose })));
  const open: OpenSession = async (volume, opts) => {
    const [{ Session }, p] = await Promise.all([import('../../session/session.js'), getPool()]);
    return Session.open(volume, { ...opts, pool: p });
  };
  open.onModelClosed = (listener) => void closed.push(listener);
  return { pool: getPool, open };
}
