import { MedsamError } from '../common/errors.js';

/** Thrown by propagate() when its AbortSignal fires (or Session.cancel() is called); the session is left as before the call. */
export class PropagationCancelled extends MedsamError {
  constructor() {
    super('propagation was cancelled', 'the session is unchanged; propagate again when ready', 3);
    this.name = 'PropagationCancelled';
  }
}
