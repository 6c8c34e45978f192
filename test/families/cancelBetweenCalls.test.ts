import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setOrtRunObserver } from '../../src/engine/ortRunObserver.js';
import { withWorkerOrt, workerOrtRunsInFlight } from '../../src/platform/nodeWorkerOrt.js';
import { getPlatform, setPlatform } from '../../src/platform/platform.js';
import type { Volume } from '../../src/io/volume.js';
import { importSam2Model } from '../../src/models/node/importModel.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { ModelPool, PropagationCancelled, Session } from '../../src/session/index.js';
import { useTempModelHome } from '../helpers/modelHome.js';
import { fixtureDir } from '../helpers/sam2Fixtures.js';

/**
 * A cancel takes effect at the next model call, not at the end of the slice (frame) in flight:
 * the abort fires while one of the propagation's model calls runs (from the ORT run observer,
 * which is told of each run as it ends) and no further model call starts. A SAM1 slice of the
 * default model is several calls (encode, box proposals, refining decodes) and a SAM2 frame is
 * memory attention + heads + memory encoder (+ encoder), so a per-slice check let them all run.
 * Checked at the propagation's first call and at its first image encode (a slice's embedding),
 * for both families; the cancelled run leaves the Session as it was, and the next run completes
 * with the masks of an uninterrupted run in a fresh Session. With the server's runtime (sessions on
 * worker threads) the cancelled run does not even wait for the call in flight: it has ended while
 * that call still runs on its worker.
 */
const LESION = '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz';
const CKPT = join(fixtureDir(), 'tiny512_fp16.pt');
const CFG = join(fixtureDir(), 'tiny512.yaml');
const noLesion = !existsSync(LESION) && `needs ${LESION} (../shared/data)`;
const noSam2 = noLesion || (!existsSync(CKPT) && `needs ${CKPT} (set MEDSAM2_SAM2_FIXTURES)`);

const pool = new ModelPool();
let tmp = '';
let restoreModelHome: (() => void) | undefined;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'medsam2-cancelcalls-'));
  restoreModelHome = useTempModelHome(tmp);
});
after(async () => {
  setOrtRunObserver(undefined);
  await pool.drain();
  restoreModelHome?.();
  rmSync(tmp, { recursive: true, force: true });
});

function zRange(v: Volume, z0: number, z1: number): Volume {
  const plane = v.dims[0] * v.dims[1];
  return { ...v, data: v.data.slice(z0 * plane, (z1 + 1) * plane), dims: [v.dims[0], v.dims[1], z1 - z0 + 1] };
}

/** The lesion's slices key ± 1 and the key box (3 slices keep both families' runs short). */
async function lesionCase() {
  const full = await loadCase(LESION);
  const k0 = promptFromReference('key-box', { reference: full.label!.data as Uint8Array, dims: full.image.dims }).slice;
  const z0 = Math.max(0, k0 - 1),
    z1 = Math.min(full.image.dims[2] - 1, k0 + 1);
  const image = zRange(full.image, z0, z1);
  const label = zRange(full.label!, z0, z1);
  return { image, key: promptFromReference('key-box', { reference: label.data as Uint8Array, dims: image.dims }) };
}

/** Propagates with an abort fired when `fire(module, n)` says so; returns the model calls made before and after it. */
async function cancelDuring(s: Session, fire: (module: string, n: number) => boolean) {
  const ctl = new AbortController();
  const before: string[] = [];
  const afterAbort: string[] = [];
  setOrtRunObserver((module) => {
    if (ctl.signal.aborted) return void afterAbort.push(module);
    before.push(module);
    if (fire(module, before.length)) ctl.abort();
  });
  try {
    await assert.rejects(s.propagate({ signal: ctl.signal }), PropagationCancelled);
  } finally {
    setOrtRunObserver(undefined);
  }
  assert.ok(ctl.signal.aborted, `the abort fired (calls: ${before.join(', ')})`);
  return { before, afterAbort };
}

function snapshot(s: Session) {
  return { labels: Buffer.from(s.labelMap().data as Uint8Array), history: s.history().length, masks: new Map(s.objectMasks(1)) };
}

function assertUnchanged(s: Session, was: ReturnType<typeof snapshot>, what: string) {
  assert.equal(s.history().length, was.history, `${what}: no interaction recorded`);
  assert.deepEqual([...s.objectMasks(1).keys()], [...was.masks.keys()], `${what}: same slices`);
  for (const [k, m] of was.masks) assert.equal(s.objectMasks(1).get(k), m, `${what}: slice ${k} is the same mask`);
  assert.ok(Buffer.from(s.labelMap().data as Uint8Array).equals(was.labels), `${what}: same label map`);
}

