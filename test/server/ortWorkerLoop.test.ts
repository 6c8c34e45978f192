import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import { readVolume } from '../../src/io/readVolume.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { getPlatform, setPlatform } from '../../src/platform/platform.js';
import { workerOrtRunsInFlight, workerOrtRuntime } from '../../src/platform/nodeWorkerOrt.js';
import { ROOT } from '../helpers/cli.js';
import { call, startTestServer } from './harness.js';
import { readSse } from './sse.js';

const ORGAN = join(ROOT, '../shared/data/ct-organs/example_ct_sm.nii.gz');
const ORGAN_SEG = join(ROOT, '../shared/data/ct-organs/example_ct_sm_seg.nii.gz');
/** TotalSegmentator label 5 (liver): on all 30 slices; the propagation covers the key slice ± 4 (8 slice steps). */
const LIVER = 5;
const REACH = 4;
const skip = !existsSync(ORGAN) && `../shared/data/ct-organs is absent (${ORGAN})`;
/** The in-process run only measures (BENCHMARKS.md); it doubles the file's time, so it is opt-in. */
const COMPARE = process.env.MEDSAM2_LOOP_COMPARE === '1';

/**
 * onnxruntime-node runs a session synchronously on the calling thread; the server runs its
 * sessions on worker threads (src/platform/nodeWorkerOrt.ts) so a propagation's model calls
 * leave the event loop free. Shown by ordering, not by milliseconds: while a propagation runs,
 * GET /healthz is answered while a model run is in flight on a worker, and before the
 * propagation ends. The event loop's delay in this process (the server runs in it) is reported.
 */
describe('medsam2 serve: model calls leave the event loop', { skip }, () => {
  for (const ortInWorker of [true, false]) {
    it(`answers requests during a propagation (ORT ${ortInWorker ? 'on worker threads' : 'in process'})`, {
      skip: !ortInWorker && !COMPARE && 'set MEDSAM2_LOOP_COMPARE=1 to measure the in-process runtime too',
    }, async (t) => {
      const platform = getPlatform();
      const s = await startTestServer({ ortInWorker });
      try {
        assert.equal(getPlatform().ort === workerOrtRuntime, ortInWorker, 'the server chose the runtime its config says');
        const seg = await readVolume(ORGAN_SEG);
        const liver = Uint8Array.from(seg.data as ArrayLike<number>, (v) => (v === LIVER ? 1 : 0));
        const p = promptFromReference('key-box', { reference: liver, dims: seg.dims });
        const up = await call(s.url, 'POST', '/uploads?name=organs.nii.gz', { body: new Uint8Array(readFileSync(ORGAN)) });
        assert.equal(up.status, 201, JSON.stringify(up.body));
        const ses = await call(s.url, 'POST', '/sessions', { body: { uploadId: up.body.id } });
        assert.equal(ses.status, 201, JSON.stringify(ses.body));
        const pr = await call(s.url, 'POST', `/sessions/${ses.body.id}/prompts`, { body: { objId: 1, slice: p.slice, box: p.box } });
        assert.equal(pr.status, 200, JSON.stringify(pr.body));

        const order: string[] = [];
        let answers = 0;
        let answersDuringRun = 0;
        let done = false;
        let poller: Promise<void> | undefined;
        const delay = monitorEventLoopDelay({ resolution: 10 });
        const t0 = performance.now();
        let seconds = 0;
        const res = await fetch(`${s.url}/sessions/${ses.body.id}/propagate`, {
          method: 'POST',
          headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
          body: JSON.stringify({ range: [Math.max(0, p.slice - REACH), Math.min(seg.dims[2] - 1, p.slice + REACH)] }),
        });
        assert.equal(res.status, 200);
        delay.enable();
        const events = await readSse(res, (event) => {
          if (event === 'progress' && !poller) {
            // GET /healthz every 20 ms or so (one at a time) until the propagation ends.
            poller = (async () => {
              while (!done) {
                await new Promise((r) => setTimeout(r, 20));
                const h = await call(s.url, 'GET', '/healthz');
                assert.equal(h.status, 200);
                if (done) break;
                answers++;
                if (workerOrtRunsInFlight() > 0) answersDuringRun++;
                if (answers === 1) order.push('health answered');
              }
            })();
          }
          if (event === 'done') {
            done = true;
            seconds = (performance.now() - t0) / 1000;
            order.push('propagation done');
          }
        });
        delay.disable();
        await poller;
        const ms = (ns: number) => Math.round(ns / 1e6);
        const steps = events.filter((e) => e.event === 'progress').length;
        t.diagnostic(
          `ORT ${ortInWorker ? 'worker' : 'in-process'}: propagation ${seconds.toFixed(1)} s, ${steps} progress events; event-loop delay max ${ms(delay.max)} ms, p99 ${ms(delay.percentile(99))} ms, mean ${ms(delay.mean)} ms; /healthz answered ${answers} times, ${answersDuringRun} while a worker run was in flight`,
        );
        assert.equal(events.at(-1)?.event, 'done', JSON.stringify(events.map((e) => e.event)));
        assert.ok(steps >= 2, `the propagation ran slice by slice (${steps} progress events)`);
        if (ortInWorker) {
          assert.deepEqual(order, ['health answered', 'propagation done']);
          assert.ok(answersDuringRun > 0, 'a request was answered while a model call ran on a worker');
        }
      } finally {
        await s.stop();
        setPlatform(platform);
      }
    });
  }
});
