/**
 * End-to-end harness for the browser app: Debian's Chromium driven by playwright-core (no browser
 * is ever downloaded), the real `medsam2 serve` on a free 127.0.0.1 port with its state in a temp
 * folder, and the built app (dist/web, built here with Vite when absent).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Box } from '../../src/predictor/prompts.js';
import { createUser } from '../../src/server/auth.js';
import { defaultConfig, type ServerConfig } from '../../src/server/config.js';
import { openRepository, startServer } from '../../src/server/start.js';

// Browser globals inside page functions (this program has no DOM lib: it would retype Node's fetch).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any, localStorage: any;

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHROMIUM = process.env.MEDSAM2_CHROMIUM ?? '/usr/bin/chromium';
export const OUT = join(ROOT, 'test-output/web');
export const CT_LESION = join(ROOT, '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz');
export const CT_ORGANS = join(ROOT, '../shared/data/ct-organs/example_ct_sm.nii.gz');
export const CT_ORGANS_SEG = join(ROOT, '../shared/data/ct-organs/example_ct_sm_seg.nii.gz');

/** Why the e2e tests cannot run here, or false. */
export function skipReason(): string | false {
  if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (.ci/setup.d/40-chromium.sh installs it: apt-get install chromium)`;
  if (!existsSync(CT_LESION)) return `../shared/data is absent (${CT_LESION})`;
  return false;
}

/** Builds the app into dist/web unless both its pages are there (npm ci's prepare builds it). */
export async function ensureWebBuild(): Promise<void> {
  if (['index.html', 'projects.html'].every((f) => existsSync(join(ROOT, 'dist/web', f)))) return;
  const { build } = await import('vite');
  await build({ configFile: join(ROOT, 'vite.config.ts'), root: join(ROOT, 'web'), logLevel: 'warn' });
}

/** What a test file's server must offer the set-up below (`serve()` and the server tests' `startTestServer()` do). */
export interface Stoppable {
  url: string;
  stop(): Promise<void>;
}

/** What a browser test file's set-up hands its tests: the server (replaceable mid-run) and Chromium. */
export interface E2E<S extends Stoppable = Served> {
  /** The file's server; a test that stops it may put another here (the after hook stops both). */
  server: S;
  readonly browser: Browser;
  /** A page on the app (or another of its pages: `path`) on this server, errors collected (`openApp`). */
  open(path?: string): Promise<{ page: Page; errors: string[] }>;
}

export interface SetUpHooks<S extends Stoppable> {
  /** The file's own inputs, before the app is built and the server started. */
  setUp?: () => unknown;
  /** Another server than `serve()` (e.g. the server tests' `startTestServer()`). */
  start?: () => Promise<S>;
  /** After the server and Chromium are up (e.g. users or a project made through the API). */
  ready?: (server: S, browser: Browser) => void | Promise<void>;
  /** Last in the after hook (e.g. removing the file's temp folder); runs even when skipped. */
  tearDown?: () => unknown;
}

/**
 * One server and one Chromium for a browser test file: `hooks.setUp` (the file's own inputs), the
 * app built if absent, the server (`serve()` unless `hooks.start` gives another) and Chromium
 * started in a `before` hook, then `hooks.ready`. Returns the handle the tests read them from
 * (reading it before the hook ran throws). In the `after` hook: Chromium closed (its pages with
 * it), then the server and every other server `serve()` started that still runs, then
 * `hooks.tearDown`. Every server, not only the first: a test may stop the shared server and start
 * a new one (app.test.ts, "the server goes down"); the new one still listening kept the file from
 * ever exiting. When `skip` says why the browser tests cannot run, only `hooks.tearDown` runs.
 * The older form `serverAndBrowser(skip, ready, hooks)` still works.
 */
export function serverAndBrowser<S extends Stoppable = Served>(
  skip: string | false,
  hooksOrReady: SetUpHooks<S> | NonNullable<SetUpHooks<S>['ready']> = {},
  moreHooks: Omit<SetUpHooks<S>, 'ready'> = {},
): E2E<S> {
  const hooks: SetUpHooks<S> = typeof hooksOrReady === 'function' ? { ...moreHooks, ready: hooksOrReady } : hooksOrReady;
  let server: S | undefined;
  let browser: Browser | undefined;
  const unset = (what: string): never => {
    throw new Error(`the browser tests' ${what} is not started: read it inside a test, after serverAndBrowser's before hook`);
  };
  const e2e: E2E<S> = {
    get server(): S {
      return server ?? unset('server');
    },
    set server(s: S) {
      server = s;
    },
    get browser(): Browser {
      return browser ?? unset('Chromium');
    },
    open: (path = '/') => openApp(e2e.browser, e2e.server.url, path),
  };
  before(async () => {
    if (skip) return;
    await hooks.setUp?.();
    await ensureWebBuild();
    server = hooks.start ? await hooks.start() : ((await serve()) as Stoppable as S);
    browser = await launch();
    await hooks.ready?.(server, browser);
  });
  // Each step runs even when the one before it threw: a server left listening keeps the file from exiting.
  after(async () => {
    try {
      await browser?.close();
    } finally {
      try {
        for (const s of new Set<Stoppable | undefined>([server, ...running])) await s?.stop();
      } finally {
        await hooks.tearDown?.();
      }
    }
  });
  return e2e;
}

/** The servers `serve()` started that were not stopped yet (the set-up above stops them all). */
const running = new Set<Served>();

export interface Served {
  url: string;
  /** The server's state folder (removed by stop()). */
  dataDir: string;
  /** Tokens of the users created with `users` (by name). */
  tokens: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * `medsam2 serve` on a free loopback port with its state in a temp folder. `requireAuth` makes it
 * ask for a bearer token (as on a non-loopback bind); `users` are created first (name → role).
 */
export async function serve(
  opts: {
    requireAuth?: boolean;
    users?: Record<string, 'admin' | 'annotator' | 'reviewer' | 'viewer'>;
    /** The PACS project SEGs are sent to (serve --stow-url). */
    dicomweb?: ServerConfig['dicomweb'];
  } = {},
): Promise<Served> {
  const dataDir = mkdtempSync(join(tmpdir(), 'medsam2-web-'));
  const tokens: Record<string, string> = {};
  if (opts.users) {
    const repo = await openRepository(dataDir);
    for (const [name, role] of Object.entries(opts.users)) tokens[name] = (await createUser(repo, name, role)).token;
    await repo.close();
  }
  const s = await startServer({
    ...defaultConfig(dataDir),
    port: 0,
    threads: 2,
    requireAuth: opts.requireAuth ?? false,
    ...(opts.dicomweb ? { dicomweb: opts.dicomweb } : {}),
  });
  let stopped = false;
  const served: Served = {
    url: s.url,
    dataDir,
    tokens,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      running.delete(served);
      await s.shutdown();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  running.add(served);
  return served;
}

/**
 * Headless Chromium on SwiftShader. Its browser and GPU processes run at nice −8 in CI: nothing
 * here sets that; Chromium raises them itself when it runs as root (CI and these VMs), and
 * `nice -n 5` around the test does not stop it (a renice after launch could). Kept: the GPU
 * process is where SwiftShader draws, and every screenshot, waitDrawn() and redraw comparison
 * waits on it; at −8 a draw is not queued behind the model's ORT threads (the server runs in the
 * test's own Node process). Whether the web tests stay inside their bounded waits at nice 0 under
 * the CI's load has not been measured. Its cost is on the model's side (redraws pre-empt
 * inference; BENCHMARKS.md, web section), kept small by the spaced streamed redraws.
 */
export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No GPU here: WebGL2 through SwiftShader so NiiVue renders.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  });
}

/** A page on the app (or another of its pages: `path`) with page errors collected (a test fails on any). */
export async function openApp(browser: Browser, url: string, path = '/'): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, deviceScaleFactor: 1, acceptDownloads: true });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Console errors are kept for failure messages (NiiVue's warnings are noise).
  const logs: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') logs.push(m.text().slice(0, 300));
  });
  (page as Page & { consoleErrors?: string[] }).consoleErrors = logs;
  await page.goto(url + path);
  await ready(page);
  return { page, errors };
}

/** Waits for the app to be wired up (after a load or reload); says why not when it is not. */
export async function ready(page: Page): Promise<void> {
  try {
    await page.waitForSelector('body[data-ready="true"]', { timeout: 90_000 });
  } catch (e) {
    const message = await page.textContent('#message').catch(() => '?');
    const logs = (page as Page & { consoleErrors?: string[] }).consoleErrors ?? [];
    throw new Error(`the app did not start: ${String(e).split('\n')[0]}; message: ${message}; console errors: ${logs.join(' | ')}`);
  }
}

export async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: join(OUT, `${name}.png`) });
}

/**
 * Waits until the status line matches `re` or an error message shows (then fails with it);
 * returns the status line.
 */
export async function waitStatus(page: Page, re: RegExp, timeout = 240_000): Promise<string> {
  await page.waitForFunction(
    (src) =>
      new RegExp(src).test(document.getElementById('status')!.textContent!) ||
      (!document.getElementById('message')!.hidden && document.getElementById('message')!.dataset.kind === 'error'),
    re.source,
    { timeout, polling: 100 },
  );
  const status = (await page.textContent('#status')) ?? '';
  if (!re.test(status)) throw new Error(`the app shows an error instead of /${re.source}/: ${await page.textContent('#message')}`);
  return status;
}

/** Waits until an error message shows; returns its text. */
export async function waitError(page: Page, timeout = 60_000): Promise<string> {
  await page.waitForSelector('#message[data-kind="error"]:not([hidden])', { timeout });
  return (await page.textContent('#message')) ?? '';
}

export type AppHandle = {
  viewer: {
    voxelToClient(x: number, y: number): { x: number; y: number } | undefined;
    voxelToClientOn(x: number, y: number, z: number, view: number): { x: number; y: number } | undefined;
    goToVoxel(x: number, y: number, z: number): void;
    objectStats(id: number): { voxels: number };
    shownLabels(): Uint8Array;
  };
  sendPrompt(p: { slice: number; axis?: number; box?: number[]; replace?: boolean }): Promise<void>;
  lastSync: number[];
  lastSyncMs: number;
};

export async function voxelToClient(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  const p = await page.evaluate(([vx, vy]) => (window.medsam2 as AppHandle).viewer.voxelToClient(vx!, vy!), [x, y]);
  assert.ok(p, `voxel (${x}, ${y}) is not on the axial view`);
  return p;
}

export async function goToSlice(page: Page, z: number): Promise<void> {
  await page.locator('#slice').fill(String(z));
  await page.waitForFunction((want) => document.getElementById('slice-label')!.textContent!.startsWith(`slice ${want} `), z);
}

/** Client position of voxel (x, y, z) on view `view`'s tile (0 axial, 1 coronal, 2 sagittal; the crosshair must be on its plane). */
export async function voxelToClientOn(page: Page, x: number, y: number, z: number, view: number): Promise<{ x: number; y: number }> {
  const p = await page.evaluate(([a, b, c, v]) => (window.medsam2 as AppHandle).viewer.voxelToClientOn(a!, b!, c!, v!), [x, y, z, view]);
  assert.ok(p, `voxel (${x}, ${y}, ${z}) is not on view ${view}`);
  return p;
}

/**
 * Drags from corner (x0, y0) to (x1, y1) with real mouse events: voxel corners on the axial view
 * unless `toClient` maps another view's (or a video frame's) positions to the page.
 */
export async function dragBox(
  page: Page,
  b: Box | readonly number[],
  toClient: (page: Page, x: number, y: number) => Promise<{ x: number; y: number }> = voxelToClient,
): Promise<void> {
  const a = await toClient(page, b[0]!, b[1]!);
  const c = await toClient(page, b[2]!, b[3]!);
  await page.mouse.move(a.x, a.y);
  await page.mouse.down();
  await page.mouse.move((a.x + c.x) / 2, (a.y + c.y) / 2, { steps: 4 });
  await page.mouse.move(c.x, c.y, { steps: 4 });
  await page.mouse.up();
}

/** One object's mask on slice (or frame) k as the server stores it: 0/1, rows × cols (object 1 unless told). */
export async function serverSlice(url: string, session: string, k: number, objId = 1): Promise<{ bits: Uint8Array; cols: number }> {
  const b = (await (await fetch(`${url}/sessions/${session}/slices/${k}`)).json()) as {
    rows: number;
    cols: number;
    objects: { objId: number; mask: { counts: number[] } }[];
  };
  const bits = new Uint8Array(b.rows * b.cols);
  const counts = b.objects.find((o) => o.objId === objId)?.mask.counts ?? [];
  let p = 0;
  counts.forEach((n, i) => {
    if (i % 2) bits.fill(1, p, p + n);
    p += n;
  });
  return { bits, cols: b.cols };
}

/** Waits until the app is not busy, then blanks the status line (so the next waitStatus sees the next action's). */
export async function settle(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.busy === undefined, undefined, { timeout: 120_000 });
  await page.evaluate(() => {
    document.getElementById('status')!.textContent = '…';
  });
}

/** A brush stroke with real mouse events through image positions (`toClient` maps one to the page). */
export async function strokeThrough(
  page: Page,
  pts: { x: number; y: number }[],
  toClient: (page: Page, x: number, y: number) => Promise<{ x: number; y: number }> = voxelToClient,
): Promise<void> {
  const first = await toClient(page, pts[0]!.x, pts[0]!.y);
  await page.mouse.move(first.x, first.y);
  await page.mouse.down();
  for (const q of pts.slice(1)) {
    const c = await toClient(page, q.x, q.y);
    await page.mouse.move(c.x, c.y, { steps: 6 });
  }
  await page.mouse.up();
}
