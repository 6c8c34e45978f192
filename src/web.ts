/**
 * medsam2.js browser entry (page or Web Worker): the browser-safe core on the web platform
 * (fetch/File resources, WebCrypto, DecompressionStream, IndexedDB graph cache, onnxruntime-web).
 * Importing it chooses `createWebPlatform()` with defaults; call `setPlatform(createWebPlatform({...}))`
 * to serve model files from elsewhere, inject another ORT build, or list your own models.
 * Nothing here may import Node: tsconfig.core.json and test/platform/bundle.test.ts check it.
 */
import { setPlatform } from './platform/platform.js';
import { createWebPlatform } from './platform/web.js';

setPlatform(createWebPlatform());

export { MedsamError } from './common/errors.js';
export { setPlatform, getPlatform, type Platform, type BlobCache, type OrtRuntime } from './platform/platform.js';
export { createWebPlatform, type WebPlatform, type WebPlatformOptions } from './platform/web.js';

// io: bytes in, bytes out (a File's bytes plus its name)
export type { Volume, VolumeFormat } from './io/volume.js';
export { readVolumeBytes, detectFormat, SUPPORTED_INPUTS } from './io/volumeBytes.js';
export { encodeMask, SUPPORTED_MASK_OUTPUTS } from './io/maskEncode.js';

// preprocessing and metrics
export { toUint8, parseWindow, CT_WINDOW_PRESETS, type WindowSpec } from './preprocess/intensity.js';
export { segmentationMetrics, DEFAULT_NSD_TOLERANCE_MM, type SegmentationMetrics } from './metrics/segmentationMetrics.js';
export { dice } from './metrics/dice.js';

// models
export { listModels, resolveModel, registerModel, DEFAULT_MODEL_ID, type ModelEntry } from './models/registry.js';
export { SAM2_ZOO, identifyCheckpoint, findZooEntry } from './models/zoo.js';
export { loadCheckpoint, parseCheckpoint, type Checkpoint } from './models/checkpoint/index.js';
export { parseSam2Config, type Sam2Config } from './models/sam2/config.js';
export { loadSam2Config, builtinConfigYaml, BUILTIN_CONFIG_IDS } from './models/sam2/configs/builtin.js';
export { compileSam2, sam2ConfigsFromYaml, type Sam2CompiledModel } from './models/sam2/compile.js';
export { loadSam2Compiled, type Sam2ModelSource } from './models/sam2/graphCache.js';

// engines and predictors
export { OrtSession } from './engine/ortSession.js';
export { Sam1Engine } from './engine/sam1Engine.js';
export { Sam2Engine } from './engine/sam2/sam2Engine.js';
export type { VolumePrompt, Box } from './predictor/prompts.js';
export { recistToBox, boxFromMask } from './predictor/prompts.js';
export { Sam2VideoPredictor, openSam2VideoPredictor, framesFromU8, type Sam2FrameResult } from './predictor/sam2/index.js';
