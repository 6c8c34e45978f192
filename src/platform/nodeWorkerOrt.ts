/**
 * An ONNX Runtime whose sessions run on worker threads (Node only). onnxruntime-node's
 * `InferenceSession.run()` returns a Promise but runs the graph synchronously on the calling
 * thread (microsoft/onnxruntime #19611, #26968), so in `medsam2 serve` every model call of a
 * propagation or job blocked the event loop for its whole length: no other request, cancel or
 * SSE event was answered meanwhile. This module implements the part of onnxruntime-common's
 * `InferenceSession` that OrtSession uses (create, inputNames/outputNames and their metadata,
 * run, release) with one worker per session that holds the real session, created with the same
 * options, so results are bit-identical. Hand-written: no library offers this for onnxruntime-node.
 * The server installs it (`useWorkerOrt`); the CLI and the library keep the in-process runtime.
 */
import type { Worker } from 'node:worker_threads';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import * as ort from 'onnxruntime-node';
import { nodePlatform } from './node.js';
import { type OrtRuntime, type Platform, getPlatform, setPlatform } from './platform.js';
import { spawnSiblingWorker } from './siblingWorker.js';

/** The typed arrays a tensor's data can be (ORT's own union, less string tensors). */
type TypedArray = Exclude<Tensor.DataType, string[]>;

/** A tensor as it crosses the thread boundary. */
export interface WireTensor {
  type: string;
  dims: number[];
  data: TypedArray | string[];
}

export type WorkerOrtRequest =
  | { id: number; kind: 'create' }
  | { id: number; kind: 'run'; feeds: Record<string, WireTensor>; fetches?: string[]; options?: InferenceSession.RunOptions }
  | { id: number; kind: 'release' };

export interface WorkerSessionInfo {
  inputNames: string[];
  outputNames: string[];
  inputMetadata?: unknown;
  outputMetadata?: unknown;
}

export interface WorkerOrtReply {
  id: number;
  error?: string;
  info?: WorkerSessionInfo;
  outputs?: Record<string, WireTensor>;
}

let runsInFlight = 0;

/** Runs posted to a worker and not yet answered, process-wide (tests use it to show the loop answers meanwhile). */
export function workerOrtRunsInFlight(): number {
  return runsInFlight;
}

/** One ORT session held by its own worker thread; messages go one at a time. */
export class WorkerInferenceSession {
  private nextId = 1;
  private queue: Promise<unknown> = Promise.resolve();
  private pending?: { id: number; resolve: (r: WorkerOrtReply) => void; reject: (e: Error) => void };
  private exited = false;

  private constructor(
    private readonly worker: Worker,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
    readonly inputMetadata: unknown,
    readonly outputMetadata: unknown,
  ) {}

  /** Starts a worker that creates the session from a file path or ONNX bytes with these options. */
  static async create(model: string | Uint8Array, options: InferenceSession.SessionOptions = {}): Promise<WorkerInferenceSession> {
    if (typeof model !== 'string' && !(model instanceof Uint8Array)) {
      throw new TypeError('the worker ORT runtime creates sessions from a file path or a Uint8Array only');
    }
    const worker = spawnSiblingWorker(import.meta.url, 'nodeWorkerOrtThread', { model, options });
    // Until `session` exists the worker answers through this one-off channel.
    const first = new Promise<WorkerOrtReply>((resolve, reject) => {
      const onMessage = (r: WorkerOrtReply) => {
        worker.off('exit', onExit);
        worker.off('error', onError);
        resolve(r);
      };
      const onError = (e: Error) => reject(e);
      const onExit = (code: number) => reject(new Error(`the ONNX Runtime worker thread exited (code ${code}) while creating the session`));
      worker.once('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
    });
    worker.postMessage({ id: 0, kind: 'create' } satisfies WorkerOrtRequest);
    const r = await first;
    if (r.error || !r.info) {
      // The worker's session failed to load: ask it to end by itself (it holds no session).
      worker.postMessage({ id: 1, kind: 'release' } satisfies WorkerOrtRequest);
      throw new Error(r.error ?? 'the ONNX Runtime worker thread gave no session information');
    }
    const s = new WorkerInferenceSession(worker, r.info.inputNames, r.info.outputNames, r.info.inputMetadata, r.info.outputMetadata);
    s.listen();
    worker.unref();
    return s;
  }

  private listen(): void {
    this.worker.on('message', (r: WorkerOrtReply) => {
      const p = this.pending;
      if (p && p.id === r.id) {
        this.pending = undefined;
        p.resolve(r);
      }
    });
    const fail = (e: Error) => {
      const p = this.pending;
      this.pending = undefined;
      p?.reject(e);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      this.exited = true;
      fail(new Error(`the ONNX Runtime worker thread exited (code ${code})`));
    });
  }

