/**
 * medsam2.js library API: the CLI (src/cli) is a thin layer over these exports.
 */
import { nodePlatform } from './platform/node.js';
import { setPlatform } from './platform/platform.js';

// The Node entry chooses the Node platform (fs, crypto, zlib, onnxruntime-node); src/web.ts is the browser's.
setPlatform(nodePlatform);

export { MedsamError } from './common/errors.js';
export { setPlatform, getPlatform, type Platform, type BlobCache, type OrtRuntime } from './platform/platform.js';
export { nodePlatform } from './platform/node.js';

// io
export type { Volume, VolumeFormat } from './io/volume.js';
export type { NdArray, DType } from './io/ndarray.js';
export { readVolume, detectVolumeFormat, SUPPORTED_INPUTS } from './io/readVolume.js';
export { writeMask, SUPPORTED_MASK_OUTPUTS } from './io/writeMask.js';
export { describeVolume, intensityStats } from './io/describeVolume.js';
export { readNpzCase, readNpzMask, writeNpzMask, readNpz, writeNpz } from './io/npzFile.js';
// bytes in, bytes out (node-free; what a browser or a server upload uses)
export { readVolumeBytes, detectFormat } from './io/volumeBytes.js';
export { encodeMask } from './io/maskEncode.js';
export { parseNpzCase, parseNpzMask, encodeNpzMask } from './io/npzCase.js';
export { readNpzBytes, openNpzBytes, encodeNpz } from './io/npz.js';
export { decodeImage2D, encodePngMask } from './io/image2d.js';
export { DEFAULT_MAX_VOXELS, type ReadLimits } from './io/readLimits.js';
export { readVideo, writeVideo } from './io/video.js';
// DICOM: byte-level series reader (browser-safe), SEG/RTSTRUCT out and SEG in, DICOMweb (QIDO/WADO/STOW)
export { readDicom, type DicomReadOptions } from './io/dicomSeries.js';
export { readDicomSeries, type DicomInput, type DicomHeader, type DicomSeriesOptions } from './io/dicom/series.js';
export { buildSeg, type SegWriteOptions, type SegmentSpec } from './io/dicom/segWrite.js';
export { buildRtStruct } from './io/dicom/rtstructWrite.js';
export { readSeg, readSegAsLabelMap, type SegOnGrid, type SegmentInfo } from './io/dicom/segRead.js';
export {
  parseDicomwebUrl,
  searchStudies,
  searchSeries,
  searchInstances,
  findSeries,
  retrieveSeries,
  storeInstances,
  jsonValue,
  type DicomJson,
  type DicomwebOptions,
  type SeriesRef,
} from './io/dicomweb/client.js';
export { readDicomwebSeries } from './io/dicomweb/readSeries.js';

// preprocessing and metrics
export { toUint8, parseWindow, CT_WINDOW_PRESETS, type WindowSpec } from './preprocess/intensity.js';
export { segmentationMetrics, DEFAULT_NSD_TOLERANCE_MM, type SegmentationMetrics } from './metrics/segmentationMetrics.js';
export { dice } from './metrics/dice.js';

// models
export { listModels, resolveModel, registerModel, DEFAULT_MODEL_ID, type ModelEntry } from './models/registry.js';
export { parsePrecision, PRECISIONS, type Precision } from './models/precision.js';
export { SAM2_ZOO, identifyCheckpoint, findZooEntry } from './models/zoo.js';
export { loadCheckpoint, type Checkpoint } from './models/checkpoint/index.js';
export { parseSam2Config, type Sam2Config } from './models/sam2/config.js';
export { loadSam2Config, BUILTIN_CONFIG_IDS } from './models/sam2/configs/builtin.js';
export { importSam2Model, type ImportModelResult } from './models/node/importModel.js';

// predictors
export type { VolumePrompt, Box } from './predictor/prompts.js';
export { recistToBox, boxFromMask } from './predictor/prompts.js';
export { Sam2VideoPredictor, openSam2VideoPredictor, type Sam2FrameResult } from './predictor/sam2/index.js';

// sessions and model families
export { Session } from './session/session.js';
export { ModelPool, type ModelPoolOptions } from './session/modelPool.js';
export { interactionFromJson, interactionToJson } from './session/interactionJson.js';
export type {
  Interaction,
  ModelLease,
  ModelPoolApi,
  ObjectInfo,
  PropagateOptions,
  PropagationSummary,
  SessionApi,
  SessionInput,
  SessionOptions,
  SliceMask,
  VideoInput,
} from './session/types.js';
export { PropagationCancelled } from './families/cancelled.js';
export { registerFamily, familyFor, knownFamilies } from './families/registry.js';
export type {
  Direction,
  FamilyTracker,
  FrameStack,
  KeyStop,
  ModelFamily,
  OpenedModel,
  SlicePrompt,
  TrackerOptions,
} from './families/family.js';

// pipelines
export { segmentVolume, type SegmentVolumeOptions, type SegmentVolumeResult } from './pipelines/segmentVolume.js';
export { segmentVideo, type SegmentVideoOptions, type SegmentVideoResult, type FramePrompt } from './pipelines/segmentVideo.js';
export { evaluateFolder, type EvaluationReport } from './pipelines/evaluate.js';
