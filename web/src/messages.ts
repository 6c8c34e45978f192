export { UserError } from './userError.js';

/** The one message line at the top: what went wrong and what to do about it (never console-only). */
export class Messages {
  private readonly box = document.getElementById('message')!;
  private readonly text = document.getElementById('message-text')!;
  private readonly fix = document.getElementById('message-fix')!;
  private readonly actionButton = document.getElementById('message-action') as HTMLButtonElement | null;

  constructor() {
    document.getElementById('message-close')!.addEventListener('click', () => this.clear());
  }

  /** A button on the message shown now that does what its fix says (e.g. enter a token). */
  action(label: string, run: () => void): void {
    const b = this.actionButton;
    if (!b) return;
    b.textContent = label;
    b.onclick = () => run();
    b.hidden = false;
  }

  error(e: unknown, fallbackFix = 'retry; if it persists, see the server log'): void {
    const message = e instanceof Error ? e.message : String(e);
    const fix = e instanceof Error && 'fix' in e && typeof e.fix === 'string' ? e.fix : undefined;
    this.show(message, fix ?? fallbackFix, 'error');
  }

  info(message: string): void {
    this.show(message, '', 'info');
  }

  private show(message: string, fix: string, kind: 'error' | 'info'): void {
    this.text.textContent = message;
    this.fix.textContent = fix ? `— ${fix}` : '';
    this.box.className = kind;
    this.box.dataset.kind = kind;
    this.box.hidden = false;
    if (this.actionButton) this.actionButton.hidden = true;
  }

  clear(): void {
    this.box.hidden = true;
  }
}
