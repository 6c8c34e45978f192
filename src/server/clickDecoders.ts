import { Worker } from 'node:worker_threads';
import { MedsamError } from '../common/errors.js';
import { sam1Decoded, sam1DecoderFeeds, type Sam1Decoded, type Sam1Embedding, type Sam1Prompt } from '../engine/sam1Engine.js';
import type { ModelEntry } from '../models/registry.js';
import type { Sam1Decoder } from '../predictor/sam1Propagator.js';
import type { DecodeReply, DecodeRequest } from './clickDecoderWorker.js';

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
  private readonly waiting: { req: DecodeRequest; done: (r: DecodeReply) => void }[] = [];
  private readonly inFlight = new Map<number, { worker: Worker; done: (r: DecodeReply) => void }>();
  private seq = 0;
  private failed: Error | undefined;

  constructor(
    readonly modelPath: string,
    readonly size: number,
  ) {
    for (let i = 0; i < size; i++) {
      const w = spawnWorker(modelPath);
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
    }
  }

  async decode(emb: Sam1Embedding, prompt: Sam1Prompt, maskInput?: Float32Array): Promise<Sam1Decoded> {
    const feeds = sam1DecoderFeeds(emb, prompt, maskInput);
    const reply = await new Promise<DecodeReply>((done) => {
      const req: DecodeRequest = { id: ++this.seq, feeds };
      if (this.failed) done({ id: req.id, error: this.failed.message });
      else this.waiting.push({ req, done });
      this.pump();
    });
    if ('error' in reply)
      throw new MedsamError(`running the decoder ${this.modelPath} on a worker thread failed: ${reply.error}`, 'check the model file');
    return sam1Decoded(reply.out, emb.frame);
  }

  private pump(): void {
    while (this.idle.length && this.waiting.length) {
      const w = this.idle.pop()!;
      const { req, done } = this.waiting.shift()!;
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

  async close(): Promise<void> {
    this.fail(new Error('the server is shutting down'));
    await Promise.all(this.all.map((w) => w.terminate()));
  }
}

/** One pool per SAM1 decoder file, opened on first use; other families decode on the main thread. */
export class ClickDecoders {
  private readonly pools = new Map<string, ClickDecoderPool>();

  constructor(readonly workers: number) {}

  /** The pool for `entry`'s decoder, or undefined when clicks of this model decode on the main thread. */
  for(entry: ModelEntry): ClickDecoderPool | undefined {
    if (this.workers < 1 || entry.family !== 'sam1' || !entry.files.decoder) return undefined;
    const path = entry.files.decoder;
    let p = this.pools.get(path);
    if (!p) this.pools.set(path, (p = new ClickDecoderPool(path, this.workers)));
    return p;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
  }
}

/**
 * A worker running clickDecoderWorker: the compiled .js next to this file, or (running from the
 * TypeScript sources under tsx, as tests and scripts do) the .ts through tsx's loader, which a
 * worker does not inherit from the parent's --import.
 */
function spawnWorker(modelPath: string): Worker {
  const workerData = { modelPath, threads: 1 };
  if (import.meta.url.endsWith('.ts')) {
    const url = new URL('./clickDecoderWorker.ts', import.meta.url).href;
    return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url)}); });`, {
      eval: true,
      execArgv: [],
      workerData,
    });
  }
  return new Worker(new URL('./clickDecoderWorker.js', import.meta.url), { workerData });
}
