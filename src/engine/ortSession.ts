import type { InferenceSession, Tensor } from 'onnxruntime-common';
import { MedsamError, errorMessage } from '../common/errors.js';
import { getPlatform } from '../platform/platform.js';
import { reportOrtRun } from './ortRunObserver.js';

/** Options shared by every ONNX model the package runs. */
export interface OrtSessionOptions {
  /** Intra-op threads; default = number of logical cores. */
  threads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Only 'cpu' is shipped with onnxruntime-node on every platform. */
  executionProviders?: string[];
  /**
   * Let idle intra-op threads spin after a run (ORT's own default; off here unless asked for).
   * Every model of the package runs between JS that prepares the next call, in chains of models
   * run back to back, beside other sessions (the server's) and processes: a spinning idle thread
   * holds the core they need. Measured on 2 cores: SAM2's memory encoder 0.60 → 0.40 s per flow;
   * the default model's 184 click-protocol decodes 44–50 → 21–23 s under load; SAM2 parity flows
   * 70.1 / 64.7 → 62.4 / 62.7 s wall near-quiet. Outputs are the same bits.
   */
  allowSpinning?: boolean;
  /** What this model is (image_encoder, prompt_mask_decoder, memory_attention, …): names its runs for the ORT run observer. */
  module?: string;
}

/** One tensor's declared type and shape (string entries are symbolic dims). */
export interface OrtIoSpec {
  name: string;
  type: string;
  shape: (number | string)[];
}

export type Float32Feeds = Record<string, { data: Float32Array; dims: readonly number[] }>;
export interface Float32Output {
  data: Float32Array;
  dims: number[];
}

/**
 * A thin, typed wrapper around an ORT InferenceSession (the runtime comes from the platform:
 * onnxruntime-node or onnxruntime-web): loads from a resource name (path/URL) or bytes with
 * clear errors, checks feeds against the model's declared inputs before running (ORT's own
 * messages name C++ internals), and returns plain Float32Arrays.
 */
export class OrtSession {
  private constructor(
    readonly session: InferenceSession,
    /** A short name for messages: the file path or "<bytes>". */
    readonly label: string,
    readonly inputs: OrtIoSpec[],
    readonly outputs: OrtIoSpec[],
    /** The module name runs are reported under (ortRunObserver.ts). */
    readonly module: string,
  ) {}

  /**
   * Runs started and not yet settled. A cancelled propagation lets its model call go without
   * waiting (families/cancelGate.ts), so release() can come while that run is still in ORT:
   * releasing the session under it drops the run's completion, and a command awaiting release
   * then never ends (Node exits 13, unsettled top-level await). release() waits for them first.
   */
  private readonly inFlight = new Set<Promise<unknown>>();

