/**
 * Seeded mutation fuzzer over every reader: damages small valid inputs (scripts/fuzz/readerSeeds.ts,
 * and video files made by ffmpeg, scripts/fuzz/videoSeeds.ts)
 * in seeded ways (scripts/fuzz/mutations.ts), reads each under small read limits, and classifies the
 * outcome (scripts/fuzz/runCase.ts): ok, a clear MedsamError, or a finding (any other error, an ok
 * read with impossible geometry, a slow read, a hang, a crash of the reading thread).
 * Cases run in a worker thread under a heap cap, watched by this thread: a case that passes
 * --timeout-ms is a hang (the worker is ended and a fresh one goes on with the next case).
 *
 *   node --import tsx scripts/fuzzReaders.ts --seed 1 --cases 2000 [--formats nifti,npz,video] [--timeout-ms 20000]
 *
 * Prints one line per finding (case index, format, mutation, first line of the error) and a
 * summary per format; exits 1 when there are findings. A case is rebuilt from (seed, index) alone.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { readerSeeds } from './fuzz/readerSeeds.js';
import { videoSeeds } from './fuzz/videoSeeds.js';
import { caseInput, runCase, type CaseResult } from './fuzz/runCase.js';

interface Job {
  runSeed: number;
  from: number;
  to: number;
  formats?: string[];
}

async function seedsFor(formats?: string[]) {
  // Video seeds (videoSeeds.ts) last: a run from before they were added (same seed and index) is
  // rebuilt with --formats nifti,nrrd,metaimage,npz,png,jpeg,dicom (the earlier seeds, in order).
  const all = [...(await readerSeeds()), ...(await videoSeeds())];
  return formats ? all.filter((s) => formats.some((f) => s.format.startsWith(f))) : all;
}

async function workerMain(job: Job): Promise<void> {
  const seeds = await seedsFor(job.formats);
  for (let i = job.from; i < job.to; i++) {
    parentPort!.postMessage({ start: i });
    parentPort!.postMessage({ result: await runCase(seeds, job.runSeed, i) });
  }
  parentPort!.postMessage({ done: true });
}

function arg(name: string, fallback?: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const runSeed = Number(arg('seed', '1'));
  const cases = Number(arg('cases', '1000'));
  const timeoutMs = Number(arg('timeout-ms', '20000'));
  const formats = arg('formats')?.split(',');
  const seeds = await seedsFor(formats);
  if (!seeds.length) throw new Error(`no seeds for formats ${formats}`);
  console.log(
    `fuzzReaders: seed ${runSeed}, ${cases} cases, ${seeds.length} seeds (${[...new Set(seeds.map((s) => s.format))].join(', ')})`,
  );
  const results: CaseResult[] = [];
  let next = 0;
  const t0 = performance.now();
  while (next < cases) {
    await new Promise<void>((resolve) => {
      // tsx's loader is not inherited by a worker: register it there first (as src/platform/siblingWorker.ts does).
      const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); });`;
      const w = new Worker(boot, {
        eval: true,
        execArgv: [],
        workerData: { runSeed, from: next, to: cases, formats } satisfies Job,
        resourceLimits: { maxOldGenerationSizeMb: 1024 },
      });
      let current = -1;
      let timer: NodeJS.Timeout | undefined;
      const fail = (detail: string): void => {
        clearTimeout(timer);
        const c = caseInput(seeds, runSeed, current);
        results.push({ index: current, format: c.seed.format, outcome: 'finding', what: c.what, detail, ms: NaN });
        console.log(`finding #${current} [${c.seed.format}] ${c.what}\n    ${detail}`);
        next = current + 1;
      };
      w.on('message', (m: { start?: number; result?: CaseResult; done?: boolean }) => {
        if (m.start !== undefined) {
          current = m.start;
          timer = setTimeout(() => {
            fail(`hang: no result after ${timeoutMs} ms`);
            void w.terminate();
          }, timeoutMs);
        } else if (m.result) {
          clearTimeout(timer);
          results.push(m.result);
          next = m.result.index + 1;
          if (m.result.outcome === 'finding')
            console.log(`finding #${m.result.index} [${m.result.format}] ${m.result.what}\n    ${m.result.detail}`);
          if (results.length % 1000 === 0) console.log(`  ${results.length} cases, ${Math.round((performance.now() - t0) / 1000)} s`);
        } else if (m.done) next = cases;
      });
      w.on('error', (e) => {
        if (current < 0) throw e;
        fail(`worker crashed: ${e.name}: ${e.message.split('\n')[0]}`);
      });
      w.on('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  const byFormat = new Map<string, CaseResult[]>();
  for (const r of results) byFormat.set(r.format, [...(byFormat.get(r.format) ?? []), r]);
  console.log(
    `\n${'format'.padEnd(20)} ${'cases'.padStart(6)} ${'ok'.padStart(6)} ${'clear'.padStart(6)} ${'findings'.padStart(8)}  first findings`,
  );
  for (const [f, rs] of [...byFormat].sort()) {
    const count = (o: string) => rs.filter((r) => r.outcome === o).length;
    const firsts = [...new Set(rs.filter((r) => r.outcome === 'finding').map((r) => r.detail))].slice(0, 3);
    console.log(
      `${f.padEnd(20)} ${String(rs.length).padStart(6)} ${String(count('ok')).padStart(6)} ${String(count('clear')).padStart(6)} ${String(count('finding')).padStart(8)}  ${firsts.join(' | ')}`,
    );
  }
  const findings = results.filter((r) => r.outcome === 'finding').length;
  console.log(`\n${results.length} cases in ${Math.round((performance.now() - t0) / 1000)} s: ${findings} findings`);
  process.exitCode = findings ? 1 : 0;
}

if (isMainThread) await main();
else await workerMain(workerData as Job);
