/**
 * Press → "cancelled" on a real `medsam2 serve` (loopback, no auth): per press a new session on the
 * uploaded case, one key box, a propagation over SSE, then — a seeded random time after its first
 * `progress` event — POST /sessions/{id}/cancel; measured from just before that POST until the
 * stream's `cancelled` event, and the POST's own answer time. A fresh session per press, so a press
 * meets slices still to be encoded as a first run does (cancelled runs keep their encodes).
 * Used by the server section of `npm run bench` and on its own for A/B runs against an older
 * checkout (`node --import tsx scripts/benchCancel.ts <case> <key slice> <x0,y0,x1,y1> <presses> [model] [seed]`:
 * one JSON line).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { nodePlatform } from '../src/platform/node.js';
import { setPlatform } from '../src/platform/platform.js';
import { buildServer } from '../src/server/app.js';
import { defaultConfig } from '../src/server/config.js';
import { pooledSessions } from '../src/server/sessions/openSession.js';
import { SqliteRepository } from '../src/server/store/sqliteRepository.js';
import { mulberry32 } from './seededRandom.js';
import { jsonRequest } from './jsonRequest.js';

export interface CancelPress {
  /** ms from just before the cancel POST to the `cancelled` event. */
  pressToCancelled: number;
  /** ms the cancel POST took to answer. */
  postAnswered: number;
  /** ms from the first `progress` event to the press. */
  at: number;
  /** `progress` events seen before the press. */
  progressBefore: number;
  /** The stream's last event (`cancelled`, or `done` when the run ended before the press took). */
  last: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const json = jsonRequest;

export async function measureCancelPresses(o: {
  casePath: string;
  slice: number;
  box: [number, number, number, number];
  presses: number;
  model?: string;
  seed?: number;
  threads?: number;
  /** Press uniformly within this many ms after the first progress event (default 2000). */
  spreadMs?: number;
}): Promise<CancelPress[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'medsam2-bench-cancel-'));
  const config = { ...defaultConfig(dataDir), threads: o.threads ?? 2, ...(o.model ? { models: [o.model] } : {}) };
  const repo = new SqliteRepository(join(dataDir, 'medsam2.sqlite'));
  const server = await buildServer(config, repo, pooledSessions().open);
  const out: CancelPress[] = [];
  try {
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    const addr = server.app.server.address();
    const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const up = await json(`${url}/uploads?name=${basename(o.casePath)}`, 'POST', undefined, new Uint8Array(readFileSync(o.casePath)));
    const rand = mulberry32(o.seed ?? 7);
    for (let i = 0; i < o.presses; i++) {
      const ses = await json(`${url}/sessions`, 'POST', { uploadId: up.id, ...(o.model ? { model: o.model } : {}) });
      await json(`${url}/sessions/${ses.id}/prompts`, 'POST', { objId: 1, slice: o.slice, box: o.box });
      const wait = rand() * (o.spreadMs ?? 2000);
      const res = await fetch(`${url}/sessions/${ses.id}/propagate`, {
        method: 'POST',
        headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
        body: '{}',
      });
      const reader = res.body!.getReader();
      const dec = new TextDecoder();
      let buf = '';
      let progress = 0;
      let firstProgress = 0;
      let press: Promise<{ t0: number; answered: number }> | undefined;
      let last = '';
      let tEnd = 0;
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let k;
        while ((k = buf.indexOf('\n\n')) >= 0) {
          const event = /^event: (.*)$/m.exec(buf.slice(0, k))?.[1] ?? 'message';
          buf = buf.slice(k + 2);
          last = event;
          tEnd = performance.now();
          if (event === 'progress' && progress++ === 0) {
            firstProgress = performance.now();
            press = (async () => {
              await sleep(wait);
              const t0 = performance.now();
              await json(`${url}/sessions/${ses.id}/cancel`, 'POST', {});
              return { t0, answered: performance.now() - t0 };
            })();
          }
        }
      }
      const p = await press;
      if (!p) throw new Error(`the propagation of press ${i} sent no progress (last event ${last})`);
      out.push({
        pressToCancelled: tEnd - p.t0,
        postAnswered: p.answered,
        at: p.t0 - firstProgress,
        progressBefore: progress,
        last,
      });
      await json(`${url}/sessions/${ses.id}`, 'DELETE');
    }
  } finally {
    await server.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}

/** The tiny512 SAM2 stand-in imported into a temp MEDSAM2_HOME, or why not. */
export async function importTiny512(home: string): Promise<{ id: string } | { skip: string }> {
  const dir = resolve(process.env.MEDSAM2_SAM2_FIXTURES ?? '../shared/fixtures/sam2');
  const ckpt = join(dir, 'tiny512_fp16.pt');
  if (!existsSync(ckpt)) return { skip: `no ${ckpt}` };
  process.env.MEDSAM2_HOME = join(home, 'home');
  process.env.MEDSAM2_CACHE_DIR = join(home, 'cache');
  const { importSam2Model } = await import('../src/models/node/importModel.js');
  return { id: (await importSam2Model(ckpt, { config: join(dir, 'tiny512.yaml') })).entry.id };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [casePath, slice, box, presses, model, seed] = process.argv.slice(2);
  const home = mkdtempSync(join(tmpdir(), 'medsam2-bench-cancel-home-'));
  // The model import runs before the server sets the platform (the server then swaps in its worker runtime).
  setPlatform(nodePlatform);
  try {
    let id = model && model !== '-' ? model : undefined;
    if (model === 'tiny512') {
      const t = await importTiny512(home);
      if ('skip' in t) throw new Error(t.skip);
      id = t.id;
    }
    const res = await measureCancelPresses({
      casePath: casePath!,
      slice: Number(slice),
      box: box!.split(',').map(Number) as [number, number, number, number],
      presses: Number(presses ?? 5),
      ...(id ? { model: id } : {}),
      seed: seed ? Number(seed) : undefined,
    });
    console.log(JSON.stringify(res));
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
