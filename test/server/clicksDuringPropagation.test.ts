import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readNpzCase } from '../../src/io/npzFile.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { SHARED_SKIP, call, croppedLesion, startTestServer, type TestServer } from './harness.js';
import { readSse } from './sse.js';

/**
 * A long propagation never blocks a click: while one session propagates (SSE), a click on another
 * session is answered with its mask before the propagation ends — with clicks decoded on worker
 * threads (the default) and on the main thread (clickWorkers 0), whose decoder runs interleave with
 * the propagation's slice by slice.
 */
describe('medsam2 serve: clicks during a propagation', { skip: SHARED_SKIP }, () => {
  let dir: string;
  let crop: Awaited<ReturnType<typeof croppedLesion>>;
  let box: [number, number, number, number];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'medsam2-clicks-'));
    crop = await croppedLesion(dir, 2);
    const c = await readNpzCase(crop.path);
    box = promptFromReference('key-box', { reference: c.label!.data as ArrayLike<number>, dims: c.image.dims }).box!;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const clickWorkers of [2, 0]) {
    it(`a click on another session is answered before the propagation ends (click workers ${clickWorkers})`, async () => {
      let s: TestServer | undefined;
      try {
        s = await startTestServer({ clickWorkers });
        const url = s.url;
        const up = await call(url, 'POST', '/uploads?name=lesion.npz', { body: new Uint8Array(readFileSync(crop.path)) });
        const ids: string[] = [];
        for (let i = 0; i < 2; i++) {
          const ses = await call(url, 'POST', '/sessions', { body: { uploadId: up.body.id } });
          assert.equal(ses.status, 201, JSON.stringify(ses.body));
          const r = await call(url, 'POST', `/sessions/${ses.body.id}/prompts`, { body: { objId: 1, slice: crop.key, box } });
          assert.equal(r.status, 200, JSON.stringify(r.body));
          ids.push(ses.body.id);
        }
        const order: string[] = [];
        let click: Promise<void> | undefined;
        const res = await fetch(`${url}/sessions/${ids[0]}/propagate`, {
          method: 'POST',
          headers: { accept: 'text/event-stream', 'content-type': 'application/json' },
          body: '{}',
        });
        assert.equal(res.status, 200);
        const [x0, y0, x1, y1] = box;
        const events = await readSse(res, (event) => {
          if (event === 'progress' && !click) {
            click = call(url, 'POST', `/sessions/${ids[1]}/prompts`, {
              body: { objId: 1, slice: crop.key, box, points: [{ x: (x0 + x1) >> 1, y: (y0 + y1) >> 1, label: 1 }] },
            }).then((r) => {
              assert.equal(r.status, 200, JSON.stringify(r.body));
              assert.ok(r.body.area > 0, 'the click has a mask');
              order.push('click answered');
            });
          }
          if (event === 'done') order.push('propagation done');
        });
        await click;
        assert.equal(events.at(-1)?.event, 'done', JSON.stringify(events.map((e) => e.event)));
        assert.ok(events.filter((e) => e.event === 'progress').length >= 3, 'the propagation ran slice by slice');
        assert.deepEqual(order, ['click answered', 'propagation done']);
      } finally {
        await s?.stop();
      }
    });
  }
});
