import '../helpers/nodePlatform.js';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { formatReport, runParityCase } from '../../scripts/sam2ParityHarness.js';
import type { ImageFeatureMemo } from '../../scripts/sharedImageFeatures.js';
import { fixtureDir, listFixtureCases } from '../helpers/sam2Fixtures.js';

/**
 * Whole-predictor parity against the official MedSAM2 video predictor: every step of every
 * fixture manifest is replayed and every recorded output compared (see scripts/sam2ParityHarness.ts
 * for the tolerances). Every case found runs (all 12 shared cases: ~1 min on 2 cores);
 * MEDSAM2_PARITY_SKIP_LARGE=1 skips cases whose checkpoint is over 32 MB, for quick local runs.
 * The cases replay different prompt scripts over two shared inputs, so a frame tensor one case of a
 * model encoded is read by the next (scripts/sharedImageFeatures.ts; the encoder is checked on its own
 * in imageEncoder.test.ts): each case's outputs still come from its own prompts, memory and heads.
 */
const dir = fixtureDir();
const skip = !existsSync(dir) && `needs ${dir} (set MEDSAM2_SAM2_FIXTURES)`;
const skipLarge = process.env.MEDSAM2_PARITY_SKIP_LARGE === '1';
const cases = listFixtureCases();
const sharedImageFeatures: ImageFeatureMemo = new Map();

if (cases.length === 0) test('SAM2 predictor parity', { skip: skip || 'no fixture manifests found' }, () => {});

for (const c of cases) {
  const heavy = existsSync(c.checkpointPath) && statSync(c.checkpointPath).size > 32 * 2 ** 20;
  test(`${c.id}: predictor`, {
    skip: skip || (heavy && skipLarge && 'MEDSAM2_PARITY_SKIP_LARGE=1 skips checkpoints over 32 MB'),
  }, async () => {
    const r = await runParityCase(c, { threads: 2, sharedImageFeatures });
    console.log(formatReport(r));
    assert.ok(r.outputs > 0, `${c.id}: no outputs were compared`);
    assert.equal(r.failures.length, 0, r.failures.join('\n'));
    // every frame is encoded at most once per session (the official code re-encodes on revisits)
    const frames = new Set<number>();
    for (const s of c.manifest.steps) for (const f of s.frames ?? []) frames.add(f);
    assert.ok(r.encoderCalls <= Math.max(frames.size, 1) + 1, `${c.id}: ${r.encoderCalls} encoder calls for ${frames.size} tracked frames`);
  });
}
