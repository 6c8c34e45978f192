import type { Precision } from '../models/precision.js';
import type { Interrupt } from './interrupt.js';
import type { ProgressFn } from './progress.js';

/** What `segment` and `video` pass their pipeline from the model flags, Ctrl-C and the progress bar. */
export interface ModelRunOptions {
  signal: AbortSignal;
  model: string;
  threads?: number;
  precision: Precision;
  onProgress?: ProgressFn;
}

/**
 * Runs one pipeline call of a long command under `interrupt` with its progress bar, stopped however
 * the call ends; a failure after a Ctrl-C becomes the interrupt's one line (interrupt.ts).
 */
export async function runModel<T>(
  interrupt: Interrupt,
  model: { model: string; threads?: number; precision: Precision },
  bar: { onProgress?: ProgressFn; stop(): void },
  work: (opts: ModelRunOptions) => Promise<T>,
): Promise<T> {
  try {
    return await interrupt.around(work({ signal: interrupt.signal, ...model, onProgress: bar.onProgress }));
  } finally {
    bar.stop();
  }
}
