import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as lib from '../src/index.js';

test('the library entry exports the documented API', () => {
  for (const name of [
    'readVolume',
    'writeMask',
    'describeVolume',
    'toUint8',
    'segmentationMetrics',
    'listModels',
    'resolveModel',
    'loadCheckpoint',
    'parseSam2Config',
    'loadSam2Config',
    'importSam2Model',
    'Sam2VideoPredictor',
    'openSam2VideoPredictor',
    'segmentVolume',
    'segmentVideo',
    'evaluateFolder',
    'recistToBox',
    'MedsamError',
    'Session',
    'ModelPool',
    'interactionToJson',
    'interactionFromJson',
    'PropagationCancelled',
    'registerFamily',
  ]) {
    assert.equal(typeof (lib as Record<string, unknown>)[name], 'function', `${name} is exported`);
  }
  assert.equal(lib.resolveModel('default').id, lib.DEFAULT_MODEL_ID);
  // a horizontal RECIST line of length 20 centred at (20,20) becomes MedSAM2's square box around it
  assert.deepEqual(lib.recistToBox([10, 20, 30, 20], 64, 64), [10, 10, 30, 30]);
});
