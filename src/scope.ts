/**
 * One request's scope: what every step and handler receives, and the one writer
 * of its answer. Cookies and headers are collected here by whoever decides them
 * (a renewed session, a CSRF token, a handler) and written once, with the body:
 * no code path can drop a cookie another step set (SPEC section 8).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { formToken } from './auth/csrf.js';
import { fail, type HttpError } from './errors.js';
import type { Services } from './services.js';
import type { GateDecision } from './auth/gate.js';
import type { Target } from './auth/rules.js';
import type { User } from './store/types.js';

/** Synchronous when it can answer without I/O; a promise otherwise. */
export type Handler = (scope: Scope) => void | Promise<void>;

/** Who is signed in, once a route's `signedIn` step has run. */
export interface Caller {
  user: User;
  sessionId: string;
}

export const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

const CSP_BASE =
  "default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

export class Scope {
  #url: URL | undefined;
  /** The `{name}` segments of the route's path template. */
  params: Readonly<Record<string, string>> = NO_PARAMS;
  #caller: Caller | undefined;
  /** Verify and proxy mode: what the gate judged and decided (for the request log). */
  judged: Target | undefined = undefined;
  decision: GateDecision | undefined = undefined;
  // Made on first use: verify and proxy, the hot paths, mostly never set one.
  #cookies: string[] | undefined;
  #headers: OutgoingHttpHeaders | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly services: Services,
    /** The request target's path and query ('' or starting with ?), exactly as sent. */
    readonly path: string,
    readonly query: string,
    private readonly target: string,
  ) {}

  /** Parsed on first use: the hot paths (verify, proxy) never need it. */
  get url(): URL {
    try {
      // Concatenated, not resolved: a target of //host/path is a path here, never another host.
      return (this.#url ??= new URL(`http://gatehouse.invalid${this.target}`));
    } catch {
      throw fail('invalid_target');
    }
  }

  get caller(): Caller {
    if (!this.#caller) throw new Error('the route has no signedIn step');
    return this.#caller;
  }

  set caller(caller: Caller) {
    this.#caller = caller;
  }

  /** Adds a Set-Cookie line to whatever this request answers. */
  setCookie(line: string | undefined): void {
    if (line) (this.#cookies ??= []).push(line);
  }

  setHeader(name: string, value: string): void {
    (this.#headers ??= {})[name] = value;
  }

  json(status: number, body: unknown): void {
    const payload = JSON.stringify(body);
    this.#write(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) }, payload);
  }

  /** The error as JSON: `{"error","message"}`. */
  error(error: HttpError): void {
    this.json(error.status, { error: error.code, message: error.message });
  }

  empty(status: number): void {
    this.#write(status, {});
  }

  /** 303 by default, so that a form POST becomes a GET at the destination. */
  redirect(location: string, status = 303): void {
    this.#write(status, { location });
  }

  /** A page with a fresh CSP nonce for its inline style. */
  page(status: number, render: (nonce: string) => string): void {
    const nonce = randomBytes(16).toString('base64');
    const html = render(nonce);
    this.#write(
      status,
      {
        'content-type': 'text/html; charset=utf-8',
        'content-length': Buffer.byteLength(html),
        'content-security-policy': `${CSP_BASE}; style-src 'nonce-${nonce}'`,
        'x-frame-options': 'DENY',
      },
      html,
    );
  }

  /** A page holding a form: with the CSRF token, and its cookie when the browser has none yet. */
  form(status: number, render: (nonce: string, csrf: string) => string): void {
    const { token, setCookie } = formToken(this.req, this.services.config);
    this.setCookie(setCookie);
    this.page(status, (nonce) => render(nonce, token));
  }

  /** A body written by the caller (assets, keys), with everything collected so far. */
  raw(status: number, headers: OutgoingHttpHeaders, body: string | Buffer): void {
    this.#write(status, headers, body);
  }

  #write(status: number, headers: OutgoingHttpHeaders, body?: string | Buffer): void {
    const all: OutgoingHttpHeaders = { ...this.services.answerHeaders, ...this.#headers, ...headers };
    if (this.#cookies) all['set-cookie'] = this.#cookies;
    this.res.writeHead(status, all);
    this.res.end(body);
  }
}
