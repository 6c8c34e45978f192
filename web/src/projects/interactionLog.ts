/**
 * The annotation view's interaction log: every tool use, slice change and save is an event
 * {tool, slice, t}; events are sent to the server in batches (the server computes active time
 * from them, so none may be lost: a failed send keeps its events for the next one).
 */

export interface InteractionEvent {
  tool: string;
  slice?: number;
  /** Epoch milliseconds. */
  t: number;
}

export interface InteractionLogOptions {
  send(events: InteractionEvent[]): Promise<void>;
  /** Send once this many events are waiting. */
  batchSize?: number;
  now?: () => number;
}

export class InteractionLog {
  private pending: InteractionEvent[] = [];
  private inFlight?: Promise<void>;
  private readonly batchSize: number;
  private readonly now: () => number;
  /** Events the server has accepted. */
  sent = 0;

  constructor(private readonly opts: InteractionLogOptions) {
    this.batchSize = opts.batchSize ?? 20;
    this.now = opts.now ?? Date.now;
  }

  get waiting(): number {
    return this.pending.length;
  }

  /** Records one interaction; sends a batch when enough are waiting. */
  record(tool: string, slice?: number | null): void {
    this.pending.push(slice === undefined || slice === null ? { tool, t: this.now() } : { tool, slice, t: this.now() });
    if (this.pending.length >= this.batchSize) void this.flush().catch(() => {});
  }

  /**
   * Sends everything waiting (after any send in flight). Rejects when the server refuses; the
   * events stay queued, in order, for the next flush.
   */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight.catch(() => {});
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.inFlight = this.opts.send(batch).then(
      () => {
        this.sent += batch.length;
      },
      (e: unknown) => {
        this.pending = [...batch, ...this.pending];
        throw e;
      },
    );
    try {
      await this.inFlight;
    } finally {
      this.inFlight = undefined;
    }
  }

  /** Events not yet sent (for a keepalive send when the page goes away). */
  drain(): InteractionEvent[] {
    const all = this.pending;
    this.pending = [];
    return all;
  }
}