async function checkFamily(family: string, model: string | undefined) {
  const { image, key } = await lesionCase();
  const s = await Session.open(image, { pool, threads: 2, ...(model ? { model } : {}) });
  try {
    assert.equal(s.family, family);
    await s.addPrompt(1, key.slice, { box: key.box });
    const was = snapshot(s);
    const encodedBefore = s.slicesEncoded;

    // 1. The abort fires during the propagation's first model call.
    const first = await cancelDuring(s, (_m, n) => n === 1);
    assert.deepEqual(first.afterAbort, [], `no model call after the abort (${family}; the first was ${first.before[0]})`);
    assertUnchanged(s, was, 'cancelled at the first call');

    // 2. The abort fires while a slice is being embedded (its image encoder run).
    const enc = await cancelDuring(s, (m) => m === 'image_encoder');
    assert.deepEqual(enc.afterAbort, [], `no model call after the abort during an encode (${family})`);
    assertUnchanged(s, was, 'cancelled during an encode');
    // The encode let go still lands in the session's cache (SAM1: SliceWindow's embeddings; SAM2:
    // the predictor's FeatureCache), so the next run does not redo it.
    await new Promise((r) => setImmediate(r));
    const keptEncodes = s.slicesEncoded - encodedBefore;
    assert.ok(keptEncodes > 0, 'the encode that ran is kept for the next run');

    // 3. The next run completes, with what an uninterrupted run in a fresh Session gives, and
    // encodes only what the cancelled runs did not (SAM2: every frame once, so exactly that many fewer).
    await s.propagate();
    const nextEncodes = s.slicesEncoded - encodedBefore - keptEncodes;
    const got = Buffer.from(s.labelMap().data as Uint8Array);
    const fresh = await Session.open(image, { pool, threads: 2, ...(model ? { model } : {}) });
    try {
      await fresh.addPrompt(1, key.slice, { box: key.box });
      const freshBefore = fresh.slicesEncoded;
      await fresh.propagate();
      const freshEncodes = fresh.slicesEncoded - freshBefore;
      assert.ok(got.equals(Buffer.from(fresh.labelMap().data as Uint8Array)), 'same masks as an uninterrupted run');
      if (family === 'sam2')
        assert.equal(nextEncodes, freshEncodes - keptEncodes, 'the frames encoded before the cancels are not encoded again');
      else assert.ok(nextEncodes < freshEncodes, `the next run encodes less than a fresh one (${nextEncodes} vs ${freshEncodes})`);
    } finally {
      await fresh.close();
    }
    console.log(
      `# ${family}: calls before the abort ${first.before.length} (first), ${enc.before.length} (encode: ${enc.before.join(' ')}); after it 0`,
    );
  } finally {
    await s.close();
  }
}

describe('cancel between a slice’s model calls', () => {
  test('SAM1 family (default model)', { skip: noLesion }, () => checkFamily('sam1', undefined));
  test('SAM2 family (tiny512 stand-in)', { skip: noSam2 }, async () => {
    const model = (await importSam2Model(CKPT, { config: CFG })).entry.id;
    await checkFamily('sam2', model);
  });
});

describe('cancel with model sessions on worker threads (the server’s runtime)', { skip: noLesion }, () => {
  test('the cancelled run ends while its model call is still running', async () => {
    const platform = getPlatform();
    setPlatform(withWorkerOrt(platform));
    const workers = new ModelPool();
    try {
      const { image, key } = await lesionCase();
      const s = await Session.open(image, { pool: workers, threads: 2 });
      try {
        await s.addPrompt(1, key.slice, { box: key.box });
        const was = snapshot(s);
        const ctl = new AbortController();
        // Abort the moment a model call is seen in flight; the rejection arrives through promise
        // jobs only, before the worker's reply (a message) can be handled.
        const poll = setInterval(() => {
          if (workerOrtRunsInFlight() > 0) {
            clearInterval(poll);
            ctl.abort();
          }
        }, 2);
        let inFlightAtEnd = -1;
        await assert.rejects(
          s.propagate({ signal: ctl.signal }).finally(() => {
            clearInterval(poll);
            inFlightAtEnd = workerOrtRunsInFlight();
          }),
          PropagationCancelled,
        );
        assert.ok(ctl.signal.aborted);
        assert.ok(inFlightAtEnd > 0, `the run ended with its model call still in flight (${inFlightAtEnd})`);
        assertUnchanged(s, was, 'cancelled with a call in flight');
        // The dropped call finishes on its worker; the next run queues behind it and completes.
        const sum = await s.propagate();
        assert.equal(sum.objects[0]!.slicesRun, image.dims[2]);
      } finally {
        await s.close();
      }
    } finally {
      await workers.drain();
      setPlatform(platform);
    }
  });
});
