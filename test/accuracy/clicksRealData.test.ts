import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { dice } from '../../src/metrics/dice.js';
import { simulateClicks } from '../../src/pipelines/clicks.js';
import { evaluateFolder } from '../../src/pipelines/evaluate.js';
import { loadCase } from '../../src/pipelines/loadCase.js';
import { ObjectSegmenter } from '../../src/pipelines/objectSegmenter.js';
import { promptFromReference } from '../../src/pipelines/referencePrompt.js';
import { labelComponents2d } from '../../src/predictor/sam1/maskOps.js';
import { extractSlice } from '../../src/preprocess/slices.js';
import { toUint8 } from '../../src/preprocess/intensity.js';
import type { SliceClick } from '../../src/predictor/sam1/correction.js';
import type { VolumePrompt } from '../../src/predictor/prompts.js';
import { cropNpzCase } from '../cli/cropCase.js';
import { sessionClicksDiff } from '../helpers/sessionClicks.js';
import { cacheSam1EncodesInFile } from '../helpers/runEmbeddingCache.js';

// The default model's slice embeddings come from the run's shared cache (encoded once per run).
cacheSam1EncodesInFile();

/**
 * The click protocol on the three shared CT lesions (cropped to the lesion's slices ± 1, so the
 * encoder runs on ~9 slices each): DSC after each of 3 simulated clicks never falls more than 0.01
 * below the one-box DSC, and report.json carries clicks / NoC per case and their means. Then, on the
 * lesion whose box over-segments (000002), each click lands in the largest error region of the
 * slice with the most error, and the correction path (negative clicks anchored on what they leave)
 * lifts it by a measured margin.
 */
const shared = '../shared/data/ct-lesion';
const skip = !existsSync(shared) && 'needs ../shared/data (ct-lesion)';
const tmp = mkdtempSync(join(tmpdir(), 'medsam2-clicks-'));
const emb = join(tmp, 'emb');
after(() => rmSync(tmp, { recursive: true, force: true }));
const dir = join(tmp, 'lesions');
/** What the second test's 3 clicks made of lesion 000002, for the session test. */
let afterClicks: { prompt: VolumePrompt; clicks: SliceClick[]; mask: Uint8Array } | undefined;
/**
 * Lesion 000002 crop, DSC added by 3 clicks: measured 0.0768 (0.7543 → 0.8311) with session 15's one-box rule as the default
 * (intensityBox 'rescue', seenLevels 1: the box itself is 0.029 better, the clicks leave less to gain); 0.1000 (0.7252 → 0.8252) with negative clicks trimming the
 * slices carried towards them (session 11, negativeClickTrim 'area'); 0.0884 (→ 0.8136) with the guarded no-box rule for
 * negative clicks alone (session 10, negativeClickBox 'guarded'); 0.0522 with the box kept ('keep', → 0.7774, session 8);
 * 0.0515 on the session-7 path (0.7218 → 0.7733); 0.0151 with the session-4 path (negativeClicks: model).
 * Full-volume figures equal the crop's.
 */
const MIN_GAIN_000002 = 0.075;

test('simulated clicks on the shared CT lesions never lose more than 0.01 DSC; report carries clicks and NoC', { skip }, async () => {
  mkdirSync(dir);
  const crops: [string, number, number][] = [
    ['CT_Lesion_000001_02_01_008-023', 4, 12],
    ['CT_Lesion_000002_03_01_035-047', 2, 10],
    ['CT_Lesion_000009_03_01_036-048', 2, 10],
  ];
  for (const [name, z0, z1] of crops) await cropNpzCase(join(shared, `${name}.npz`), join(dir, `${name}.npz`), z0, z1);
  const out = join(tmp, 'report');
  const r = await evaluateFolder(dir, { outDir: out, clicks: 3, threads: 2, embeddingCacheDir: emb });
  assert.equal(r.cases.length, 3);
  for (const c of r.cases) {
    console.log(`# ${c.case}: box ${c.dsc.toFixed(4)}, clicks ${c.clicks!.map((x) => x.dsc.toFixed(4)).join(' ')}`);
    assert.deepEqual(
      c.clicks!.map((x) => x.k),
      [1, 2, 3],
    );
    for (const x of c.clicks!)
      assert.ok(x.dsc >= c.dsc - 0.01, `${c.case}: DSC ${x.dsc.toFixed(4)} after click ${x.k} < box DSC ${c.dsc.toFixed(4)} - 0.01`);
    const reach = (t: number) => (c.dsc >= t ? 0 : c.clicks!.findIndex((x) => x.dsc >= t) + 1 || 4);
    assert.equal(c.noc85, reach(0.85));
    assert.equal(c.noc90, reach(0.9));
  }
  const json = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
  assert.deepEqual(Object.keys(json.cases[0]).slice(-3), ['clicks', 'noc85', 'noc90']);
  assert.equal(json.mean.dscAfterClicks.length, 3);
  assert.ok(Math.abs(json.mean.noc90 - r.cases.reduce((s, c) => s + c.noc90!, 0) / 3) < 1e-12);
});

