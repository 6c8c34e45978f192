/**
 * Per-model scheduling of ORT work. Each model has two lanes, each running a bounded number of
 * tasks at a time so the cores are not oversubscribed by many concurrent runs of one model:
 * - interactive: prompts/clicks (one short encoder+decoder run each), FIFO; one at a time, or as
 *   many as the model has click-decoder worker threads (their decoder runs leave the main thread);
 * - long: propagations before batch jobs (priority), one at a time.
 * The lanes run side by side, so a click never waits for a long propagation to finish: the
 * propagation's per-slice ORT runs and the click's run interleave on the event loop.
 */

export type Lane = 'interactive' | 'long';

interface Task {
  priority: number;
  seq: number;
  run: () => Promise<void>;
}

class LaneQueue {
  private readonly waiting: Task[] = [];
  private running = 0;
  private seq = 0;

  constructor(
    private readonly concurrency: number,
    private readonly onDepth: (depth: number) => void,
  ) {}

  get depth(): number {
    return this.waiting.length + this.running;
  }

  push<T>(priority: number, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ priority, seq: this.seq++, run: () => fn().then(resolve, reject) });
      // Lower priority value first, FIFO within a priority.
      this.waiting.sort((a, b) => a.priority - b.priority || a.seq - b.seq);
      this.pump();
    });
  }

  private pump(): void {
    this.onDepth(this.depth);
    while (this.running < this.concurrency && this.waiting.length) {
      const t = this.waiting.shift()!;
      this.running++;
      void t.run().finally(() => {
        this.running--;
        this.pump();
      });
    }
    this.onDepth(this.depth);
  }
}

/** Priorities within the long lane. */
export const PRIORITY = { interactive: 0, propagation: 1, job: 2 } as const;

export class WorkQueue {
  private readonly lanes = new Map<string, LaneQueue>();

  constructor(
    private readonly onDepth: (model: string, lane: Lane, depth: number) => void = () => {},
    /** Tasks a lane runs at once (asked once per lane): >1 only where they run on other threads (click workers). */
    private readonly concurrency: (model: string, lane: Lane) => number = () => 1,
    /** Wraps each task as it runs (the server attributes its ORT time to the model: ServerMetrics.attributeOrt). */
    private readonly wrap: <T>(model: string, fn: () => Promise<T>) => Promise<T> = (_m, fn) => fn(),
  ) {}

  private lane(model: string, lane: Lane): LaneQueue {
    const key = `${model}\u0000${lane}`;
    let q = this.lanes.get(key);
    if (!q) {
      q = new LaneQueue(Math.max(1, this.concurrency(model, lane)), (d) => this.onDepth(model, lane, d));
      this.lanes.set(key, q);
    }
    return q;
  }

  run<T>(model: string, lane: Lane, priority: number, fn: () => Promise<T>): Promise<T> {
    return this.lane(model, lane).push(priority, () => this.wrap(model, fn));
  }

  depth(model: string, lane: Lane): number {
    return this.lane(model, lane).depth;
  }
}
