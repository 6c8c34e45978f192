/**
 * Undo / redo of every interaction (prompts, brush strokes, propagations), for volume mode and
 * video mode alike. The server keeps the history (POST /sessions/{id}/undo and /redo; any new
 * interaction clears what redo could bring back); after a step the mode re-reads the session and
 * its masks. Brush strokes still on their way are sent first, so Ctrl+Z right after a stroke
 * undoes that stroke. The shortcuts and the buttons' enabled state are the same in both modes.
 */
import type { Api, SessionView } from './api.js';
import type { BusyGuard } from './busyGuard.js';
import type { Messages } from './messages.js';
import type { Shortcut } from './shortcuts.js';

export interface HistoryHost {
  readonly api: Api;
  readonly messages: Messages;
  /** The open session, if any. */
  session(): SessionView | undefined;
  /** True while a step must wait (a propagation runs: the server refuses it then). */
  blocked(): boolean;
  /** Resolves when the edits sent so far are stored (BrushTool.settled). */
  pending(): Promise<void>;
  readonly guard: BusyGuard;
  /** Shows the session after a step: its masks as the server now has them. */
  reload(session: SessionView): Promise<void>;
  setStatus(s: string): void;
  /** Told before each step (a project case logs it). */
  onStep?(step: 'undo' | 'redo'): void;
}

export class History {
  constructor(private readonly host: HistoryHost) {}

  undo(): Promise<void> {
    return this.step('undo');
  }

  redo(): Promise<void> {
    return this.step('redo');
  }

  private async step(step: 'undo' | 'redo'): Promise<void> {
    const h = this.host;
    const session = h.session();
    if (!session || h.blocked()) return;
    await h.pending();
    h.onStep?.(step);
    await h.guard.run(step === 'undo' ? 'undoing' : 'redoing', async () => {
      const done = step === 'undo' ? (await h.api.undo(session.id)).undone : (await h.api.redo(session.id)).redone;
      if (!done) {
        h.messages.info(`nothing to ${step}`);
        return;
      }
      await h.reload(await h.api.session(session.id));
      h.setStatus(step === 'undo' ? 'undone' : 'redone');
    });
  }

  /** The rows both modes' key tables hold. */
  shortcuts(): Shortcut[] {
    return [
      { keys: ['ctrl+z'], label: 'Undo', run: () => void this.undo() },
      { keys: ['ctrl+shift+z', 'ctrl+y'], label: 'Redo', run: () => void this.redo() },
    ];
  }

  /** Undo needs a session; redo also something undone; neither while a propagation runs. */
  static enable(undo: HTMLButtonElement, redo: HTMLButtonElement, session: SessionView | undefined, propagating: boolean): void {
    undo.disabled = !session || propagating;
    redo.disabled = !session || propagating || !session.redoable;
  }
}
