/**
 * One action at a time, for volume mode and video mode alike: a second prompt, undo or export
 * while one is under way is refused with a message (the server would otherwise receive them out of
 * order), the page is marked busy (body[data-busy], which the e2e tests wait on) and a failure
 * becomes the visible one-line message plus a "… failed" status, never a console-only error.
 */
import type { Messages } from './messages.js';

export interface BusyHooks {
  readonly messages: Messages;
  /** Shows a failure (volume mode also offers the token form on a 401). */
  fail(e: unknown): void;
  setStatus(s: string): void;
  /** After every action, failed or not (e.g. re-enable buttons). */
  settled?(): void;
}

export class BusyGuard {
  /** What runs now ("opening", "prompting", …), or undefined. */
  private running: string | undefined;

  constructor(private readonly hooks: BusyHooks) {}

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Runs `work` unless another action runs; `what` names it in the messages ("opening", "undoing"). */
  async run(what: string, work: () => Promise<void>): Promise<void> {
    const h = this.hooks;
    if (this.running) {
      // Names what is still running (not what was asked for): "wait: still propagating".
      h.messages.info(`wait: still ${this.running === 'prompting' ? 'busy' : this.running}`);
      return;
    }
    this.running = what;
    document.body.dataset.busy = 'true';
    h.messages.clear();
    try {
      await work();
    } catch (e) {
      h.fail(e);
      h.setStatus(`${what} failed`);
    } finally {
      this.running = undefined;
      delete document.body.dataset.busy;
      h.settled?.();
    }
  }
}
