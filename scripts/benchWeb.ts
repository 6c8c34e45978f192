/**
 * Browser benchmark (`npm run bench -- --only web`): the time from clicking "Propagate" in the app
 * to the last slice shown, against the CLI's time for the same volume and prompt, interleaved in
 * one process (CLI run, server run, browser run, CLI run, …) so machine load hits all alike.
 * - CLI: segmentVolume (what `medsam2 segment --box` runs) with the reference key box, in process
 *   (no Node start-up; the model files stay cached between runs, as the server's do).
 * - Server without a browser: the same HTTP calls the app makes (upload, session, box prompt,
 *   propagate as an event stream), timed from the propagate request to the stream's end.
 * - Browser: Debian's Chromium (playwright-core, SwiftShader WebGL) on the built app served by a real
 *   `medsam2 serve`; each run opens the scan (a new session, so every slice is encoded again, as the
 *   CLI does), sends the same box, then clicks Propagate and waits for the app's "propagated" status;
 *   the app's own clock (click → last streamed slice drawn) is what is reported, and also with the
 *   box → mask time added (that prompt encodes the key slice, which the CLI's time includes).
 * Wall seconds move with the machine's load, so each run also records CPU seconds (utime + stime
 * from /proc) of this process (the CLI's model, or the server's) and of every Chromium process by
 * type, and the app's own breakdown of its propagation (App.lastPropagation).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { NpzCase } from '../src/io/npzFile.js';
import { promptFromReference } from '../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../src/pipelines/segmentVolume.js';
import { ensureWebBuild, launch, openApp, ROOT, serve, waitStatus } from '../test/web/browser.js';
import type { PropagationTimings } from '../web/src/propagationTimings.js';

interface Ctx {
  threads: number;
  runs: number;
  /** Whether --runs was given (else this section runs 3, not the global default). */
  runsGiven?: boolean;
  casePath: string;
  data: NpzCase;
}

// Browser globals inside page functions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Newest modification time under a folder (ms). */
function newest(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** The built app, rebuilt when web/ changed after it (a stale dist/web would time old code). */
async function freshWebBuild(): Promise<void> {
  const built = join(ROOT, 'dist/web/index.html');
  if (existsSync(built) && newest(join(ROOT, 'web')) > statSync(built).mtimeMs) {
    process.stdout.write('  web/ is newer than dist/web: rebuilding the app\n');
    const { build } = await import('vite');
    await build({ configFile: join(ROOT, 'vite.config.ts'), root: join(ROOT, 'web'), logLevel: 'warn' });
  }
  await ensureWebBuild();
}

/** Linux clock ticks per second (USER_HZ; 100 on every mainstream kernel). */
const TICKS = 100;

/** CPU seconds (user + system) of every live descendant of this process, summed by Chromium process type. */
function childCpu(): Record<string, number> {
  const parent = new Map<number, number>();
  const ticks = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // Fields after "(comm)": state ppid … utime(14) stime(15), counted from 1 over the whole line.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      ticks.set(Number(d), Number(f[11]) + Number(f[12]));
    } catch {
      /* exited meanwhile */
    }
  }
  const out: Record<string, number> = {};
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, pp] of parent)
      if (!mine.has(pid) && mine.has(pp)) {
        mine.add(pid);
        grew = true;
      }
  }
  for (const pid of mine) {
    if (pid === process.pid) continue;
    let kind = 'browser';
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/chrom/i.test(cmd)) continue;
      kind = /--type=([a-z-]+)/.exec(cmd)?.[1] ?? 'browser';
      if (kind === 'utility') kind = /--utility-sub-type=[\w.]*?(\w+)\b/.exec(cmd)?.[1] ?? 'utility';
    } catch {
      continue;
    }
    out[kind] = (out[kind] ?? 0) + ticks.get(pid)! / TICKS;
  }
  return out;
}

/** This process's CPU seconds (all threads: ORT's pool, the click-decoder workers, HTTP). */
function ownCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** CPU seconds spent during `work`: this process and each Chromium process type. */
async function cpuOf<T>(work: () => Promise<T>): Promise<{ out: T; own: number; chromium: Record<string, number> }> {
  const own0 = ownCpu();
  const ch0 = childCpu();
  const out = await work();
  const own = ownCpu() - own0;
  const ch1 = childCpu();
  const chromium: Record<string, number> = {};
  for (const [k, v] of Object.entries(ch1)) chromium[k] = v - (ch0[k] ?? 0);
  return { out, own, chromium };
}

