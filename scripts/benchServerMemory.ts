/**
 * Memory of `medsam2 serve` as sessions open and close (`node --expose-gc --import tsx
 * scripts/benchServerMemory.ts worker|inprocess|worker-noclicks [sessions]`, one JSON line; run each runtime in its
 * own process: the worker runtime is process-wide). Each session: the CT-lesion case uploaded once,
 * a key box, a propagation over the key ± 2 slices. Measured after a GC: the process RSS (worker
 * threads included) and its thread count (/proc/self/task: an ORT session on a worker is a thread
 * of its own plus ORT's pool). Then half the sessions are closed (DELETE), the rest evicted as idle
 * (SessionManager.sweepIdle), and the model pool's idle release (2 s here, 10 min in the server)
 * lets the model's ORT sessions — and their worker threads, click decoders included — go.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpzCase } from '../src/io/npzFile.js';
import { promptFromReference } from '../src/pipelines/referencePrompt.js';
import { nodePlatform } from '../src/platform/node.js';
import { setPlatform } from '../src/platform/platform.js';
import { buildServer } from '../src/server/app.js';
import { defaultConfig } from '../src/server/config.js';
import { pooledSessions } from '../src/server/sessions/openSession.js';
import { SqliteRepository } from '../src/server/store/sqliteRepository.js';
import { jsonRequest } from './jsonRequest.js';

const CASE = '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz';
const POOL_IDLE_MS = 2000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const json = jsonRequest;

async function sample(): Promise<{ rssMB: number; threads: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 2; i++) {
    gc?.();
    await sleep(200);
  }
  return { rssMB: Math.round(process.memoryUsage().rss / 2 ** 20), threads: readdirSync('/proc/self/task').length };
}

const [mode = 'worker', count = '4'] = process.argv.slice(2);
setPlatform(nodePlatform);
const n = Number(count);
const dataDir = mkdtempSync(join(tmpdir(), 'medsam2-bench-mem-'));
// worker-noclicks: no click-decoder workers, to tell their share (they end with the model's release since session 11).
const config = {
  ...defaultConfig(dataDir),
  threads: 2,
  ortInWorker: mode !== 'inprocess',
  ...(mode === 'worker-noclicks' ? { clickWorkers: 0 } : {}),
};
const server = await buildServer(config, new SqliteRepository(join(dataDir, 'medsam2.sqlite')), pooledSessions(POOL_IDLE_MS).open);
const out: Record<string, { rssMB: number; threads: number }> = {};
try {
  await server.app.listen({ host: '127.0.0.1', port: 0 });
  const addr = server.app.server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const c = await readNpzCase(CASE);
  const p = promptFromReference('key-box', { reference: c.label!.data as ArrayLike<number>, dims: c.image.dims });
  const range = [Math.max(0, p.slice - 2), Math.min(c.image.dims[2] - 1, p.slice + 2)];
  out['server up'] = await sample();
  const up = await json(`${url}/uploads?name=case.npz`, 'POST', undefined, new Uint8Array(readFileSync(CASE)));
  out['uploaded'] = await sample();
  const ids: string[] = [];
  for (let i = 1; i <= n; i++) {
    const ses = await json(`${url}/sessions`, 'POST', { uploadId: up.id });
    await json(`${url}/sessions/${ses.id}/prompts`, 'POST', { objId: 1, slice: p.slice, box: p.box });
    await json(`${url}/sessions/${ses.id}/propagate`, 'POST', { range });
    ids.push(ses.id);
    if ((i & (i - 1)) === 0 || i === n) out[`${i} session(s) open`] = await sample();
  }
  const closed = ids.splice(0, Math.ceil(ids.length / 2));
  for (const id of closed) await json(`${url}/sessions/${id}`, 'DELETE');
  out[`${closed.length} closed (DELETE)`] = await sample();
  const evicted = await server.sessions.sweepIdle(Date.now() + 365 * 86_400_000);
  out[`${evicted} evicted as idle`] = await sample();
  await sleep(POOL_IDLE_MS + 1000);
  out['model pool idle release'] = await sample();
} finally {
  await server.shutdown();
  rmSync(dataDir, { recursive: true, force: true });
}
console.log(JSON.stringify({ mode, ...out }));
