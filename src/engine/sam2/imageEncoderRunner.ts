import { MedsamError } from '../../common/errors.js';
import { IMAGE_ENCODER_IO } from '../../models/sam2/graphs/imageEncoder.js';
import { OrtSession, type Float32Output, type OrtSessionOptions } from '../ortSession.js';
import type { Sam2ImageFeatures } from './types.js';

/** Runs the SAM2 image encoder graph (buildImageEncoderGraph) on one normalised [1,3,S,S] image. */
export class ImageEncoderRunner {
  private constructor(
    private readonly session: OrtSession,
    readonly imageSize: number,
  ) {}

  static async create(bytes: Uint8Array, opts: OrtSessionOptions = {}): Promise<ImageEncoderRunner> {
    const session = await OrtSession.create(bytes, { ...opts, module: 'image_encoder' });
    const spec = session.inputs.find((s) => s.name === IMAGE_ENCODER_IO.image);
    const S = spec?.shape[3];
    if (!spec || typeof S !== 'number' || spec.shape[2] !== S) {
      throw new MedsamError(
        `ONNX model ${session.label} is not a SAM2 image encoder graph (no square '${IMAGE_ENCODER_IO.image}' input)`,
        'build it with buildImageEncoderGraph',
      );
    }
    return new ImageEncoderRunner(session, S);
  }

  /** All graph outputs by name (includes the debug outputs when the graph was built with debug). */
  async run(image: Float32Array): Promise<Record<string, Float32Output>> {
    const S = this.imageSize;
    if (image.length !== 3 * S * S) {
      throw new MedsamError(
        `image has ${image.length} values, the SAM2 image encoder needs [1,3,${S},${S}] = ${3 * S * S}`,
        `resize and normalise the frame to ${S}x${S} first`,
      );
    }
    return this.session.runFloat32({ [IMAGE_ENCODER_IO.image]: { data: image, dims: [1, 3, S, S] } });
  }

  async encode(image: Float32Array): Promise<Sam2ImageFeatures> {
    const io = IMAGE_ENCODER_IO;
    const r = await this.run(image);
    return {
      visionFeatures: r[io.visionFeatures]!.data,
      visionPosEnc: r[io.visionPosEnc]!.data,
      highRes0: r[io.highRes0]!.data,
      highRes1: r[io.highRes1]!.data,
    };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
