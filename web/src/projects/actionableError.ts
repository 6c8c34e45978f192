/**
 * What a person can do about a failed project request: the API's error turned into one line and
 * one action (sign in again, reload the case, retry), so no page ever just breaks.
 */

/** The shape of the app's ApiError (api.ts), matched structurally so this stays DOM-free and testable in Node. */
interface StatusError extends Error {
  status: number;
  fix?: string | undefined;
}

function isStatusError(e: unknown): e is StatusError {
  return e instanceof Error && typeof (e as Partial<StatusError>).status === 'number';
}

export type ErrorAction = 'sign-in' | 'reload' | 'retry' | 'back';

export interface ActionableError {
  message: string;
  fix: string;
  action: ErrorAction;
  status: number;
}

export function describeError(e: unknown, what = 'the request'): ActionableError {
  if (!isStatusError(e)) {
    const message = e instanceof Error ? e.message : String(e);
    return { message: `${what} failed: ${message}`, fix: 'retry; if it persists, see the server log', action: 'retry', status: 0 };
  }
  switch (e.status) {
    case 0:
      return {
        message: 'the medsam2 server cannot be reached',
        fix: 'check that `medsam2 serve` is running, then retry',
        action: 'retry',
        status: 0,
      };
    case 401:
      return {
        message: 'token expired or wrong — sign in again',
        fix: 'paste your token (from `medsam2 users add NAME --role annotator`) with Sign in',
        action: 'sign-in',
        status: 401,
      };
    case 403:
      return { message: e.message, fix: e.fix ?? 'ask a project admin for the role this needs', action: 'back', status: 403 };
    case 404:
      return {
        message: `${e.message} (not found)`,
        // The server's fix names API calls; a person on a page needs this instead.
        fix: 'check the name in the address, or ask a project admin to add you as a member',
        action: 'back',
        status: 404,
      };
    case 409:
      // The server says what conflicted (a newer version, someone else's claim); the fix is to reload.
      return {
        message: e.message,
        fix: e.fix ?? 'reload to get the latest state, then redo your change',
        action: 'reload',
        status: 409,
      };
    default:
      return { message: e.message, fix: e.fix ?? 'retry; if it persists, see the server log', action: 'retry', status: e.status };
  }
}
