/**
 * One worker thread of ClickDecoderPool: its own ORT session of a SAM1 decoder (one intra-op
 * thread) that runs the decoder feeds the main thread posts, one at a time, and posts the outputs
 * back. onnxruntime-node runs a session synchronously on the calling thread, so decodes on the
 * main thread would block the event loop and use one core however many clicks wait.
 */
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { type DecodeReply, type DecodeRequest, touchKept } from './clickDecoders.js';

const { modelPath, threads } = workerData as { modelPath: string; threads: number };
// The same session options as OrtSession.create, so results match a decode on the main thread.
const session = await ort.InferenceSession.create(modelPath, {
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  executionProviders: ['cpu'],
  // No idle-thread spinning, as OrtSession.create: two workers can share the cores, spinning threads would steal them.
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});

const kept = new Map<number, Float32Array>();

// Runs one message at a time, so a close waits for the decode in flight.
let busy: Promise<void> = Promise.resolve();

parentPort!.on('message', (m: DecodeRequest | 'close') => {
  busy = busy.then(() => (m === 'close' ? close() : decode(m)));
});

/**
 * Release the ORT session and let the thread end by itself: terminating a worker from outside
 * while onnxruntime-node holds a session (or is still creating it) can abort the whole process
 * ("terminate called after throwing an instance of 'Napi::Error'").
 */
async function close(): Promise<void> {
  await session.release();
  parentPort!.close();
}

async function decode(m: DecodeRequest): Promise<void> {
  try {
    const emb = m.emb.data ?? kept.get(m.emb.id);
    if (!emb) throw new Error(`embedding ${m.emb.id} is not held by this worker`);
    touchKept(kept, m.emb.id, emb);
    const feeds: Record<string, ort.Tensor> = { image_embeddings: new ort.Tensor('float32', emb, [...m.emb.dims]) };
    for (const [name, f] of Object.entries(m.feeds)) feeds[name] = new ort.Tensor('float32', f.data, [...f.dims]);
    const t0 = performance.now();
    const results = await session.run(feeds);
    const seconds = (performance.now() - t0) / 1000;
    const out: Record<string, { data: Float32Array; dims: number[] }> = {};
    for (const [name, t] of Object.entries(results)) out[name] = { data: t.data as Float32Array, dims: [...t.dims] };
    parentPort!.postMessage({ id: m.id, out, seconds } satisfies DecodeReply);
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) } satisfies DecodeReply);
  }
}
