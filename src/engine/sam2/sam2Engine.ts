import { MedsamError } from '../../common/errors.js';
import { sam2Dims, type Sam2CompiledModel } from '../../models/sam2/compile.js';
import { loadSam2Compiled, type GraphCacheOptions, type Sam2ModelSource } from '../../models/sam2/graphCache.js';
import type { OrtSessionOptions } from '../ortSession.js';
import { ImageEncoderRunner } from './imageEncoderRunner.js';
import { Sam2MemoryRunner } from './memoryRunner.js';
import { SamHeadsRunner } from './samHeadsRunner.js';
import type {
  MemoryAttentionInput,
  MemoryEncodeInput,
  MemoryEncodeResult,
  Sam2ImageFeatures,
  Sam2Modules,
  Sam2PredictorParams,
  SamHeadsInput,
  SamHeadsResult,
} from './types.js';

export type Sam2Stage = 'imageEncoder' | 'samHeads' | 'maskDownsample' | 'memoryEncoder' | 'memoryAttention' | 'objPtrTpos';

function emptyStageTimes(): Record<Sam2Stage, { ms: number; calls: number }> {
  const z = () => ({ ms: 0, calls: 0 });
  return { imageEncoder: z(), samHeads: z(), maskDownsample: z(), memoryEncoder: z(), memoryAttention: z(), objPtrTpos: z() };
}

/**
 * The SAM2 module runners composed into the `Sam2Modules` contract the video predictor drives:
 * image encoder, SAM heads (+ mask_downsample), memory encoder, memory attention and the
 * object-pointer temporal encoding, each an ONNX Runtime session over our compiled graphs.
 */
export class Sam2Engine implements Sam2Modules {
  readonly imageSize: number;
  readonly hiddenDim: number;
  readonly memDim: number;
  readonly params: Sam2PredictorParams;
  /** Number of image-encoder runs (for tests and benchmarks). */
  imageEncodeCount = 0;
  /** Cumulative wall time and calls per module since creation or resetStageTimes() (benchmarks). */
  readonly stageTimes: Record<Sam2Stage, { ms: number; calls: number }> = emptyStageTimes();

  private constructor(
    readonly compiled: Sam2CompiledModel,
    private readonly image: ImageEncoderRunner,
    private readonly heads: SamHeadsRunner,
    private readonly memory: Sam2MemoryRunner,
  ) {
    const d = sam2Dims(compiled.configs);
    this.imageSize = d.imageSize;
    this.hiddenDim = d.hiddenDim;
    this.memDim = d.memDim;
    this.params = compiled.params;
  }

  /** Open ORT sessions over already compiled graphs. */
  static async create(compiled: Sam2CompiledModel, opts: OrtSessionOptions = {}): Promise<Sam2Engine> {
    const { configs, graphs, params } = compiled;
    if (configs.samHeads.useObjPtrsInEncoder && !graphs.maskDownsample) {
      throw new MedsamError('the compiled SAM2 model has no mask_downsample graph', 'recompile the model (delete its cache folder)');
    }
    const [image, heads, memory] = await Promise.all([
      ImageEncoderRunner.create(graphs.imageEncoder, opts),
      SamHeadsRunner.create(
        { samHeads: graphs.samHeads, maskDownsample: graphs.maskDownsample },
        configs.samHeads,
        { noObjPtr: params.noObjPtr },
        opts,
      ),
      Sam2MemoryRunner.create(
        { memoryEncoder: graphs.memoryEncoder, memoryAttention: graphs.memoryAttention, objPtrTpos: graphs.objPtrTpos },
        configs.memory,
        opts,
      ),
    ]);
    if (image.imageSize !== configs.predictor.imageSize) {
      throw new MedsamError(
        `image encoder graph runs at ${image.imageSize} px, config says ${configs.predictor.imageSize}`,
        'recompile the model (delete its cache folder)',
      );
    }
    return new Sam2Engine(compiled, image, heads, memory);
  }

  /** Compile (or load from the graph cache) and open: the usual entry point. */
  static async open(src: Sam2ModelSource, opts: GraphCacheOptions & OrtSessionOptions = {}): Promise<Sam2Engine> {
    const { model } = await loadSam2Compiled(src, opts);
    return Sam2Engine.create(model, opts);
  }

  resetStageTimes(): void {
    Object.assign(this.stageTimes, emptyStageTimes());
  }

  private async timed<R>(stage: Sam2Stage, run: () => Promise<R>): Promise<R> {
    const t0 = performance.now();
    try {
      return await run();
    } finally {
      const s = this.stageTimes[stage];
      s.ms += performance.now() - t0;
      s.calls++;
    }
  }

  encodeImage(image: Float32Array): Promise<Sam2ImageFeatures> {
    this.imageEncodeCount++;
    return this.timed('imageEncoder', () => this.image.encode(image));
  }

  runSamHeads(input: SamHeadsInput): Promise<SamHeadsResult> {
    return this.timed('samHeads', () => this.heads.runSamHeads(input));
  }

  downsampleMask(mask: Float32Array): Promise<Float32Array> {
    return this.timed('maskDownsample', () => this.heads.downsampleMask(mask));
  }

  encodeMemory(input: MemoryEncodeInput): Promise<MemoryEncodeResult> {
    return this.timed('memoryEncoder', () => this.memory.encodeMemory(input));
  }

  attendMemory(input: MemoryAttentionInput): Promise<Float32Array> {
    return this.timed('memoryAttention', () => this.memory.attendMemory(input));
  }

  objPtrTemporalEncoding(relPos: readonly number[], tDiffMax: number): Promise<Float32Array> {
    return this.timed('objPtrTpos', () => this.memory.objPtrTemporalEncoding(relPos, tDiffMax));
  }

  async release(): Promise<void> {
    await Promise.all([this.image.release(), this.heads.release(), this.memory.release()]);
  }
}
