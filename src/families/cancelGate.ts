import { PropagationCancelled, throwIfCancelled } from './cancelled.js';

/**
 * Where a cancel takes effect inside a propagation: before each model call (image encoder, mask
 * decoder, SAM2 memory attention / heads / memory encoder …), not only between slices. A slice of
 * the default model makes several calls (encode, box proposals, refining decodes) and a SAM2 frame
 * four or more, so checking per slice let a cancel wait for the rest of the slice. The call already
 * running is not waited for (wrap), but it runs to its end: onnxruntime-node 1.22 cannot stop a run
 * (its RunOptions parser reads only logSeverityLevel and tag; `terminate` is WebAssembly-only), the
 * run blocks the thread it is on, and ending a worker thread while its ORT session lives can abort
 * the process (nodeWorkerOrtThread.ts).
 *
 * A tracker owns one gate and routes its models through wrap(); propagate() opens the gate on its
 * signal for the duration of the run (`during`). A Session runs one interaction at a time, so one
 * signal per tracker is enough; outside `during` (prompts) the gate never throws.
 */
export class CancelGate {
  private signal: AbortSignal | undefined;

  /** Runs `fn` with every wrapped call checking `signal` first. */
  async during<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    const outer = this.signal;
    this.signal = signal;
    try {
      return await fn();
    } finally {
      this.signal = outer;
    }
  }

  /** Throws PropagationCancelled when the current run's signal has fired. */
  check(): void {
    throwIfCancelled(this.signal);
  }

  /**
   * `fn` behind the gate: a cancelled run rejects before the call starts, and a call in flight when
   * the signal fires is let go (its result is dropped, its failure swallowed) so the run unwinds at
   * once instead of waiting for it. Model calls are pure (inputs in, tensors out): what is dropped
   * changed nothing. The runtime still finishes that call (ORT cannot stop it), so the model's next
   * call — another run's — queues behind it on the server's worker thread.
   */
  wrap<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return (...args: A) => {
      const signal = this.signal;
      if (signal?.aborted) return Promise.reject(new PropagationCancelled());
      const run = fn(...args);
      if (!signal) return run;
      return new Promise<R>((resolve, reject) => {
        const onAbort = () => {
          run.catch(() => undefined);
          reject(new PropagationCancelled());
        };
        signal.addEventListener('abort', onAbort, { once: true });
        run.then(
          (v) => {
            signal.removeEventListener('abort', onAbort);
            resolve(v);
          },
          (e: unknown) => {
            signal.removeEventListener('abort', onAbort);
            reject(e);
          },
        );
      });
    };
  }
}
