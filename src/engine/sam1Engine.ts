import { MedsamError } from '../common/errors.js';
import { int8Model } from '../models/int8ModelFile.js';
import type { Precision } from '../models/precision.js';
import type { ModelEntry } from '../models/registry.js';
import { samImageTensor, samImageTensorRgb, toModelCoords, type SamFrame } from '../preprocess/samImage.js';
import { type Float32Feeds, type Float32Output, OrtSession, type OrtSessionOptions } from './ortSession.js';

/** Image embedding of one slice plus the geometry needed to map prompts into it. */
export interface Sam1Embedding {
  /** [1,256,64,64] for SAM1 at 1024 px. */
  data: Float32Array;
  dims: number[];
  frame: SamFrame;
}

/** A 2D prompt in slice pixel coordinates (x = column, y = row). */
export interface Sam1Prompt {
  box?: [number, number, number, number];
  points?: { x: number; y: number; label: 0 | 1 }[];
}

export interface Sam1Decoded {
  /** Mask logits at slice resolution, row-major h×w; > 0 is foreground. */
  logits: Float32Array;
  /** Decoder-resolution logits [1,1,256,256] in the padded S frame; feed back as maskInput. */
  lowRes: Float32Array;
  /** The decoder's own IoU estimate for the mask. */
  iou: number;
}

export interface Sam1EngineOptions extends OrtSessionOptions {
  /** 'int8' runs the encoder's linear layers as dynamic int8 GEMMs (a cached rewritten copy); the decoder stays fp32. */
  precision?: Precision;
  /** Where the int8 encoder copy is cached (default: the model cache, MEDSAM2_CACHE_DIR). */
  cacheDir?: string;
}

/** Decoder mask prompt side for SAM1: 4× the 64×64 embedding grid. */
export const SAM1_LOW_RES = 256;

/**
 * SAM1-style promptable 2D segmentation from two ONNX files: an image encoder
 * (input [1,3,S,S] → embedding) and SAM's exported prompt encoder + mask decoder
 * (image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size →
 * masks at orig_im_size, iou_predictions, low_res_masks).
 */
export class Sam1Engine {
  private constructor(
    readonly entry: ModelEntry,
    private readonly encoder: OrtSession,
    private readonly decoder: OrtSession,
    /** The encoder's precision: an embedding cache must not hand an fp32 embedding to an int8 run, nor back. */
    readonly precision: Precision = 'fp32',
  ) {}

  static async create(entry: ModelEntry, engineOpts: Sam1EngineOptions = {}): Promise<Sam1Engine> {
    const { precision, cacheDir, ...opts } = engineOpts;
    if (entry.family !== 'sam1') {
      throw new MedsamError(`model '${entry.id}' is a ${entry.family} model, not sam1`, 'use the engine for its family');
    }
    const encoderModel = precision === 'int8' ? (await int8Model(entry.files.encoder!, cacheDir)).bytes : entry.files.encoder!;
    const encoder = await OrtSession.create(encoderModel, { ...opts, module: 'image_encoder' });
    const decoder = await OrtSession.create(entry.files.decoder!, { ...opts, module: 'prompt_mask_decoder' });
    for (const name of ['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size']) {
      if (!decoder.inputNames.includes(name)) {
        throw new MedsamError(
          `decoder ${decoder.label} of model '${entry.id}' has no input '${name}' (has: ${decoder.inputNames.join(', ')})`,
          'a sam1 decoder must be a SAM ONNX export (prompt encoder + mask decoder)',
        );
      }
    }
    if (encoder.inputNames.length !== 1) {
      throw new MedsamError(
        `encoder ${encoder.label} of model '${entry.id}' has ${encoder.inputNames.length} inputs, expected 1 image input`,
        'a sam1 encoder takes one [1,3,S,S] image',
      );
    }
    return new Sam1Engine(entry, encoder, decoder, precision ?? 'fp32');
  }

  /** Encodes one uint8 gray slice (row-major h×w). */
  async encode(slice: Uint8Array, h: number, w: number): Promise<Sam1Embedding> {
    const img = samImageTensor(slice, h, w, this.entry.inputSize, this.entry.normalisation, 'longest-side');
    const name = this.encoder.inputNames[0]!;
    const out = await this.encoder.runFloat32({ [name]: { data: img.data, dims: img.dims } });
    const emb = out[this.encoder.outputNames[0]!]!;
    return { data: emb.data, dims: emb.dims, frame: img.frame };
  }

