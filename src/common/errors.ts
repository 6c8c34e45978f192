/**
 * Every user-facing failure is a MedsamError: one line saying what is wrong and how to fix it.
 * The CLI prints `error: <message>` and exits with `exitCode`; nothing else is printed.
 * Messages often quote text from a damaged file (a header value, a dtype string): the constructor
 * keeps them one readable line whatever that text holds (see `oneLine`), so no reader has to.
 */
export class MedsamError extends Error {
  readonly hint?: string;
  readonly exitCode: number;
  constructor(message: string, hint?: string, exitCode = 2) {
    const m = oneLine(message);
    const h = hint === undefined ? undefined : oneLine(hint);
    super(h ? `${m} — ${h}` : m);
    this.name = 'MedsamError';
    this.hint = h;
    this.exitCode = exitCode;
  }
}

/** Longest message (or hint) kept whole: a quoted 100 KB header value would bury the problem. */
export const MAX_MESSAGE_CHARS = 1000;

/**
 * Line breaks and other control characters shown as escapes (`\n`, `\x00`), and text past
 * MAX_MESSAGE_CHARS cut with a count of what was left out: one line, of bounded length.
 */
export function oneLine(text: string): string {
  const flat = text.replace(/[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]/g, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  if (flat.length <= MAX_MESSAGE_CHARS) return flat;
  const keep = MAX_MESSAGE_CHARS - 40;
  return `${flat.slice(0, keep)}… (${flat.length - keep} more characters)`;
}

/** Narrow an unknown thrown value to a message string. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
