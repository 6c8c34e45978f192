import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Volume } from '../../src/io/volume.js';
import { importSam2Model } from '../../src/models/node/importModel.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import { ModelPool, Session } from '../../src/session/index.js';
import { fixtureDir } from '../helpers/sam2Fixtures.js';
import { useTempModelHome } from '../helpers/modelHome.js';

/**
 * The Session with the tiny512 stand-in checkpoint (official SAM2.1-tiny-512 architecture, random
 * weights): prompting and propagating in a Session gives exactly the one-shot MedSAM2 flow of
 * segmentVolume (itself checked against the official code in test/pipelines/sam2Volume.test.ts);
 * a correction re-propagates from its slice; undo brings back the one-shot masks; a correction
 * after undo rebuilds the inference states from the log and reproduces the same result.
 */
const LESION = '../shared/data/ct-lesion/CT_Lesion_000001_02_01_008-023.npz';
const CKPT = join(fixtureDir(), 'tiny512_fp16.pt');
const CFG = join(fixtureDir(), 'tiny512.yaml');
const skip = (!existsSync(CKPT) && `needs ${CKPT} (set MEDSAM2_SAM2_FIXTURES)`) || (!existsSync(LESION) && `needs ${LESION}`);

function zRange(v: Volume, z0: number, z1: number): Volume {
  const plane = v.dims[0] * v.dims[1];
  return { ...v, data: v.data.slice(z0 * plane, (z1 + 1) * plane), dims: [v.dims[0], v.dims[1], z1 - z0 + 1] };
}

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Records propagate({ onProgress, onSlice }): the last mask streamed per slice, and how many came
 * from the session's end-of-run reconciliation (no progress tick since the previous one).
 */
function recorder() {
  let ticks = 0,
    prevTick = -1;
  const r = {
    last: new Map<number, Uint8Array>(),
    events: 0,
    afterRun: 0,
    onProgress: () => {
      ticks++;
    },
    onSlice: (_objId: number, slice: number, mask: Uint8Array) => {
      r.events++;
      if (ticks === prevTick) r.afterRun++;
      prevTick = ticks;
      r.last.set(slice, mask);
    },
  };
  return r;
}

function assertStreamedFinal(s: Session, r: ReturnType<typeof recorder>, slices: number[]): void {
  for (const k of slices) {
    assert.ok(r.last.has(k), `slice ${k} streamed`);
    assert.ok(same(r.last.get(k)!, s.mask(1, k) ?? new Uint8Array(r.last.get(k)!.length)), `streamed mask of slice ${k} is the final one`);
  }
}

let tmp = '';
let modelId = '';
let restoreModelHome: (() => void) | undefined;
const pool = new ModelPool();
before(async () => {
  if (skip) return;
  tmp = mkdtempSync(join(tmpdir(), 'medsam2-sam2session-'));
  restoreModelHome = useTempModelHome(tmp);
  modelId = (await importSam2Model(CKPT, { config: CFG })).entry.id;
});
after(async () => {
  await pool.drain();
  restoreModelHome?.();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('Session with the tiny512 SAM2 stand-in', { skip }, () => {
  test('one-shot equality, correction from its slice, undo, rebuild after undo', async () => {
    // The 9 slices around the lesion's largest slice keep the test short (the tracking cost is per slice).
    const full = await loadCase(LESION);
    const k0 = promptFromReference('key-box', { reference: full.label!.data as Uint8Array, dims: full.image.dims }).slice;
    const image = zRange(full.image, Math.max(0, k0 - 4), Math.min(full.image.dims[2] - 1, k0 + 4));
    const label = zRange(full.label!, Math.max(0, k0 - 4), Math.min(full.image.dims[2] - 1, k0 + 4));
    const dims = image.dims;
    const key = promptFromReference('key-box', { reference: label.data as Uint8Array, dims });
    const oneShot = await segmentVolume(image, [key], { model: modelId, pool, threads: 2 });

    const s = await Session.open(image, { model: modelId, pool, threads: 2 });
    assert.equal(pool.openCount, 1);
    assert.equal(s.family, 'sam2');
    await s.addPrompt(1, key.slice, { box: key.box });
    const rec = recorder();
    const sum = await s.propagate(rec);
    assert.deepEqual(sum.objects[0]!.stops, [{ key: key.slice, down: 'volume-end', up: 'volume-end' }]);
    // Streaming: every slice went out while the passes ran (the reverse pass re-sends its OR).
    assertStreamedFinal(s, rec, [...Array(dims[2]).keys()]);
    console.log(`# SAM2 stream: ${rec.events} mask events for ${dims[2]} slices, ${rec.afterRun} from the end-of-run check`);
    const base = s.labelMap().data as Uint8Array;
    assert.ok(same(base, oneShot.mask.data as Uint8Array), 'Session == one-shot SAM2 flow, voxel for voxel');
    assert.equal(s.slicesEncoded, dims[2], 'each slice encoded once');

    // Correction three slices above the key: a background click on the mask if there is one, else an object click.
    const cs = Math.min(key.slice + 3, dims[2] - 1);
    const cur = s.mask(1, cs) ?? new Uint8Array(dims[0] * dims[1]);
    const i = cur.indexOf(1);
    const click =
      i >= 0 ? { x: i % dims[0], y: Math.floor(i / dims[0]), label: 0 as const } : { x: key.box![0], y: key.box![1], label: 1 as const };
    const fixed = await s.correct(1, cs, { points: [click] });
    assert.ok(!same(fixed.mask, cur), 'the correction changes its slice');
    const rec2 = recorder();
    await s.propagate(rec2);
    assertStreamedFinal(s, rec2, [...rec2.last.keys()]);
    assert.ok(
      rec2.last.has(cs) && rec2.last.has(dims[2] - 1) && rec2.last.has(0),
      'the re-propagation streams both directions from the correction',
    );
    console.log(`# SAM2 stream after correction: ${rec2.events} mask events, ${rec2.afterRun} from the end-of-run check`);
    const corrected = s.labelMap().data as Uint8Array;
    assert.ok(!same(corrected, base));
    assert.ok(same(s.mask(1, cs)!, fixed.mask), 'the corrected slice keeps the correction after re-propagation');

    assert.equal(await s.undo(), true);
    assert.equal(await s.undo(), true);
    assert.ok(same(s.labelMap().data as Uint8Array, oneShot.mask.data as Uint8Array), 'after undo: the one-shot result');

    // The inference states were dropped by undo; the same correction rebuilds them from the log.
    const again = await s.correct(1, cs, { points: [click] });
    assert.ok(same(again.mask, fixed.mask), 'same correction, same mask');
    await s.propagate();
    assert.ok(same(s.labelMap().data as Uint8Array, corrected), 'rebuilt states reproduce the corrected volume');
    assert.equal(s.slicesEncoded, dims[2], 'still each slice encoded once');
    await s.close();
  });
});
