/**
 * A cancel reaches the steps before propagation (real model, real data): an AbortSignal that fires
 * while the model loads (inside the pool's acquire, exactly) ends segmentVolume / segmentVideo as
 * the load finishes with PropagationCancelled and not one ONNX Runtime run; one that fires when
 * the first key slice's encoder run ends stops a two-object call before the second key slice is
 * encoded. Runs are counted with the process-wide ORT run observer (what the server's /metrics uses).
 */
import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setOrtRunObserver } from '../../src/engine/ortRunObserver.js';
import { PropagationCancelled } from '../../src/families/cancelled.js';
import { readNpzCase } from '../../src/io/npzFile.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { segmentVideo } from '../../src/pipelines/segmentVideo.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import { ModelPool } from '../../src/session/modelPool.js';
import type { ModelPoolApi } from '../../src/session/types.js';
import { CT_LESION, SHARED_SKIP } from '../server/harness.js';
import { KVASIR_POLYP, KVASIR_SKIP, maskBox, slidingWindowVideo } from './syntheticVideo.js';

const SKIP = SHARED_SKIP || KVASIR_SKIP;
if (SKIP) process.stdout.write(`# skipping the cancel-before-encode test: ${SKIP}\n`);

const runs: string[] = [];
setOrtRunObserver((module) => runs.push(module));
after(() => setOrtRunObserver(undefined));

const pool = new ModelPool();
after(() => pool.drain());

/** The shared pool, with `ctl` aborted as soon as a model is asked for (the load then goes on). */
function abortingPool(ctl: AbortController): ModelPoolApi {
  return {
    acquire: (model, opts) => {
      ctl.abort();
      return pool.acquire(model, opts);
    },
    get openCount() {
      return pool.openCount;
    },
    drain: () => pool.drain(),
  };
}

describe('cancel during model load and key-slice encode', { skip: SKIP }, () => {
  it('segmentVolume: a cancel during the model load ends the call with no ORT run', async () => {
    const c = await readNpzCase(CT_LESION);
    const key = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims });
    const ctl = new AbortController();
    runs.length = 0;
    await assert.rejects(segmentVolume(c.image, [key], { pool: abortingPool(ctl), signal: ctl.signal, threads: 2 }), PropagationCancelled);
    assert.deepEqual(runs, [], 'nothing is encoded after the cancel');
  });

  it('segmentVolume: a cancel during the first key encode leaves the second key slice unencoded', async () => {
    const c = await readNpzCase(CT_LESION);
    const key = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims });
    const ctl = new AbortController();
    runs.length = 0;
    setOrtRunObserver((module) => {
      runs.push(module);
      if (module === 'image_encoder') ctl.abort();
    });
    try {
      await assert.rejects(
        segmentVolume(
          c.image,
          [
            { ...key, objId: 1 },
            { ...key, objId: 2, slice: key.slice + 1 },
          ],
          { pool, signal: ctl.signal, threads: 2 },
        ),
        PropagationCancelled,
      );
    } finally {
      setOrtRunObserver((module) => runs.push(module));
    }
    assert.deepEqual(
      runs.filter((m) => m === 'image_encoder'),
      ['image_encoder'],
      `one key slice encoded, not two: ${runs.join(', ')}`,
    );
  });

  it('segmentVideo: a cancel during the model load ends the call with no ORT run and writes nothing', async () => {
    const clip = slidingWindowVideo(KVASIR_POLYP.image, KVASIR_POLYP.mask, { frames: 3, width: 560, height: 480, dx: 6, dy: 4 });
    const frames = { ...clip, fps: 10, names: ['0', '1', '2'], kind: 'folder' as const, source: 'synthetic' };
    const ctl = new AbortController();
    runs.length = 0;
    await assert.rejects(
      segmentVideo(frames, [{ frame: 0, objId: 1, box: maskBox(clip.masks[0]!, clip.width) }], {
        pool: abortingPool(ctl),
        signal: ctl.signal,
        threads: 2,
      }),
      PropagationCancelled,
    );
    assert.deepEqual(runs, []);
  });
});
