/**
 * An error the app raises itself, with what the person can do about it (Messages shows both).
 * In a file of its own, free of the DOM, so modules that Node tests import can throw it.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly fix: string,
  ) {
    super(message);
  }
}
