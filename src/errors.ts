/**
 * An error meant for the client: a stable `code` for tests and programs, an HTTP
 * status, and a message that is safe to show. Anything else that is thrown is a
 * bug, answered as a generic 500 without details.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);
export const unauthorized = (code: string, message: string) => new HttpError(401, code, message);
export const forbidden = (code: string, message: string) => new HttpError(403, code, message);
export const notFound = () => new HttpError(404, 'not_found', 'There is nothing at this address.');
export const conflict = (code: string, message: string) => new HttpError(409, code, message);
