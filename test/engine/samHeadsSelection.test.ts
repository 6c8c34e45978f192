import '../helpers/nodePlatform.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  NO_OBJ_SCORE,
  selectSamHeadsOutputs,
  stabilityScore,
  type SamHeadsRawOutputs,
  type SamHeadsSelectionParams,
} from '../../src/engine/sam2/samHeadsSelection.js';

/**
 * The upstream selection rules on hand-made decoder outputs, for the branches the fixtures never
 * reach (object absent, soft pointer, ties, empty union); the fixture parity test covers the rest.
 */
const side = 2; // 2×2 masks
const C = 3;

function raw(masks: number[][], ious: number[], score: number): SamHeadsRawOutputs {
  const T = masks.length;
  return {
    masks: Float32Array.from(masks.flat()),
    iouPred: Float32Array.from(ious),
    maskTokensOut: Float32Array.from({ length: T * C }, (_, i) => 100 + i),
    objPtrTokens: Float32Array.from({ length: T * C }, (_, i) => i),
    objectScoreLogit: score,
    numTokens: T,
    maskSide: side,
    channels: C,
  };
}

const base: SamHeadsSelectionParams = {
  dynamicMultimaskViaStability: true,
  dynamicMultimaskStabilityDelta: 0.05,
  dynamicMultimaskStabilityThresh: 0.98,
  useMultimaskTokenForObjPtr: true,
  predObjScores: true,
  softNoObjPtr: false,
  fixedNoObjPtr: true,
  noObjPtr: Float32Array.of(-1, -2, -3),
};

test('stability score: area(>δ)/area(>−δ), 1 for an empty union', () => {
  assert.equal(stabilityScore(Float32Array.of(1, 0.01, -0.01, -1), 0.05), Math.fround(1 / 3));
  assert.equal(stabilityScore(Float32Array.of(-1, -1), 0.05), 1);
  assert.equal(stabilityScore(Float32Array.of(0.05, 0.06), 0.05), Math.fround(1 / 2)); // strict >
});

test('single mask: stable token 0 kept; unstable falls back to the best multimask mask but keeps token 0 for obj_ptr', () => {
  const stable = [
    [1, 1, -1, -1],
    [2, 2, 2, 2],
    [3, 3, 3, 3],
    [4, 4, 4, 4],
  ];
  let r = selectSamHeadsOutputs(raw(stable, [0.1, 0.2, 0.9, 0.3], 1), false, base);
  assert.deepEqual([...r.lowResMasks], [1, 1, -1, -1]);
  assert.deepEqual([...r.ious], [Math.fround(0.1)]);
  assert.equal(r.stability, 1);

  const unstable = [
    [1, 0.01, -1, -1],
    [2, 2, 2, 2],
    [3, 3, 3, 3],
    [4, 4, 4, 4],
  ];
  r = selectSamHeadsOutputs(raw(unstable, [0.1, 0.2, 0.9, 0.3], 1), false, base);
  assert.deepEqual([...r.lowResMasks], [3, 3, 3, 3], 'best of tokens 1..3 by IoU');
  assert.equal(r.bestIou, Math.fround(0.9));
  assert.deepEqual([...r.objPtrProjOut], [0, 1, 2], 'sam_tokens_out is token 0 when multimask_output is false');
  assert.deepEqual([...r.samTokensOut], [100, 101, 102]);
});

test('multimask: masks 1..3, argmax IoU (first on ties) picks the mask and the obj_ptr token', () => {
  const masks = [
    [0, 0, 0, 0],
    [1, 1, 1, 1],
    [2, 2, 2, 2],
    [3, 3, 3, 3],
  ];
  const r = selectSamHeadsOutputs(raw(masks, [0.99, 0.5, 0.7, 0.7], 1), true, base);
  assert.equal(r.numMasks, 3);
  assert.deepEqual([...r.lowResMasks], [2, 2, 2, 2]);
  assert.deepEqual([...r.objPtrProjOut], [6, 7, 8], 'token 2 (mask index 1 of 1..3)');
  assert.equal(r.samTokensOut.length, 3 * C);
  const noMmToken = selectSamHeadsOutputs(raw(masks, [0.99, 0.5, 0.7, 0.7], 1), true, { ...base, useMultimaskTokenForObjPtr: false });
  assert.deepEqual([...noMmToken.objPtrProjOut], [0, 1, 2], 'without use_multimask_token_for_obj_ptr token 0 is used');
});

test('object absent (score ≤ 0): NO_OBJ_SCORE masks and the fixed no_obj_ptr; soft mode mixes by sigmoid', () => {
  const masks = [
    [5, 5, 5, 5],
    [1, 1, 1, 1],
    [2, 2, 2, 2],
    [3, 3, 3, 3],
  ];
  const r = selectSamHeadsOutputs(raw(masks, [0.1, 0.5, 0.7, 0.6], 0), true, base);
  assert.ok(r.lowResMultimasks.every((v) => v === NO_OBJ_SCORE));
  assert.deepEqual([...r.objPtr], [-1, -2, -3]);
  assert.deepEqual([...r.objPtrProjOut], [6, 7, 8], 'the projection itself is still reported');

  const soft = selectSamHeadsOutputs(raw(masks, [0.1, 0.5, 0.7, 0.6], 0), true, { ...base, softNoObjPtr: true, fixedNoObjPtr: false });
  // lambda = sigmoid(0) = 0.5: obj_ptr = p + 0.5·no_obj_ptr (not scaled without fixed_no_obj_ptr)
  assert.deepEqual([...soft.objPtr], [6 - 0.5, 7 - 1, 8 - 1.5]);
  assert.ok(
    soft.lowResMultimasks.every((v) => v === NO_OBJ_SCORE),
    'masks use the hard decision even in soft mode',
  );
});
