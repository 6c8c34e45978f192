/**
 * Every user-facing failure is a MedsamError: one line saying what is wrong and how to fix it.
 * The CLI prints `error: <message>` and exits with `exitCode`; nothing else is printed.
 */
export class MedsamError extends Error {
  readonly hint?: string;
  readonly exitCode: number;
  constructor(message: string, hint?: string, exitCode = 2) {
    super(hint ? `${message} — ${hint}` : message);
    this.name = 'MedsamError';
    this.hint = hint;
    this.exitCode = exitCode;
  }
}

/** Narrow an unknown thrown value to a message string. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
