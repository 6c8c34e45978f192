import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixtureDir, maxAbsDiff, seededRandom, smallestModuleCase } from '../helpers/sam2Fixtures.js';
import { loadMemoryCase } from '../helpers/sam2MemoryCase.js';

/**
 * The memory-attention graph builds its key rotation tables once from the dynamic key count
 * (grid tables once per memory frame, identity rows for the trailing object-pointer tokens).
 * Attention is order-free over keys, so: swapping two pointer tokens must not change the output
 * (they are unrotated), swapping two whole memory frames must not either (each frame gets the same
 * grid rotation), but moving a pointer token into a memory frame's rows must (rotation applies there).
 * Also covers memory frames without pointer tokens.
 */

const smallest = smallestModuleCase();
const skip = !smallest && `needs ${fixtureDir()} (SAM2 fixtures)`;

/** Swap token rows [i0, i0+n) and [j0, j0+n) of a [M, Cm] array. */
function swapRows(x: Float32Array, Cm: number, i0: number, j0: number, n: number): Float32Array {
  const o = x.slice();
  o.set(x.subarray(j0 * Cm, (j0 + n) * Cm), i0 * Cm);
  o.set(x.subarray(i0 * Cm, (i0 + n) * Cm), j0 * Cm);
  return o;
}

test('memory attention keys: pointer tokens unrotated, memory frames share the grid rotation', { skip }, async () => {
  const { runner, cfg } = await loadMemoryCase(smallest!);
  const side = cfg.imageSize / cfg.backboneStride;
  const hw = side * side;
  const C = cfg.hiddenDim;
  const Cm = cfg.memDim;
  const P = 2 * (C / Cm); // two object pointers
  const M = 2 * hw + P;
  const curr = seededRandom(hw * C, 21);
  const currPos = seededRandom(hw * C, 22);
  const memory = seededRandom(M * Cm, 23);
  const memoryPos = seededRandom(M * Cm, 24);
  const run = (mem: Float32Array, pos: Float32Array, m = M, p = P) =>
    runner.attendMemory({ curr, currPos, memory: mem, memoryPos: pos, numMemoryTokens: m, numObjPtrTokens: p });

  const base = await run(memory, memoryPos);
  assert.ok(base.every(Number.isFinite));
  // first and last pointer token swapped (with their positional encodings)
  const ptrSwapped = await run(swapRows(memory, Cm, 2 * hw, M - 1, 1), swapRows(memoryPos, Cm, 2 * hw, M - 1, 1));
  assert.ok(maxAbsDiff(base, ptrSwapped) < 1e-4, `swapping pointer tokens changed the output by ${maxAbsDiff(base, ptrSwapped)}`);
  // the two memory frames swapped
  const framesSwapped = await run(swapRows(memory, Cm, 0, hw, hw), swapRows(memoryPos, Cm, 0, hw, hw));
  assert.ok(maxAbsDiff(base, framesSwapped) < 1e-4, `swapping memory frames changed the output by ${maxAbsDiff(base, framesSwapped)}`);
  // the pointer tokens swapped with frame rows (grid positions far from 0): now those get rotated
  // and the frame rows do not, so the output must change
  const at = hw - side - P;
  const mixed = await run(swapRows(memory, Cm, at, 2 * hw, P), swapRows(memoryPos, Cm, at, 2 * hw, P));
  assert.ok(maxAbsDiff(base, mixed) > 1e-3, `moving pointer tokens into a memory frame changes the output (by ${maxAbsDiff(base, mixed)})`);

  // memory frames without pointer tokens (0 identity rows)
  const framesOnly = await run(memory.subarray(0, 2 * hw * Cm), memoryPos.subarray(0, 2 * hw * Cm), 2 * hw, 0);
  assert.ok(framesOnly.every(Number.isFinite));
  assert.ok(maxAbsDiff(base, framesOnly) > 1e-3, 'dropping the pointer tokens changes the output');
});