  /** Posts one request once the previous one is answered; the worker is ref'd while it works, so a pending run keeps the process alive. */
  private send(build: (id: number) => { msg: WorkerOrtRequest; transfer?: ArrayBuffer[] }): Promise<WorkerOrtReply> {
    const next = this.queue.then(() =>
      new Promise<WorkerOrtReply>((resolve, reject) => {
        if (this.exited) return reject(new Error('the ONNX Runtime session was released'));
        const id = this.nextId++;
        const { msg, transfer } = build(id);
        this.pending = { id, resolve, reject };
        this.worker.ref();
        this.worker.postMessage(msg, transfer ?? []);
      }).finally(() => {
        if (!this.exited) this.worker.unref();
      }),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }

  async run(
    feeds: InferenceSession.FeedsType,
    fetchesOrOptions?: readonly string[] | InferenceSession.RunOptions | InferenceSession.FetchesType,
    maybeOptions?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType> {
    let fetches: string[] | undefined;
    let options: InferenceSession.RunOptions | undefined = maybeOptions;
    if (Array.isArray(fetchesOrOptions)) fetches = [...(fetchesOrOptions as string[])];
    else if (fetchesOrOptions && typeof fetchesOrOptions === 'object') {
      if (Object.keys(fetchesOrOptions).some((k) => this.outputNames.includes(k))) {
        throw new TypeError('the worker ORT runtime takes output names as a string array, not pre-allocated fetches');
      }
      options = fetchesOrOptions as InferenceSession.RunOptions;
    }
    const wire: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, t] of Object.entries(feeds)) {
      // A copy the worker owns: the caller may reuse its buffers, and a view must not ship its whole buffer.
      const data = ArrayBuffer.isView(t.data) ? (t.data as TypedArray).slice() : [...(t.data as string[])];
      if (ArrayBuffer.isView(data)) transfer.push(data.buffer as ArrayBuffer);
      wire[name] = { type: t.type, dims: [...t.dims], data };
    }
    runsInFlight++;
    let r: WorkerOrtReply;
    try {
      r = await this.send((id) => ({ msg: { id, kind: 'run', feeds: wire, fetches, options }, transfer }));
    } finally {
      runsInFlight--;
    }
    if (r.error) throw new Error(r.error);
    const out: Record<string, ort.Tensor> = {};
    for (const [name, t] of Object.entries(r.outputs ?? {})) {
      out[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
    }
    return out as unknown as InferenceSession.ReturnType;
  }

  /** Releases the session; the worker then ends by itself. */
  async release(): Promise<void> {
    if (this.exited) return;
    const ended = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    const r = await this.send((id) => ({ msg: { id, kind: 'release' } }));
    if (r.error) throw new Error(r.error);
    // Held until the thread has ended, so a caller that awaits release() sees no handle left.
    this.worker.ref();
    await ended;
  }

  async startProfiling(): Promise<void> {}
  async endProfiling(): Promise<void> {}
}

/** onnxruntime-node with sessions on worker threads (tensors and env are onnxruntime-node's own). */
export const workerOrtRuntime: OrtRuntime = {
  InferenceSession: WorkerInferenceSession as unknown as typeof InferenceSession,
  Tensor: ort.Tensor,
  env: ort.env,
};

/** The same platform with model sessions on worker threads. */
export function withWorkerOrt(p: Platform): Platform {
  return { ...p, ort: workerOrtRuntime };
}

/**
 * Makes every ORT session created from now on in this process run on a worker thread (the
 * server calls it at start-up). Only onnxruntime-node itself is swapped (the Node platform is
 * chosen here when none is set yet: the server runs on Node); a runtime a host injected is kept.
 */
export function useWorkerOrt(): void {
  let p: Platform;
  try {
    p = getPlatform();
  } catch {
    p = nodePlatform;
  }
  if (p.ort === nodePlatform.ort) setPlatform(withWorkerOrt(p));
}
