import cliProgress from 'cli-progress';

export type ProgressFn = (done: number, total: number, stage: string) => void;

/**
 * A progress bar on stderr, only when stderr is a terminal and not --quiet (so logs and pipes get
 * no control characters). Returns the callback and a `stop` to call when the work ends.
 */
export function progressBar(enabled: boolean, unit = 'slices'): { onProgress?: ProgressFn; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `{stage} [{bar}] {value}/{total} ${unit} | {duration_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    onProgress: (done, total, stage) => {
      if (!started) {
        bar.start(total, done, { stage });
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done, { stage });
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
