/**
 * Browser benchmark (`npm run bench -- --only web`): the time from clicking "Propagate" in the app
 * to the last slice shown, against the CLI's time for the same volume and prompt, interleaved in
 * one process (CLI run, browser run, CLI run, …) so machine load hits both alike.
 * - CLI: segmentVolume (what `medsam2 segment --box` runs) with the reference key box, in process
 *   (no Node start-up or model load: the model stays open between runs, as the server's does).
 * - Browser: Debian's Chromium (playwright-core, SwiftShader WebGL) on the built app served by a real
 *   `medsam2 serve`; each run opens the scan (a new session, so every slice is encoded again, as the
 *   CLI does), sends the same box, then clicks Propagate and waits for the app's "propagated" status;
 *   the app's own clock (click → last streamed slice in the overlay) is what is reported, and also
 *   with the box → mask time added (that prompt encodes the key slice, which the CLI's time includes).
 */
import { readFileSync } from 'node:fs';
import type { NpzCase } from '../src/io/npzFile.js';
import { promptFromReference } from '../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../src/pipelines/segmentVolume.js';
import { ensureWebBuild, launch, openApp, serve, waitStatus } from '../test/web/browser.js';

interface Ctx {
  threads: number;
  runs: number;
  casePath: string;
  data: NpzCase;
}

// Browser globals inside page functions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any, window: any;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const webSection = {
  name: 'web',
  description: 'browser app: Propagate → last slice shown vs the CLI, same volume and key box, interleaved, 3 runs each',
  async run(ctx: Ctx): Promise<Record<string, number | string>> {
    const runs = Math.min(ctx.runs, 3);
    const c = ctx.data;
    const ref = Uint8Array.from(c.label!.data as ArrayLike<number>, (v) => (v ? 1 : 0));
    const key = promptFromReference('key-box', { reference: ref, dims: c.image.dims });
    const name = ctx.casePath.split('/').pop()!;
    const bytes = readFileSync(ctx.casePath);
    await ensureWebBuild();
    const server = await serve();
    const browser = await launch();
    const cli: number[] = [],
      app: number[] = [],
      wall: number[] = [],
      prompt: number[] = [];
    try {
      // Warm-up (model open in both; not timed).
      await segmentVolume(c.image, [{ objId: 1, slice: key.slice, box: key.box! }], { threads: ctx.threads });
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        await segmentVolume(c.image, [{ objId: 1, slice: key.slice, box: key.box! }], { threads: ctx.threads });
        cli.push((performance.now() - t0) / 1000);

        const { page } = await openApp(browser, server.url);
        await page.setInputFiles('#file', { name, mimeType: 'application/octet-stream', buffer: bytes });
        await waitStatus(page, /draw a box/, 600_000);
        const tp = performance.now();
        await page.evaluate(([slice, box]) => window.medsam2.sendPrompt({ slice, box, replace: true }), [key.slice, key.box] as const);
        await waitStatus(page, /slice \d+: \d+ px/, 600_000);
        prompt.push((performance.now() - tp) / 1000);
        const t1 = performance.now();
        await page.click('#propagate', { noWaitAfter: true, timeout: 300_000 });
        await waitStatus(page, /propagated in/, 900_000);
        wall.push((performance.now() - t1) / 1000);
        app.push(Number(await page.evaluate(() => document.body.dataset.propagatedMs)) / 1000);
        await page.close();
        process.stdout.write(
          `  run ${i + 1}: CLI ${cli[i]!.toFixed(2)} s, app ${app[i]!.toFixed(2)} s (wall ${wall[i]!.toFixed(2)} s; box→mask before it ${prompt[i]!.toFixed(2)} s)\n`,
        );
      }
    } finally {
      await browser.close();
      await server.stop();
    }
    return {
      runs,
      slices: c.image.dims[2],
      cliSecondsMedian: +median(cli).toFixed(2),
      appPropagateToLastSliceSecondsMedian: +median(app).toFixed(2),
      playwrightWallSecondsMedian: +median(wall).toFixed(2),
      ratioAppOverCli: +(median(app) / median(cli)).toFixed(3),
      // The app's box prompt already encoded the key slice, which the CLI's time includes: the
      // stricter comparison adds the box→mask time to the app's.
      appBoxToMaskSecondsMedian: +median(prompt).toFixed(2),
      ratioAppBoxPlusPropagateOverCli: +(median(app.map((a, i) => a + prompt[i]!)) / median(cli)).toFixed(3),
      cliSeconds: cli.map((x) => x.toFixed(2)).join(' '),
      appSeconds: app.map((x) => x.toFixed(2)).join(' '),
    };
  },
};
