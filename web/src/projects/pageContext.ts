/**
 * What every project page shares: the API with the browser's token, the message line with one
 * action button (sign in again, reload, retry, back), and the page root.
 */
import { Messages, UserError } from '../messages.js';
import { type ActionableError, describeError } from './actionableError.js';
import { ProjectApi } from './projectApi.js';

export const TOKEN_KEY = 'medsam2.token';

export class PageContext {
  readonly api = new ProjectApi('', () => localStorage.getItem(TOKEN_KEY) ?? undefined);
  readonly messages = new Messages();
  readonly root = document.getElementById('page')!;
  private readonly action = document.getElementById('message-action') as HTMLButtonElement;
  /** Re-renders the current page (after a sign-in or a retry). */
  rerender: () => void = () => {};

  constructor() {
    document.getElementById('message-close')!.addEventListener('click', () => {
      this.action.hidden = true;
    });
  }

  /** Shows a failure with its action; returns what was shown (for callers that also mark the page). */
  fail(e: unknown, what?: string, reload: () => void = () => this.rerender()): ActionableError {
    const d = describeError(e, what);
    this.messages.error(new UserError(d.message, d.fix));
    const labels = { 'sign-in': 'Sign in…', reload: 'Reload', retry: 'Retry', back: 'Back to projects' } as const;
    this.action.textContent = labels[d.action];
    this.action.dataset.action = d.action;
    this.action.hidden = false;
    this.action.onclick = () => {
      this.clear();
      if (d.action === 'sign-in') this.signIn();
      else if (d.action === 'back') location.hash = '#/';
      else reload();
    };
    document.body.dataset.pageState = 'error';
    return d;
  }

  info(text: string): void {
    this.action.hidden = true;
    this.messages.info(text);
  }

  clear(): void {
    this.action.hidden = true;
    this.messages.clear();
  }

  signIn(): void {
    const t = prompt(
      'Access token (from `medsam2 users add NAME --role annotator`); empty to sign out',
      localStorage.getItem(TOKEN_KEY) ?? '',
    );
    if (t === null) return;
    if (t.trim()) localStorage.setItem(TOKEN_KEY, t.trim());
    else localStorage.removeItem(TOKEN_KEY);
    this.rerender();
  }
}