/** The app's calls without a browser: upload, session, box, then propagate (event stream) timed to its end. */
async function serverRun(
  url: string,
  bytes: Uint8Array,
  name: string,
  slice: number,
  box: readonly number[],
): Promise<{ seconds: number; serverSeconds: number }> {
  const json = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(url + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
    return r.json() as Promise<Record<string, unknown>>;
  };
  const up = await fetch(`${url}/uploads?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  if (!up.ok) throw new Error(`upload: ${up.status} ${await up.text()}`);
  const { id: uploadId } = (await up.json()) as { id: string };
  const { id } = (await json('POST', '/sessions', { uploadId })) as { id: string };
  await json('POST', `/sessions/${id}/prompts`, { objId: 1, slice, box, replace: true });
  const t0 = performance.now();
  const r = await fetch(`${url}/sessions/${id}/propagate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: '{}',
  });
  const text = await r.text();
  const seconds = (performance.now() - t0) / 1000;
  const done = /event: done\ndata: (.*)\n/.exec(text);
  if (!done) throw new Error(`the server's propagation did not finish: ${text.slice(-300)}`);
  await fetch(`${url}/sessions/${id}`, { method: 'DELETE' });
  return { seconds, serverSeconds: (JSON.parse(done[1]!) as { seconds: number }).seconds };
}

