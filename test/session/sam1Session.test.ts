import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { dice } from '../../src/metrics/dice.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { segmentVolume } from '../../src/pipelines/segmentVolume.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { interactionFromJson, interactionToJson, ModelPool, PropagationCancelled, Session } from '../../src/session/index.js';
import { cacheSam1Encodes, runEmbeddingCache } from '../helpers/runEmbeddingCache.js';

/**
 * A long-lived Session with the default model on a shared CT-lesion volume: key box (as
 * --auto-key-box derives it), propagate, a correction click on another slice, re-propagate, undo;
 * checked against the one-shot segmentVolume result and the reference. Then the model pool (a
 * second volume reuses the open model; time to first mask cold vs warm is printed) and cancel.
 */
const DIR = '../shared/data/ct-lesion';
const A = `${DIR}/CT_Lesion_000001_02_01_008-023.npz`;
const B = `${DIR}/CT_Lesion_000009_03_01_036-048.npz`;
const skip = (!existsSync(A) || !existsSync(B)) && `needs ${DIR} (../shared/data)`;

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const pool = new ModelPool();
after(() => pool.drain());
const emb = mkdtempSync(join(tmpdir(), 'medsam2-sam1session-'));
after(() => rmSync(emb, { recursive: true, force: true }));

describe('Session with the default model', { skip }, () => {
  test('prompt, propagate, correct, re-propagate only the affected slices, undo: one-shot masks and reference DSC', async (t) => {
    // The one-shot, the Session and the replay encode the same slices: the Session and the replay read
    // what the one-shot encoded (what this test asserts is the propagation, not the encoder); in a test run
    // the one-shot reads the slices earlier files encoded (runEmbeddingCache).
    t.after(cacheSam1Encodes(runEmbeddingCache(emb)));
    const c = await loadCase(A);
    const gt = c.label!.data as Uint8Array;
    const key = promptFromReference('key-box', { reference: gt, dims: c.image.dims });
    const oneShot = await segmentVolume(c.image, [key], { threads: 2, pool });
    assert.equal(pool.openCount, 1);

    const s = await Session.open(c.image, { pool, threads: 2 });
    assert.equal(pool.openCount, 1, 'the Session reuses the pooled model');
    assert.equal(s.family, 'sam1');
    const first = await s.addPrompt(1, key.slice, { box: key.box });
    assert.ok(first.area > 0);
    await s.propagate();
    const before = s.labelMap();
    assert.ok(same(before.data as Uint8Array, oneShot.mask.data as Uint8Array), 'Session == segmentVolume');
    const d = dice(before.data as Uint8Array, gt);
    assert.ok(d >= 0.88, `3D DSC ${d.toFixed(4)}`); // the segmentVolume test's bound (measured 0.912)
    assert.ok(s.slicesEncoded <= 11, `encoded ${s.slicesEncoded}`);

    // A correction two slices above the key: a background click on a predicted pixel outside the
    // reference if there is one, else an object click on a missed reference pixel.
    const [nx, ny] = c.image.dims;
    const cs = key.slice + 2;
    const cur = s.mask(1, cs)!;
    const ref = extractSlice(gt, c.image.dims, 2, cs);
    let click: { x: number; y: number; label: 0 | 1 } | undefined;
    for (let i = 0; i < nx * ny && !click; i++) if (cur[i] && !ref[i]) click = { x: i % nx, y: Math.floor(i / nx), label: 0 };
    for (let i = 0; i < nx * ny && !click; i++) if (!cur[i] && ref[i]) click = { x: i % nx, y: Math.floor(i / nx), label: 1 };
    assert.ok(click, 'the propagated slice differs from the reference somewhere');
    const fixed = await s.correct(1, cs, { points: [click] });
    assert.ok(!same(fixed.mask, cur), 'the correction changes that slice');
    assert.deepEqual(s.objects[0]!.keys, [key.slice, cs]);

    // Streaming: each slice's mask goes out as the propagator decides it; the last one sent per slice is the final one.
    const last = new Map<number, Uint8Array>();
    const before2 = new Map([...Array(c.image.dims[2]).keys()].map((k) => [k, s.mask(1, k)]));
    const sum = await s.propagate({
      onSlice: (_o, k, m) => {
        last.set(k, m);
      },
    });
    assert.ok(last.size >= 2, `${last.size} slices streamed`);
    for (let k = 0; k < c.image.dims[2]; k++) {
      const now = s.mask(1, k) ?? new Uint8Array(nx * ny);
      if (last.has(k)) assert.ok(same(last.get(k)!, now), `streamed slice ${k} is final`);
      else assert.ok(same(before2.get(k) ?? new Uint8Array(nx * ny), now), `slice ${k} not streamed is unchanged`);
    }
    // Only the span the new key affects (from the first key up to the volume's end) is redone; the
    // first key's lower side is not.
    const regionLo = Math.floor((key.slice + cs) / 2) + 1;
    assert.ok(sum.objects[0]!.slicesRun <= c.image.dims[2] - key.slice, `ran ${sum.objects[0]!.slicesRun}`);
    assert.deepEqual(
      sum.objects[0]!.stops.map((st) => [st.key, st.down]),
      [
        [key.slice, 'not-run'],
        [cs, 'next-key'],
      ],
    );
    const corrected = s.labelMap().data as Uint8Array;
    for (let k = 0; k < regionLo; k++) {
      const now = extractSlice(corrected, c.image.dims, 2, k);
      const was = extractSlice(before.data as Uint8Array, c.image.dims, 2, k);
      // The first key's own slice and everything below it stay; its carry towards a negative click is
      // handed out trimmed (negativeClickTrim), so those slices may only lose pixels.
      if (k <= key.slice || click.label === 1) assert.ok(same(now, was), `slice ${k} untouched`);
      else
        assert.ok(
          now.every((v, i) => !v || was[i]),
          `slice ${k} between the keys only trimmed`,
        );
    }
    assert.deepEqual(
      s.history().map((i) => i.kind),
      ['prompt', 'propagate', 'correct', 'propagate'],
    );

    // Replaying the (JSON round-tripped) history reproduces the corrected label map.
    const stored = JSON.parse(JSON.stringify(s.history().map(interactionToJson))) as unknown[];
    const replayed = await Session.fromHistory(
      c.image,
      stored.map((j, i) => interactionFromJson(j, String(i))),
      { pool, threads: 2 },
    );
    assert.ok(same(replayed.labelMap().data as Uint8Array, corrected), 'replay is deterministic');
    await replayed.close();

    assert.equal(await s.undo(), true);
    assert.equal(await s.undo(), true);
    assert.ok(same(s.labelMap().data as Uint8Array, oneShot.mask.data as Uint8Array), 'after undo: the one-shot result again');
    assert.deepEqual(s.objects[0]!.keys, [key.slice]);
    await s.close();
    assert.equal(pool.openCount, 1);
  });

  test('a second volume reuses the pooled model; cancel mid-propagation leaves the session as it was', async () => {
    const c = await loadCase(B);
    const key = promptFromReference('key-box', { reference: c.label!.data as Uint8Array, dims: c.image.dims });

    // Time to first mask: cold (a fresh pool opens the model) vs warm (the shared pool has it open).
    const cold = new ModelPool();
    let t0 = performance.now();
    const sc = await Session.open(c.image, { pool: cold, threads: 2 });
    await sc.addPrompt(1, key.slice, { box: key.box });
    const coldMs = performance.now() - t0;
    await sc.close();
    await cold.drain();
    t0 = performance.now();
    const s = await Session.open(c.image, { pool, threads: 2 });
    const m = await s.addPrompt(1, key.slice, { box: key.box });
    const warmMs = performance.now() - t0;
    console.log(`# time to first mask: cold ${coldMs.toFixed(0)} ms, warm ${warmMs.toFixed(0)} ms (shared machine)`);
    assert.equal(pool.openCount, 1, 'no second open of the same model');
    assert.equal(cold.openCount, 1);
    assert.ok(m.area > 0);

    const ctl = new AbortController();
    let seen = 0;
    await assert.rejects(
      s.propagate({
        signal: ctl.signal,
        onProgress: () => {
          if (++seen === 2) ctl.abort();
        },
      }),
      PropagationCancelled,
    );
    assert.deepEqual(s.objects[0]!.slices, [key.slice], 'only the key slice, as before the cancelled call');
    assert.deepEqual(
      s.history().map((i) => i.kind),
      ['prompt'],
    );
    // Session.cancel() does the same; then the session still works.
    let n2 = 0;
    await assert.rejects(
      s.propagate({
        onProgress: () => {
          if (++n2 === 3) s.cancel();
        },
      }),
      PropagationCancelled,
    );
    assert.deepEqual(s.objects[0]!.slices, [key.slice]);
    const sum = await s.propagate();
    assert.ok(s.objects[0]!.slices.length > 1);
    assert.equal(sum.objects[0]!.stops[0]!.key, key.slice);
    await s.close();
    await assert.rejects(s.addPrompt(1, key.slice, { box: key.box }), /closed/);
  });
});
