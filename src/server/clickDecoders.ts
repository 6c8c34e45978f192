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

/** What a click gets when its worker ended before answering it: nothing is wrong with the click. */
const WORKER_ENDED = 'the click decoder thread ended before answering';

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
  /** The workers decodes go to (none until the first decode, and again after release()). */
  private workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  /** Every worker not yet exited, released ones still finishing included. */
  private readonly alive = new Set<Worker>();
  private readonly waiting: { req: DecodeRequest; data: Float32Array; done: (r: DecodeReply) => void }[] = [];
  /** Which embeddings each worker holds (mirrors the worker's own list). */
  private readonly kept = new Map<Worker, Map<number, true>>();
  private readonly embIds = new WeakMap<Float32Array, number>();
  private embSeq = 0;
  private readonly inFlight = new Map<number, { worker: Worker; done: (r: DecodeReply) => void }>();
  private seq = 0;
  /** Why the current workers cannot decode (a model that does not load); cleared by release(). */
  private failed: Error | undefined;
  private closed = false;
  /** Workers asked to end, and when they have (asked once each). */
  private readonly ending = new Map<Worker, Promise<void>>();

  constructor(
    readonly modelPath: string,
    readonly size: number,
    readonly threads = 1,
  ) {}

  /** Worker threads alive now (0 before the first decode and once release() or close() has ended them). */
  get liveWorkers(): number {
    return this.alive.size;
  }

  /** The workers, each with its own ORT session of the decoder, started on the first decode after none. */
  private start(): void {
    const { modelPath, threads } = this;
    for (let i = 0; i < this.size; i++) {
      const w = spawnSiblingWorker(import.meta.url, 'clickDecoderWorker', { modelPath, threads });
      w.unref(); // a forgotten pool never keeps the process alive
      w.on('message', (r: DecodeReply) => {
        const job = this.inFlight.get(r.id);
        if (!job) return;
        this.inFlight.delete(r.id);
        job.done(r);
        // A released worker answers what it was given, then ends: it takes no more.
        if (this.workers.includes(w)) {
          this.idle.push(w);
          this.pump();
        }
      });
      // A released worker's failure (while it ends) is not the current workers': exited() answers what it owed.
      w.on('error', (e) => {
        if (this.workers.includes(w)) this.fail(e);
      });
      w.once('exit', () => this.exited(w));
      this.workers.push(w);
      this.alive.add(w);
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
      if (this.closed) return done({ id: req.id, error: 'the server is shutting down' });
      if (this.failed) return done({ id: req.id, error: this.failed.message });
      if (!this.workers.length) this.start();
      this.waiting.push({ req, data: e!.data, done });
      this.pump();
    });
    if ('error' in reply)
      throw new MedsamError(
        `running the decoder ${this.modelPath} on a worker thread failed: ${reply.error}`,
        reply.error === WORKER_ENDED ? 'click again' : 'check the model file',
      );
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

  /** A worker that cannot load the model fails every decode with the reason (never hangs). */
  private fail(e: Error): void {
    this.failed ??= e;
    for (const [id, job] of this.inFlight) job.done({ id, error: e.message });
    this.inFlight.clear();
    for (const { req, done } of this.waiting.splice(0)) done({ id: req.id, error: e.message });
  }

  /** A worker gone: whatever it still owed is answered with a retryable error, never left waiting. */
  private exited(w: Worker): void {
    this.alive.delete(w);
    this.ending.delete(w);
    this.kept.delete(w);
    const at = this.workers.indexOf(w);
    if (at >= 0) this.workers.splice(at, 1);
    const idleAt = this.idle.indexOf(w);
    if (idleAt >= 0) this.idle.splice(idleAt, 1);
    for (const [id, job] of this.inFlight) {
      if (job.worker !== w) continue;
      this.inFlight.delete(id);
      job.done({ id, error: WORKER_ENDED });
    }
    // Clicks queued for a generation that is gone start the next one.
    if (!this.workers.length && this.waiting.length && !this.closed && !this.failed) {
      this.start();
      this.pump();
    }
  }

  /**
   * Ends the workers and their ORT sessions (the server calls it when the model pool releases the
   * model): each first answers the decodes it was given, then releases its session and exits. Clicks
   * still queued, and any later click, go to fresh workers, started on demand. Resolves once the
   * released workers have exited.
   */
  async release(): Promise<void> {
    const gen = this.workers;
    this.workers = [];
    this.idle.length = 0;
    this.failed = undefined;
    if (this.waiting.length && !this.closed) {
      this.start();
      this.pump();
    }
    await Promise.all(gen.map((w) => this.end(w)));
  }

  /** For good (server shutdown): pending clicks fail with why, every worker ends. */
  async close(): Promise<void> {
    this.closed = true;
    this.fail(new Error('the server is shutting down'));
    this.workers = [];
    this.idle.length = 0;
    await Promise.all([...this.alive].map((w) => this.end(w)));
  }

  private end(w: Worker): Promise<void> {
    let p = this.ending.get(w);
    if (!p) this.ending.set(w, (p = ended(w)));
    return p;
  }
}

/**
 * Asks a worker to release its ORT session and end by itself (see clickDecoderWorker.ts: a
 * terminate() from outside while a session lives can abort the process); terminate() only for a
 * worker that has not ended within 10 s. The worker handles messages in order, so a decode posted
 * before the close is answered first.
 */
function ended(w: Worker): Promise<void> {
  return new Promise<void>((done) => {
    const timer = setTimeout(() => void w.terminate().then(() => done()), 10_000);
    w.once('exit', () => {
      clearTimeout(timer);
      done();
    });
    w.postMessage('close');
  });
}

/**
 * One pool per SAM1 decoder file, its workers started on first use and ended when the model pool
 * releases the model (released()); other families decode on the main thread.
 */
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

  /** Worker threads alive across the pools (for tests and metrics). */
  get liveWorkers(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.liveWorkers;
    return n;
  }

  /**
   * `entry` was closed by the model pool: its decoder's workers end with it (~100 MB and 3 threads
   * each with 2 ORT threads), and the next click on that model starts them again.
   */
  async released(entry: ModelEntry): Promise<void> {
    const p = entry.family === 'sam1' && entry.files.decoder ? this.pools.get(entry.files.decoder) : undefined;
    await p?.release();
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}
