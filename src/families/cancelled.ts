import { MedsamError } from '../common/errors.js';

/** Thrown by propagate() when its AbortSignal fires (or Session.cancel() is called); the session is left as before the call. */
export class PropagationCancelled extends MedsamError {
  constructor() {
    super('propagation was cancelled', 'the session is unchanged; propagate again when ready', 3);
    this.name = 'PropagationCancelled';
  }
}

/**
 * The check pipelines make before each step that cannot be interrupted once started (loading a
 * model, encoding a key slice, a case of an evaluation): an ONNX Runtime run in Node cannot be
 * stopped midway, so a cancel takes effect when the running step ends and the next never starts.
 */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new PropagationCancelled();
}
