import { join } from 'node:path';

const VARS = ['MEDSAM2_HOME', 'MEDSAM2_CACHE_DIR'] as const;

/**
 * Points the model registry (MEDSAM2_HOME → `dir`/home) and the graph cache (MEDSAM2_CACHE_DIR →
 * `dir`/cache) into a test's temp folder, so models it imports never reach the user's own; returns
 * the function that puts both variables back as they were (unset stays unset).
 */
export function useTempModelHome(dir: string): () => void {
  const saved = VARS.map((k) => process.env[k]);
  process.env.MEDSAM2_HOME = join(dir, 'home');
  process.env.MEDSAM2_CACHE_DIR = join(dir, 'cache');
  return () =>
    VARS.forEach((k, i) => {
      if (saved[i] === undefined) delete process.env[k];
      else process.env[k] = saved[i];
    });
}