  static async create(model: string | Uint8Array, opts: OrtSessionOptions = {}): Promise<OrtSession> {
    const label = typeof model === 'string' ? model : `<${model.byteLength} bytes of ONNX>`;
    const platform = getPlatform();
    let source: string | Uint8Array = model;
    if (typeof model === 'string') {
      const info = await platform.resourceInfo(model);
      if (!info || info.isFolder) {
        throw new MedsamError(`model file ${model} does not exist`, 'check the path, or reinstall the package that ships it');
      }
      if (info.size === 0) {
        throw new MedsamError(`model file ${model} is empty`, 're-download or re-import the model');
      }
      source = await platform.ortModel(model);
    }
    const threads = opts.threads ?? platform.hardwareConcurrency();
    if (!Number.isInteger(threads) || threads < 1) {
      throw new MedsamError(`threads=${threads} is not a positive integer`, 'pass e.g. threads: 2');
    }
    const sessionOptions: InferenceSession.SessionOptions = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
      executionProviders: opts.executionProviders ?? ['cpu'],
      ...(opts.allowSpinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
    };
    let session: InferenceSession;
    try {
      session =
        typeof source === 'string'
          ? await platform.ort.InferenceSession.create(source, sessionOptions)
          : await platform.ort.InferenceSession.create(source, sessionOptions);
    } catch (e) {
      throw new MedsamError(
        `cannot load ONNX model ${label}: ${firstLine(errorMessage(e))}`,
        'the file is corrupt or not an ONNX model; re-download or re-import it',
      );
    }
    return new OrtSession(session, label, ioSpecs(session, 'input'), ioSpecs(session, 'output'), opts.module ?? 'other');
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs with float32 feeds; checks names, ranks and fixed dims first. */
  async runFloat32(feeds: Float32Feeds, outputNames?: string[]): Promise<Record<string, Float32Output>> {
    this.checkFeeds(feeds);
    const ortFeeds: Record<string, Tensor> = {};
    const { Tensor: OrtTensor } = getPlatform().ort;
    for (const [name, f] of Object.entries(feeds)) ortFeeds[name] = new OrtTensor('float32', f.data, f.dims as number[]);
    let results: InferenceSession.OnnxValueMapType;
    try {
      const t0 = performance.now();
      const run = outputNames ? this.session.run(ortFeeds, outputNames) : this.session.run(ortFeeds);
      this.inFlight.add(run);
      try {
        results = await run;
      } finally {
        this.inFlight.delete(run);
      }
      reportOrtRun(this.module, (performance.now() - t0) / 1000);
    } catch (e) {
      throw new MedsamError(
        `running ONNX model ${this.label} failed: ${firstLine(errorMessage(e))}`,
        'the model does not match the inputs this package builds; check the model registry entry',
      );
    }
    const out: Record<string, Float32Output> = {};
    for (const [name, t] of Object.entries(results)) {
      const tensor = t as Tensor;
      if (tensor.type !== 'float32') {
        throw new MedsamError(
          `ONNX model ${this.label} output ${name} is ${tensor.type}, expected float32`,
          'use a model exported with float32 outputs',
        );
      }
      out[name] = { data: tensor.data as Float32Array, dims: [...tensor.dims] };
    }
    return out;
  }

  /** Throws a MedsamError naming the first feed that does not fit the model's inputs. */
  checkFeeds(feeds: Float32Feeds): void {
    const given = Object.keys(feeds);
    for (const spec of this.inputs) {
      const f = feeds[spec.name];
      if (!f) {
        throw new MedsamError(
          `ONNX model ${this.label} needs input '${spec.name}' but it was not given (given: ${given.join(', ')})`,
          'the model is not the kind the registry entry says; check its family',
        );
      }
      if (spec.type !== 'float32') {
        throw new MedsamError(
          `ONNX model ${this.label} input '${spec.name}' is ${spec.type}, expected float32`,
          'use a model exported with float32 inputs',
        );
      }
      if (spec.shape.length > 0 && spec.shape.length !== f.dims.length) {
        throw new MedsamError(
          `ONNX model ${this.label} input '${spec.name}' has rank ${spec.shape.length} [${spec.shape.join(',')}], given [${f.dims.join(',')}]`,
          'the model does not match the registry entry (input size / family)',
        );
      }
      spec.shape.forEach((d, i) => {
        if (typeof d === 'number' && d >= 0 && d !== f.dims[i]) {
          throw new MedsamError(
            `ONNX model ${this.label} input '${spec.name}' expects [${spec.shape.join(',')}], given [${f.dims.join(',')}]`,
            'the model does not match the registry entry (input size / family)',
          );
        }
      });
      const n = f.dims.reduce((a, b) => a * b, 1);
      if (n !== f.data.length) {
        throw new MedsamError(
          `input '${spec.name}' has ${f.data.length} values but dims [${f.dims.join(',')}] need ${n}`,
          'this is a bug in the caller; please report it',
        );
      }
    }
    for (const name of given) {
      if (!this.inputs.some((s) => s.name === name)) {
        throw new MedsamError(
          `ONNX model ${this.label} has no input '${name}' (inputs: ${this.inputs.map((s) => s.name).join(', ')})`,
          'the model is not the kind the registry entry says; check its family',
        );
      }
    }
  }

  async release(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
    await this.session.release();
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 300);
}

function ioSpecs(session: InferenceSession, kind: 'input' | 'output'): OrtIoSpec[] {
  const names = kind === 'input' ? session.inputNames : session.outputNames;
  // onnxruntime-node >= 1.21 exposes per-tensor metadata; older builds only names.
  const meta = (
    kind === 'input'
      ? (session as unknown as { inputMetadata?: unknown[] }).inputMetadata
      : (session as unknown as { outputMetadata?: unknown[] }).outputMetadata
  ) as { name: string; isTensor: boolean; type?: string; shape?: (number | string)[] }[] | undefined;
  return names.map((name, i) => {
    const m = meta?.[i];
    if (m?.isTensor) return { name, type: m.type ?? 'float32', shape: m.shape ?? [] };
    return { name, type: 'float32', shape: [] };
  });
}
