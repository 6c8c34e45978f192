import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { MedsamError, errorMessage } from '../common/errors.js';
import type { Float32Feeds, Float32Output } from './ortSession.js';

/**
 * The worker's source, run as a CommonJS eval worker. It is a string, not a module file, so the
 * same code runs from `dist/` and under tsx (a Node 20 worker does not inherit tsx's loader, so a
 * `.ts` worker entry cannot be loaded in tests). It only owns one ORT session and answers
 * { id, feeds } with { id, outputs } (output buffers transferred, not copied).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ort = require(workerData.ortPath);
const fail = (id, e) => parentPort.postMessage({ type: 'error', id, message: String((e && e.message) || e) });
ort.InferenceSession.create(workerData.model, workerData.options).then((session) => {
  parentPort.postMessage({ type: 'ready' });
  parentPort.on('message', (m) => {
    const feeds = {};
    for (const [k, v] of Object.entries(m.feeds)) feeds[k] = new ort.Tensor('float32', v.data, v.dims);
    session.run(feeds).then((out) => {
      const outputs = {};
      const transfer = [];
      for (const [k, t] of Object.entries(out)) {
        let d = t.data;
        if (d.byteOffset !== 0 || d.byteLength !== d.buffer.byteLength) d = d.slice();
        outputs[k] = { data: d, dims: Array.from(t.dims, Number) };
        transfer.push(d.buffer);
      }
      parentPort.postMessage({ type: 'result', id: m.id, outputs }, transfer);
    }, (e) => fail(m.id, e));
  });
}, (e) => fail(-1, e));
`;

type Reply =
  | { type: 'ready' }
  | { type: 'result'; id: number; outputs: Record<string, Float32Output> }
  | { type: 'error'; id: number; message: string };

/**
 * One ONNX model in its own ORT session on a worker thread, so it runs on another core while the
 * main thread runs other sessions (onnxruntime-node's `run` blocks the calling thread). Used to
 * encode upcoming frames while the predictor tracks the current one. Requests are served in order.
 */
export class OrtWorkerSession {
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (o: Record<string, Float32Output>) => void; reject: (e: Error) => void }>();
  private failure: Error | undefined;

  private constructor(private readonly worker: Worker, readonly label: string) {
    worker.on('message', (m: Reply) => {
      if (m.type === 'ready') return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      // An idle worker must not keep the process alive; a busy one must (see run()).
      if (this.pending.size === 0) worker.unref();
      if (m.type === 'result') p.resolve(m.outputs);
      else p.reject(new MedsamError(`background run of ${label} failed: ${m.message}`, 'run with threads: 1 to use the main thread only, or re-import the model'));
    });
    const die = (e: Error) => {
      // The first cause wins: a crash's 'error' comes before its 'exit', a release before its 'exit'.
      const cause = (this.failure ??= e);
      for (const p of this.pending.values()) p.reject(cause);
      this.pending.clear();
    };
    worker.on('error', (e) => die(new MedsamError(`worker for ${label} crashed: ${errorMessage(e)}`, 'run with threads: 1 to use the main thread only')));
    worker.on('exit', () => die(new MedsamError(`worker for ${label} has stopped`, 'create a new engine')));
  }

  /** Starts the worker and loads `model` there with `threads` intra-op threads (no idle spinning). */
  static async create(model: Uint8Array, threads: number, label = `<${model.byteLength} bytes of ONNX>`): Promise<OrtWorkerSession> {
    if (!Number.isInteger(threads) || threads < 1) throw new MedsamError(`threads=${threads} is not a positive integer`, 'pass e.g. threads: 1');
    const ortPath = createRequire(import.meta.url).resolve('onnxruntime-node');
    const options = {
      intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionProviders: ['cpu'],
      // The worker runs back to back with the main thread's sessions on a shared machine.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    };
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath, model, options } });
    const ready = await new Promise<Reply>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }).catch((e: unknown) => ({ type: 'error', id: -1, message: errorMessage(e) }) as Reply);
    if (ready.type !== 'ready') {
      await worker.terminate();
      throw new MedsamError(`cannot load ${label} on a worker thread: ${ready.type === 'error' ? ready.message : 'no reply'}`, 'run with threads: 1 to use the main thread only');
    }
    worker.unref();
    return new OrtWorkerSession(worker, label);
  }

  /** Runs the model on a copy of `feeds` in the worker; resolves with all outputs. */
  runFloat32(feeds: Float32Feeds): Promise<Record<string, Float32Output>> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, feeds });
    });
  }

  async release(): Promise<void> {
    this.failure ??= new MedsamError(`worker for ${this.label} was released`, 'create a new engine');
    await this.worker.terminate();
  }
}
