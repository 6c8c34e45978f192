/**
 * Server benchmark (`npm run bench -- --only server`): a real `medsam2 serve` on a random loopback
 * port, driven over HTTP by simulated users (bounded request loops, then it stops).
 * - time to first mask for a new upload: upload + session + first box → mask, cold (the model is
 *   opened by that request) and with the model already open;
 * - click → mask latency (p50/p95) on sessions whose key-slice features are cached, with 1, 4 and
 *   16 concurrent users, each on its own session, clicking a point on the key slice in turn.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NpzCase } from '../src/io/npzFile.js';
import { promptFromReference } from '../src/pipelines/referencePrompt.js';
import { buildServer } from '../src/server/app.js';
import { createUser } from '../src/server/auth.js';
import { defaultConfig } from '../src/server/config.js';
import { pooledSessions } from '../src/server/sessions/openSession.js';
import { SqliteRepository } from '../src/server/store/sqliteRepository.js';

interface Ctx {
  threads: number;
  runs: number;
  casePath: string;
  data: NpzCase;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

async function post(url: string, path: string, token: string, body: unknown, bytes?: Uint8Array): Promise<any> {
  const r = await fetch(url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': bytes ? 'application/octet-stream' : 'application/json' },
    body: bytes ?? JSON.stringify(body),
  });
  const j = await r.json();
  if (r.status >= 300) throw new Error(`${path}: ${r.status} ${JSON.stringify(j)}`);
  return j;
}

export const serverSection = {
  name: 'server',
  description: 'medsam2 serve on loopback (default model): time to first mask, click→mask p50/p95 with 1/4/16 users',
  async run(ctx: Ctx): Promise<Record<string, number | string>> {
    const { image, label } = ctx.data;
    if (!label) throw new Error(`${ctx.casePath} has no gts to build the key-slice prompt from`);
    const prompt = promptFromReference('key-box', { reference: label.data as ArrayLike<number>, dims: image.dims });
    const [x0, y0, x1, y1] = prompt.box!;
    const bytes = new Uint8Array(readFileSync(ctx.casePath));
    const dataDir = mkdtempSync(join(tmpdir(), 'medsam2-bench-server-'));
    const config = { ...defaultConfig(dataDir), requireAuth: true, threads: ctx.threads };
    config.limits = { ...config.limits, maxSessionsPerUser: 4, expensivePerMinute: 100_000 };
    const repo = new SqliteRepository(join(dataDir, 'medsam2.sqlite'));
    const server = await buildServer(config, repo, pooledSessions().open);
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = server.app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const out: Record<string, number | string> = {};
    try {
      const tokens: string[] = [];
      for (let i = 0; i < 16; i++) tokens.push((await createUser(repo, `user${i}`, 'annotator')).token);

      const firstMask = async (token: string) => {
        const t = performance.now();
        const up = await post(url, `/uploads?name=case.npz`, token, undefined, bytes);
        const ses = await post(url, '/sessions', token, { uploadId: up.id });
        await post(url, `/sessions/${ses.id}/prompts`, token, { objId: 1, slice: prompt.slice, box: prompt.box });
        return { ms: performance.now() - t, session: ses.id as string };
      };
      const cold = await firstMask(tokens[0]!);
      out['first mask, new upload, cold model (ms)'] = Math.round(cold.ms);
      const warm = await firstMask(tokens[1]!);
      out['first mask, new upload, model open (ms)'] = Math.round(warm.ms);

      // One session per user, key slice encoded once (its features cached).
      const sessions = [cold.session, warm.session];
      for (let i = 2; i < 16; i++) sessions.push((await firstMask(tokens[i]!)).session);

      for (const users of [1, 4, 16]) {
        const clicksPerUser = Math.max(3, Math.round((ctx.runs * 8) / users));
        const lat: number[] = [];
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: users }, async (_, u) => {
            for (let k = 0; k < clicksPerUser; k++) {
              // A foreground click inside the box, moving a little each time (a user refining).
              const x = Math.round(x0 + (x1 - x0) * (0.3 + (0.4 * ((k * 7 + u) % 10)) / 10));
              const y = Math.round(y0 + (y1 - y0) * (0.3 + (0.4 * ((k * 3 + u) % 10)) / 10));
              const t = performance.now();
              await post(url, `/sessions/${sessions[u]}/prompts`, tokens[u]!, {
                objId: 1,
                slice: prompt.slice,
                box: prompt.box,
                points: [{ x, y, label: 1 }],
                replace: true,
              });
              lat.push(performance.now() - t);
            }
          }),
        );
        const wall = (performance.now() - t0) / 1000;
        out[`click→mask ${users} user${users > 1 ? 's' : ''} p50 (ms)`] = Math.round(pct(lat, 50));
        out[`click→mask ${users} user${users > 1 ? 's' : ''} p95 (ms)`] = Math.round(pct(lat, 95));
        out[`clicks/s with ${users} user${users > 1 ? 's' : ''}`] = +(lat.length / wall).toFixed(1);
      }
      out['peak RSS MB (process so far)'] = Math.round(process.resourceUsage().maxRSS / 1024);
      return out;
    } finally {
      await server.shutdown();
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
};
