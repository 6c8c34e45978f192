import { MedsamError } from '../common/errors.js';

/** A request failure with its HTTP status, one-line message and how to fix it (the error body). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fix?: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  /** Fastify and its plugins read the status from here. */
  get statusCode(): number {
    return this.status;
  }
}

export interface ErrorBody {
  error: string;
  fix?: string;
}

/** A MedsamError from the library is the client's bad input: 400, or 413 when a limit is exceeded. */
export function fromMedsamError(e: MedsamError, status = 400): HttpError {
  const message = e.hint ? e.message.slice(0, e.message.length - e.hint.length - 3) : e.message;
  return new HttpError(status, message, e.hint);
}