test('each click lands in the largest error region of the worst slice; negative clicks correct an over-segmented lesion', {
  skip,
}, async () => {
  const c = await loadCase(join(dir, 'CT_Lesion_000002_03_01_035-047.npz'));
  const ref = Uint8Array.from(c.label!.data as Uint8Array, (v) => (v ? 1 : 0));
  const dims = c.image.dims;
  const seg = await ObjectSegmenter.open({ threads: 2, embeddingCacheDir: emb });
  try {
    const cs = seg.forCase(c.image, toUint8(c.image), 2);
    const prompt = promptFromReference('key-box', { reference: ref, dims });
    const first = await cs.segment([prompt]);
    const box = dice(first.mask, ref);
    // Replay the protocol step by step to check where each click went against the mask it saw.
    let cur = first;
    let prompts = [prompt];
    const clicksMade: SliceClick[] = [];
    const [w, h, n] = dims;
    for (let k = 1; k <= 3; k++) {
      const run = await simulateClicks(cs, prompts, cur, ref, dims, 1);
      const click = run.clicks[0]!.click!;
      const errors = Array.from({ length: n }, (_, z) => {
        const p = extractSlice(cur.mask, dims, 2, z),
          r = extractSlice(ref, dims, 2, z);
        return p.reduce((s, v, i) => s + (!v !== !r[i] ? 1 : 0), 0);
      });
      assert.equal(errors[click.slice], Math.max(...errors), `click ${k} is on the slice with the most error`);
      const p = extractSlice(cur.mask, dims, 2, click.slice),
        r = extractSlice(ref, dims, 2, click.slice);
      const kind = (want: 0 | 1) => Uint8Array.from(p, (v, i) => ((want ? !v && r[i] : v && !r[i]) ? 1 : 0));
      const largest = Math.max(...[0, 1].flatMap((l) => labelComponents2d(kind(l as 0 | 1), w, h).sizes.slice(1)));
      const mine = labelComponents2d(kind(click.label), w, h);
      const at = click.y * w + click.x;
      assert.ok(mine.labels[at], `click ${k} (${click.x}, ${click.y}) lies in an error of its kind`);
      assert.equal(mine.sizes[mine.labels[at]!], largest, `click ${k} lies in the largest error region`);
      // The simulated step is the correction path itself: redo it to carry the prompts on.
      const r2 = await cs.correct(prompts, cur, click);
      clicksMade.push(click);
      assert.ok(Math.abs(dice(r2.result.mask, ref) - run.clicks[0]!.dsc) < 1e-12, 'the same correction gives the same mask');
      prompts = r2.prompts;
      cur = r2.result;
    }
    const after3 = dice(cur.mask, ref);
    afterClicks = { prompt, clicks: clicksMade, mask: cur.mask };
    console.log(`# lesion 000002 crop: box ${box.toFixed(4)}, after 3 clicks ${after3.toFixed(4)}`);
    assert.ok(after3 >= box + MIN_GAIN_000002, `after 3 clicks ${after3.toFixed(4)} < box ${box.toFixed(4)} + ${MIN_GAIN_000002}`);
  } finally {
    await seg.release();
  }
});

test('a Session given the same clicks (correct + propagate) gives the simulated-click result: one correction path', { skip }, async (t) => {
  if (!afterClicks) return t.skip('needs the previous test');
  const c = await loadCase(join(dir, 'CT_Lesion_000002_03_01_035-047.npz'));
  // The slices the previous test encoded are read from its cache (the Session's encoder is not what this asserts).
  const diff = await sessionClicksDiff(c.image, afterClicks.prompt, afterClicks.clicks, afterClicks.mask, undefined, emb);
  assert.equal(diff, 0, `${diff} voxels differ between the session and the simulated clicks`);
});
