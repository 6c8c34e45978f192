import { MedsamError } from '../common/errors.js';

/**
 * Ctrl-C (SIGINT) or SIGTERM during `segment` / `video` / `eval`: the first one aborts the returned
 * signal, which the pipelines check before each step (model load, key-slice encode, slice or frame,
 * eval's cases and objects), so the command stops before anything is written (outputs are only
 * written, whole, after the model has finished) and exits 130 with one line. While outputs are
 * being written the write is let finish, so they are whole or absent. A second Ctrl-C exits at
 * once, as Node would by default.
 */
export interface Interrupt {
  signal: AbortSignal;
  /** If the signal fired: the one-line error to throw instead of `e` (or instead of writing). */
  check(e?: unknown): void;
  /** Awaits the work; if it fails after the signal fired (PropagationCancelled), that one-line error instead. */
  around<T>(work: Promise<T>): Promise<T>;
  dispose(): void;
}

export const INTERRUPTED_EXIT = 130;

export function onInterrupt(): Interrupt {
  const ctl = new AbortController();
  let by = '';
  const handler = (sig: NodeJS.Signals) => {
    if (ctl.signal.aborted) process.exit(INTERRUPTED_EXIT);
    by = sig === 'SIGINT' ? 'Ctrl-C' : sig;
    ctl.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  const check = (e?: unknown): void => {
    if (ctl.signal.aborted)
      throw new MedsamError(`interrupted (${by}) before any output was written`, 'run the command again to redo it', INTERRUPTED_EXIT);
    if (e !== undefined) throw e;
  };
  return {
    signal: ctl.signal,
    check,
    async around<T>(work: Promise<T>): Promise<T> {
      try {
        return await work;
      } catch (e) {
        check(e);
        throw e;
      }
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