  /** Encodes one interleaved RGB picture (row-major h×w×3), e.g. a video frame, in colour. */
  async encodeRgb(rgb: Uint8Array, h: number, w: number): Promise<Sam1Embedding> {
    const img = samImageTensorRgb(rgb, h, w, this.entry.inputSize, this.entry.normalisation, 'longest-side');
    const name = this.encoder.inputNames[0]!;
    const out = await this.encoder.runFloat32({ [name]: { data: img.data, dims: img.dims } });
    const emb = out[this.encoder.outputNames[0]!]!;
    return { data: emb.data, dims: emb.dims, frame: img.frame };
  }

  /**
   * Decodes a prompt on an embedded slice. `maskInput` is a previous lowRes output (SAM's mask
   * prompt works best with its own low-res logits). At least one of box / points / maskInput is needed.
   */
  async decode(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded> {
    return sam1Decoded(await this.decoder.runFloat32(sam1DecoderFeeds(emb, prompt, maskInput)), emb.frame);
  }

  async release(): Promise<void> {
    await this.encoder.release();
    await this.decoder.release();
  }
}

/**
 * The SAM ONNX decoder's feeds for a prompt on an embedded slice (what Sam1Engine.decode runs;
 * exported so the same decode can run on another thread). `maskInput` is a previous lowRes output.
 */
export function sam1DecoderFeeds(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Float32Feeds {
  const pts = prompt.points ?? [];
  if (!prompt.box && pts.length === 0 && !maskInput) {
    throw new MedsamError('a SAM prompt needs a box, a point or a mask', 'give at least one of them');
  }
  const f = emb.frame;
  const n = pts.length + (prompt.box ? 2 : 1);
  const coords = new Float32Array(2 * n);
  const labels = new Float32Array(n);
  let k = 0;
  for (const p of pts) {
    const [x, y] = toModelCoords(f, p.x, p.y);
    coords[2 * k] = x;
    coords[2 * k + 1] = y;
    labels[k] = p.label;
    k++;
  }
  if (prompt.box) {
    const [x0, y0, x1, y1] = prompt.box;
    const [a, b] = toModelCoords(f, x0, y0);
    const [c, d] = toModelCoords(f, x1, y1);
    coords[2 * k] = a;
    coords[2 * k + 1] = b;
    labels[k] = 2;
    k++;
    coords[2 * k] = c;
    coords[2 * k + 1] = d;
    labels[k] = 3;
    k++;
  } else {
    // SAM's ONNX export expects a padding point (label -1) when there is no box.
    coords[2 * k] = 0;
    coords[2 * k + 1] = 0;
    labels[k] = -1;
    k++;
  }
  const lowSize = SAM1_LOW_RES * SAM1_LOW_RES;
  if (maskInput && maskInput.length !== lowSize) {
    throw new MedsamError(
      `mask prompt has ${maskInput.length} values, expected ${SAM1_LOW_RES}x${SAM1_LOW_RES}`,
      'pass a lowRes output of decode()',
    );
  }
  return {
    image_embeddings: { data: emb.data, dims: emb.dims },
    point_coords: { data: coords, dims: [1, n, 2] },
    point_labels: { data: labels, dims: [1, n] },
    mask_input: { data: maskInput ?? new Float32Array(lowSize), dims: [1, 1, SAM1_LOW_RES, SAM1_LOW_RES] },
    has_mask_input: { data: new Float32Array([maskInput ? 1 : 0]), dims: [1] },
    orig_im_size: { data: new Float32Array([f.srcH, f.srcW]), dims: [2] },
  };
}

/** Sam1Decoded from the decoder's outputs (checked against the slice size). */
export function sam1Decoded(out: Record<string, Float32Output>, f: SamFrame): Sam1Decoded {
  const lowSize = SAM1_LOW_RES * SAM1_LOW_RES;
  const masks = out.masks!,
    low = out.low_res_masks!,
    iou = out.iou_predictions!;
  if (masks.data.length !== f.srcH * f.srcW) {
    throw new MedsamError(
      `decoder returned masks of shape [${masks.dims.join(',')}], expected ${f.srcH}x${f.srcW}`,
      'the decoder must be a single-mask SAM ONNX export with orig_im_size',
    );
  }
  return { logits: masks.data, lowRes: low.data.slice(0, lowSize), iou: iou.data[0]! };
}
