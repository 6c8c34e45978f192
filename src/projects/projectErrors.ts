import { MedsamError } from '../common/errors.js';

/**
 * Project errors that say what kind of refusal they are, so an interface can answer with the
 * right status (the CLI prints the message the same way for all): 404 a project or case that is
 * not there, 403 a person without the role, 409 a case whose state or version moved on.
 */
export class ProjectError extends MedsamError {
  constructor(
    message: string,
    hint: string,
    readonly status: 403 | 404 | 409,
    exitCode = 2,
  ) {
    super(message, hint, exitCode);
  }
}

/** A save based on a version that is no longer the latest: 409 (CLI exit code 3). */
export class ProjectConflictError extends ProjectError {
  constructor(message: string, hint: string) {
    super(message, hint, 409, 3);
  }
}
