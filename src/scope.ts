/** What every handler receives: the request, the response, the parsed URL and the services. */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { formToken } from './auth/csrf.js';
import { sendHtml } from './http.js';
import type { Services } from './services.js';

export interface Scope {
  req: IncomingMessage;
  res: ServerResponse;
  /** The request target's path and query ('' or starting with ?), exactly as sent. */
  path: string;
  query: string;
  /** Parsed on first use: the hot paths (verify, proxy) never need it. */
  readonly url: URL;
  services: Services;
}

/** Synchronous when it can answer without I/O; a promise otherwise. */
export type Handler = (scope: Scope) => void | Promise<void>;

/** Renders a page with a fresh CSP nonce for its inline style. */
export function renderPage(scope: Scope, status: number, page: (nonce: string) => string, cookies: string[] = []): void {
  const nonce = randomBytes(16).toString('base64');
  sendHtml(scope.res, status, page(nonce), nonce, cookies);
}

/** Renders a page holding a form: with the CSRF token, and its cookie when the browser has none yet. */
export function renderForm(scope: Scope, status: number, page: (nonce: string, csrf: string) => string, cookies: string[] = []): void {
  const { token, setCookie } = formToken(scope.req, scope.services.config);
  renderPage(scope, status, (nonce) => page(nonce, token), setCookie ? [...cookies, setCookie] : cookies);
}
