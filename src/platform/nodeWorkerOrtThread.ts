/**
 * The thread behind one WorkerInferenceSession (nodeWorkerOrt.ts): creates the real
 * onnxruntime-node session with the options it was given and runs the feeds the main thread
 * posts, one message at a time, posting the outputs back (their buffers transferred, not copied).
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { WorkerOrtReply, WorkerOrtRequest, WireTensor } from './nodeWorkerOrt.js';

const { model, options } = workerData as { model: string | Uint8Array; options: ort.InferenceSession.SessionOptions };

let session: ort.InferenceSession | undefined;
let busy: Promise<void> = Promise.resolve();

parentPort!.on('message', (m: WorkerOrtRequest) => {
  busy = busy.then(() => handle(m));
});

async function handle(m: WorkerOrtRequest): Promise<void> {
  try {
    if (m.kind === 'create') {
      session =
        typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
      const s = session as unknown as { inputMetadata?: unknown; outputMetadata?: unknown };
      reply({
        id: m.id,
        info: {
          inputNames: [...session.inputNames],
          outputNames: [...session.outputNames],
          inputMetadata: s.inputMetadata,
          outputMetadata: s.outputMetadata,
        },
      });
    } else if (m.kind === 'run') {
      const feeds: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(m.feeds)) {
        feeds[name] = new ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
      }
      const results = m.fetches ? await session!.run(feeds, m.fetches, m.options ?? {}) : await session!.run(feeds, m.options ?? {});
      const outputs: Record<string, WireTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, v] of Object.entries(results)) {
        const t = v as ort.Tensor;
        let data = t.data as WireTensor['data'];
        if (ArrayBuffer.isView(data)) {
          // Transfer a buffer this tensor owns whole; copy a view into a shared or larger one first.
          const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
          if (!whole) data = (data as Float32Array).slice();
          if (!transfer.includes(data.buffer as ArrayBuffer)) transfer.push(data.buffer as ArrayBuffer);
        }
        outputs[name] = { type: t.type, dims: [...t.dims], data };
      }
      try {
        parentPort!.postMessage({ id: m.id, outputs } satisfies WorkerOrtReply, transfer);
      } catch {
        // A buffer ORT keeps (external memory) cannot be transferred: send copies.
        parentPort!.postMessage({ id: m.id, outputs } satisfies WorkerOrtReply);
      }
    } else {
      // Release, then let the thread end by itself: terminating it from outside while
      // onnxruntime-node holds a session can abort the whole process (clickDecoderWorker.ts).
      await session?.release();
      session = undefined;
      reply({ id: m.id });
      parentPort!.close();
    }
  } catch (e) {
    reply({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
}

function reply(r: WorkerOrtReply): void {
  parentPort!.postMessage(r);
}