const f2 = (x: number) => x.toFixed(2);
const cpuLine = (c: Record<string, number>) =>
  Object.entries(c)
    .filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${f2(v)}`)
    .join(', ');

export const webSection = {
  name: 'web',
  description:
    'browser app: Propagate → last slice shown vs the CLI (and the server without a browser), same volume and key box, interleaved, 3 runs each unless --runs',
  async run(ctx: Ctx): Promise<Record<string, number | string>> {
    const runs = ctx.runsGiven ? ctx.runs : 3;
    const c = ctx.data;
    const ref = Uint8Array.from(c.label!.data as ArrayLike<number>, (v) => (v ? 1 : 0));
    const key = promptFromReference('key-box', { reference: ref, dims: c.image.dims });
    const name = ctx.casePath.split('/').pop()!;
    const bytes = readFileSync(ctx.casePath);
    await freshWebBuild();
    const server = await serve();
    const browser = await launch();
    const cli: number[] = [],
      cliCpu: number[] = [],
      srv: number[] = [],
      srvCpu: number[] = [],
      app: number[] = [],
      appServerCpu: number[] = [],
      appChromiumCpu: number[] = [],
      wall: number[] = [],
      prompt: number[] = [],
      redraw2d: number[] = [],
      redraw3d: number[] = [],
      redrawSlice: number[] = [],
      scene2dOnly: number[] = [];
    const timings: PropagationTimings[] = [];
    const chromiumByType: Record<string, number[]> = {};
    try {
      // Warm-up (model open in both; not timed).
      await segmentVolume(c.image, [{ objId: 1, slice: key.slice, box: key.box! }], { threads: ctx.threads });
      for (let i = 0; i < runs; i++) {
        const cl = await cpuOf(async () => {
          const t0 = performance.now();
          await segmentVolume(c.image, [{ objId: 1, slice: key.slice, box: key.box! }], { threads: ctx.threads });
          return (performance.now() - t0) / 1000;
        });
        cli.push(cl.out);
        cliCpu.push(cl.own);

        // The server's CPU time here includes its upload, session and box prompt (one slice encoded).
        const sr = await cpuOf(() => serverRun(server.url, bytes, name, key.slice, key.box!));
        srv.push(sr.out.seconds);
        srvCpu.push(sr.own);

        const { page } = await openApp(browser, server.url);
        await page.setInputFiles('#file', { name, mimeType: 'application/octet-stream', buffer: bytes });
        await waitStatus(page, /draw a box/, 600_000);
        const tp = performance.now();
        await page.evaluate(([slice, box]) => window.medsam2.sendPrompt({ slice, box, replace: true }), [key.slice, key.box] as const);
        await waitStatus(page, /slice \d+: \d+ px/, 600_000);
        prompt.push((performance.now() - tp) / 1000);
        const ap = await cpuOf(async () => {
          const t1 = performance.now();
          await page.click('#propagate', { noWaitAfter: true, timeout: 300_000 });
          await waitStatus(page, /propagated in/, 900_000);
          return (performance.now() - t1) / 1000;
        });
        wall.push(ap.out);
        appServerCpu.push(ap.own);
        appChromiumCpu.push(Object.values(ap.chromium).reduce((a, b) => a + b, 0));
        for (const [k, v] of Object.entries(ap.chromium)) (chromiumByType[k] ??= []).push(v);
        const tm = (await page.evaluate(() => window.medsam2.lastPropagation)) as PropagationTimings;
        timings.push(tm);
        app.push(tm.shownMs / 1000);
        // What one redraw costs Chromium, measured alone after the run: a 2D overlay refresh (as
        // while streaming, 3D render held) and a full one with the 3D render.
        const draw2d = await cpuOf(() =>
          page.evaluate(() => {
            const v = window.medsam2.viewer;
            (window as unknown as { release3d: () => void }).release3d = v.hold3d();
            const t = performance.now();
            v.refreshOverlayNow();
            return performance.now() - t;
          }),
        );
        // The same 2D redraw after one slice changed, as streamed redraws do it (only that slice's
        // labels uploaded and re-oriented: Viewer.refreshSlices), held against the full one above.
        const drawSlice = await cpuOf(() =>
          page.evaluate((z) => {
            const v = window.medsam2.viewer;
            v.setSliceMask(1, z, v.sliceMask(1, z));
            const t = performance.now();
            v.refreshOverlayNow(true);
            return performance.now() - t;
          }, key.slice),
        );
        const scene2d = await cpuOf(() =>
          page.evaluate(() => {
            const v = window.medsam2.viewer;
            const t = performance.now();
            v.nv.drawScene();
            v.waitDrawn();
            return performance.now() - t;
          }),
        );
        const draw3d = await cpuOf(() =>
          page.evaluate(() => {
            const v = window.medsam2.viewer;
            const t = performance.now();
            (window as unknown as { release3d: () => void }).release3d();
            v.waitDrawn();
            return performance.now() - t;
          }),
        );
        const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
        redraw2d.push(sum(draw2d.chromium));
        redrawSlice.push(sum(drawSlice.chromium));
        scene2dOnly.push(sum(scene2d.chromium));
        redraw3d.push(sum(draw3d.chromium));
        await page.close();
        process.stdout.write(
          `  run ${i + 1}: CLI ${f2(cli[i]!)} s (cpu ${f2(cliCpu[i]!)}) | server alone ${f2(srv[i]!)} s (cpu ${f2(srvCpu[i]!)} incl. upload+box) | ` +
            `app ${f2(app[i]!)} s (wall ${f2(wall[i]!)}; box→mask before it ${f2(prompt[i]!)} s; server's own ${f2(tm.serverSeconds ?? Number.NaN)} s)\n` +
            `         app cpu: server ${f2(ap.own)}, chromium ${cpuLine(ap.chromium)} | page: ${tm.masks} masks, last at ${f2(tm.lastMaskMs / 1000)} s, ` +
            `apply ${Math.round(tm.applyMs)} ms, ${tm.refreshes} redraws ${Math.round(tm.refreshMs)} ms, final 2D ${Math.round(tm.finalDrawMs)} ms, ` +
            `3D ${Math.round(tm.render3dMs)} ms, session ${Math.round(tm.sessionMs)} ms\n` +
            `         one redraw alone: 2D ${Math.round(draw2d.out)} ms (chromium cpu ${f2(redraw2d[i]!)} s; of which the tiles alone ${Math.round(scene2d.out)} ms, cpu ${f2(scene2dOnly[i]!)} s), ` +
            `2D after one slice changed ${Math.round(drawSlice.out)} ms (cpu ${f2(redrawSlice[i]!)} s), with 3D ${Math.round(draw3d.out)} ms (cpu ${f2(redraw3d[i]!)} s); ` +
            `streamed redraws ${tm.sliceUploads ?? '?'} by slice, ${tm.fullUploads ?? '?'} whole\n`,
        );
      }
    } finally {
      await browser.close();
      await server.stop();
    }
    const med = (k: keyof PropagationTimings) => median(timings.map((t) => Number(t[k] ?? Number.NaN)));
    return {
      runs,
      slices: c.image.dims[2],
      cliSecondsMedian: +f2(median(cli)),
      appPropagateToLastSliceSecondsMedian: +f2(median(app)),
      ratioAppOverCli: +(median(app) / median(cli)).toFixed(3),
      // The app's box prompt already encoded the key slice, which the CLI's time includes: the
      // stricter comparison adds the box→mask time to the app's.
      appBoxToMaskSecondsMedian: +f2(median(prompt)),
      ratioAppBoxPlusPropagateOverCli: +(median(app.map((a, i) => a + prompt[i]!)) / median(cli)).toFixed(3),
      serverAloneSecondsMedian: +f2(median(srv)),
      ratioServerAloneOverCli: +(median(srv) / median(cli)).toFixed(3),
      playwrightWallSecondsMedian: +f2(median(wall)),
      cliCpuSecondsMedian: +f2(median(cliCpu)),
      appServerCpuSecondsMedian: +f2(median(appServerCpu)),
      appChromiumCpuSecondsMedian: +f2(median(appChromiumCpu)),
      appChromiumCpuByTypeMedian: Object.entries(chromiumByType)
        .map(([k, v]) => `${k} ${f2(median(v))}`)
        .join(', '),
      chromiumCpuSecondsPerRedraw2dMedian: +f2(median(redraw2d)),
      chromiumCpuSecondsPerRedraw2dOneSliceMedian: +f2(median(redrawSlice)),
      chromiumCpuSecondsPer2dTilesOnlyMedian: +f2(median(scene2dOnly)),
      chromiumCpuSecondsPerRedraw3dMedian: +f2(median(redraw3d)),
      appPageMedianMs: `last mask ${Math.round(med('lastMaskMs'))}, apply ${Math.round(med('applyMs'))}, redraws ${med('refreshes')} / ${Math.round(med('refreshMs'))}, final 2D ${Math.round(med('finalDrawMs'))}, 3D ${Math.round(med('render3dMs'))}, session ${Math.round(med('sessionMs'))}`,
      cliSeconds: cli.map(f2).join(' '),
      serverAloneSeconds: srv.map(f2).join(' '),
      appSeconds: app.map(f2).join(' '),
    };
  },
};
