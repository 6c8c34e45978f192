import type { Worker } from 'node:worker_threads';
import { MedsamError } from '../common/errors.js';
import { sam1Decoded, sam1DecoderFeeds, type Sam1Decoded, type Sam1Embedding, type Sam1Prompt } from '../engine/sam1Engine.js';
import { reportOrtRun } from '../engine/ortRunObserver.js';
import type { ModelEntry } from '../models/registry.js';
import type { Sam1Decoder } from '../predictor/sam1Propagator.js';
import { spawnSiblingWorker } from '../platform/siblingWorker.js';

export interface DecodeRequest {
  id: number;
  /** Every feed but image_embeddings. */
  feeds: Record<string, { data: Float32Array; dims: readonly number[] }>;
  /** The slice embedding: its id, and its data unless this worker holds it already. */
  emb: { id: number; dims: readonly number[]; data?: Float32Array };
}

/**
 * The embeddings a worker keeps, newest last. The pool mirrors the same list per worker (same
 * operations, same message order), so it knows which embeddings it need not send again: a click
 * is usually on the slice of the previous click, and copying 4 MiB per click costs milliseconds.
 */
export const EMBEDDINGS_KEPT = 4;
export function touchKept<T>(kept: Map<number, T>, id: number, value: T): void {
  kept.delete(id);
  kept.set(id, value);
  while (kept.size > EMBEDDINGS_KEPT) kept.delete(kept.keys().next().value as number);
}
/** A decode's outputs and its ORT run time (reported on the main thread, where /metrics attributes it). */
export type DecodeReply =
  | { id: number; out: Record<string, { data: Float32Array; dims: number[] }>; seconds: number }
  | { id: number; error: string };

/**
 * Clicks on both cores. onnxruntime-node runs a session synchronously on the thread that calls it,
 * so on the main thread one click's decoder run holds the event loop and the other cores idle
 * however many clicks wait. A ClickDecoderPool keeps `size` worker threads, each with its own
 * one-thread ORT session of the model's SAM1 decoder, and hands each decode to an idle one: two
 * clicks decode at once on two cores, and the main thread stays free for HTTP and bookkeeping
 * meanwhile. The feeds and outputs are exactly those of Sam1Engine.decode (same model file, same
 * session options), so a click's mask does not depend on which thread decoded it.
 */
export class ClickDecoderPool implements Sam1Decoder {
  private readonly idle: Worker[] = [];
  private readonly all: Worker[] = [];
  private readonly waiting: { req: DecodeRequest; data: Float32Array; done: (r: DecodeReply) => void }[] = [];
  /** Which embeddings each worker holds (mirrors the worker's own list). */
  private readonly kept = new Map<Worker, Map<number, true>>();
  private readonly embIds = new WeakMap<Float32Array, number>();
  private embSeq = 0;
  private readonly inFlight = new Map<number, { worker: Worker; done: (r: DecodeReply) => void }>();
  private seq = 0;
  private failed: Error | undefined;

  constructor(
    readonly modelPath: string,
    readonly size: number,
    readonly threads = 1,
  ) {
    for (let i = 0; i < size; i++) {
      const w = spawnSiblingWorker(import.meta.url, 'clickDecoderWorker', { modelPath, threads });
      w.unref(); // a forgotten pool never keeps the process alive
      w.on('message', (r: DecodeReply) => {
        const job = this.inFlight.get(r.id);
        if (!job) return;
        this.inFlight.delete(r.id);
        job.done(r);
        this.release(w);
      });
      w.on('error', (e) => this.fail(e));
      this.all.push(w);
      this.idle.push(w);
      this.kept.set(w, new Map());
    }
  }

  async decode(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded> {
    const { image_embeddings: e, ...feeds } = sam1DecoderFeeds(emb, prompt, maskInput);
    let embId = this.embIds.get(e!.data);
    if (embId === undefined) this.embIds.set(e!.data, (embId = ++this.embSeq));
    const reply = await new Promise<DecodeReply>((done) => {
      const req: DecodeRequest = { id: ++this.seq, feeds, emb: { id: embId, dims: e!.dims } };
      if (this.failed) done({ id: req.id, error: this.failed.message });
      else this.waiting.push({ req, data: e!.data, done });
      this.pump();
    });
    if ('error' in reply)
      throw new MedsamError(`running the decoder ${this.modelPath} on a worker thread failed: ${reply.error}`, 'check the model file');
    // The worker's run counts like a main-thread decoder run (ortRunObserver.ts): /metrics sees every click.
    reportOrtRun('prompt_mask_decoder', reply.seconds);
    return sam1Decoded(reply.out, emb.frame);
  }

  private pump(): void {
    while (this.idle.length && this.waiting.length) {
      const { req, data, done } = this.waiting.shift()!;
      // An idle worker that holds this embedding, else any idle one (which is then sent it).
      const at = this.idle.findIndex((w) => this.kept.get(w)!.has(req.emb.id));
      const w = this.idle.splice(at >= 0 ? at : this.idle.length - 1, 1)[0]!;
      const kept = this.kept.get(w)!;
      if (!kept.has(req.emb.id)) req.emb.data = data;
      touchKept(kept, req.emb.id, true);
      this.inFlight.set(req.id, { worker: w, done });
      w.postMessage(req);
    }
  }

  private release(w: Worker): void {
    this.idle.push(w);
    this.pump();
  }

  /** A worker that cannot load the model fails every decode with the reason (never hangs). */
  private fail(e: Error): void {
    this.failed ??= e;
    for (const [id, job] of this.inFlight) job.done({ id, error: e.message });
    this.inFlight.clear();
    for (const { req, done } of this.waiting.splice(0)) done({ id: req.id, error: e.message });
  }

  /**
   * Each worker releases its ORT session and ends by itself (see clickDecoderWorker.ts: a
   * terminate() from outside while a session lives can abort the process); terminate() only for a
   * worker that has not ended within 10 s.
   */
  async close(): Promise<void> {
    this.fail(new Error('the server is shutting down'));
    await Promise.all(
      this.all.map(
        (w) =>
          new Promise<void>((done) => {
            const timer = setTimeout(() => void w.terminate().then(() => done()), 10_000);
            w.once('exit', () => {
              clearTimeout(timer);
              done();
            });
            w.postMessage('close');
          }),
      ),
    );
  }
}

/** One pool per SAM1 decoder file, opened on first use; other families decode on the main thread. */
export class ClickDecoders {
  private readonly pools = new Map<string, ClickDecoderPool>();

  constructor(
    readonly workers: number,
    readonly threadsPerWorker = 1,
  ) {}

  /** The pool for `entry`'s decoder, or undefined when clicks of this model decode on the main thread. */
  for(entry: ModelEntry): ClickDecoderPool | undefined {
    if (this.workers < 1 || entry.family !== 'sam1' || !entry.files.decoder) return undefined;
    const path = entry.files.decoder;
    let p = this.pools.get(path);
    if (!p) this.pools.set(path, (p = new ClickDecoderPool(path, this.workers, this.threadsPerWorker)));
    return p;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}
