import { Sam2Engine } from '../../engine/sam2/sam2Engine.js';
import type { OrtSessionOptions } from '../../engine/ortSession.js';
import type { GraphCacheOptions, Sam2ModelSource } from '../../models/sam2/graphCache.js';
import { Sam2VideoPredictor, type Sam2PredictorOptions } from './videoPredictor.js';

export { Sam2VideoPredictor, applyNonOverlappingConstraints } from './videoPredictor.js';
export type { AddMaskArgs, AddPointsArgs, MemoryMode, PropagateArgs, Sam2FrameResult, Sam2PredictorOptions } from './videoPredictor.js';
export type { Sam2FrameSource, Sam2InferenceState } from './inferenceState.js';
export { FeatureCache } from './featureCache.js';
export { framesFromU8, medsam2NormalizationLut, normaliseSlice } from './frameSource.js';
export { fillHolesInMaskScores } from './fillHoles.js';
export { SelfSortingMemoryBank } from './selfSortingMemory.js';

/**
 * Compile (or load from the graph cache) a SAM2 / MedSAM2 checkpoint + YAML, open its ONNX
 * sessions and wrap them in a video predictor. Call `engine.release()` when done.
 */
export async function openSam2VideoPredictor(
  src: Sam2ModelSource,
  opts: GraphCacheOptions & OrtSessionOptions & Sam2PredictorOptions = {},
): Promise<{ predictor: Sam2VideoPredictor; engine: Sam2Engine }> {
  const engine = await Sam2Engine.open(src, opts);
  return { predictor: new Sam2VideoPredictor(engine, engine.compiled.configs.predictor, opts), engine };
}
