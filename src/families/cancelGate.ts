import { throwIfCancelled } from './cancelled.js';

/**
 * Where a cancel takes effect inside a propagation: before each model call (image encoder, mask
 * decoder, SAM2 memory attention / heads / memory encoder …), not only between slices. A slice of
 * the default model makes several calls (encode, box proposals, refining decodes) and a SAM2 frame
 * four or more, so checking per slice let a cancel wait for the rest of the slice. The call already
 * running still finishes: onnxruntime-node 1.22 cannot stop a run (its RunOptions parser reads only
 * logSeverityLevel and tag; `terminate` is WebAssembly-only), and the run blocks the thread it is on.
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

  /** `fn` behind the gate: a cancelled run rejects before the call starts. */
  wrap<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
    return async (...args: A) => {
      this.check();
      return fn(...args);
    };
  }
}
