/**
 * A synthetic memory-attention call for the speed scripts (int8Variants, profileNodes): `frames` memory frames of
 * (S/16)² tokens plus `ptr` object-pointer tokens, seeded values (a full-memory call is 7 frames + 32 pointers).
 */
import * as ort from 'onnxruntime-node';
import type { Sam2ModelConfigs } from '../src/models/sam2/compile.js';
import { MEMORY_ATTENTION_IO } from '../src/models/sam2/graphs/memoryAttention.js';
import { lcgFloats } from './seededRandom.js';

export function memoryAttentionFeed(configs: Sam2ModelConfigs, frames: number, ptr: number): Record<string, ort.Tensor> {
  const hw = (configs.predictor.imageSize / 16) ** 2;
  const C = configs.memory.hiddenDim;
  const Cm = configs.memory.memDim;
  const M = frames * hw + ptr;
  const io = MEMORY_ATTENTION_IO;
  return {
    [io.curr]: new ort.Tensor('float32', lcgFloats(hw * C, 1), [hw, 1, C]),
    [io.currPos]: new ort.Tensor('float32', lcgFloats(hw * C, 2), [hw, 1, C]),
    [io.memory]: new ort.Tensor('float32', lcgFloats(M * Cm, 3), [M, 1, Cm]),
    [io.memoryPos]: new ort.Tensor('float32', lcgFloats(M * Cm, 4), [M, 1, Cm]),
    [io.numObjPtrTokens]: new ort.Tensor('float32', Float32Array.of(ptr), [1]),
  };
}
