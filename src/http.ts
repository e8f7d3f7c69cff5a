/** Small helpers for node:http requests and responses, shared by every handler. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, HttpError } from './errors.js';

/** Auth endpoints take small bodies; anything bigger is refused before it is read whole. */
export const AUTH_BODY_LIMIT = 64 * 1024;

export type Fields = Record<string, unknown>;
export interface ParsedBody {
  kind: 'json' | 'form';
  fields: Fields;
}

const tooLarge = () => new HttpError(413, 'body_too_large', `Request bodies are limited to ${AUTH_BODY_LIMIT / 1024} KiB.`);

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Strict: invalid UTF-8 would otherwise turn different passwords into the same string. */
function utf8(body: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw badRequest('invalid_encoding', 'The body is not valid UTF-8.');
  }
}

/** A JSON object or a urlencoded form; other content types are 415. */
export async function parseBody(req: IncomingMessage): Promise<ParsedBody> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const text = utf8(await readBody(req, AUTH_BODY_LIMIT));
  // A bodiless POST (a fetch to /refresh or /logout relying on cookies) needs no content type.
  if (type === '' && text === '') return { kind: 'json', fields: {} };
  if (type !== 'application/json' && type !== 'application/x-www-form-urlencoded') {
    throw new HttpError(415, 'unsupported_media_type', 'Send application/json or application/x-www-form-urlencoded.');
  }
  if (type === 'application/x-www-form-urlencoded') {
    return { kind: 'form', fields: Object.fromEntries(new URLSearchParams(text)) };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest('invalid_json', 'The body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badRequest('invalid_json', 'The body must be a JSON object.');
  }
  return { kind: 'json', fields: parsed as Fields };
}

/** A string field: 400 naming the field when it is missing (if required), not a string, or too long. */
export function stringField(fields: Fields, name: string, options: { required: true; max?: number }): string;
export function stringField(fields: Fields, name: string, options?: { required?: false; max?: number }): string | undefined;
export function stringField(fields: Fields, name: string, { required = false, max = 4096 } = {}): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null || value === '') {
    if (required) throw badRequest('missing_field', `The field "${name}" is required.`);
    return undefined;
  }
  if (typeof value !== 'string') throw badRequest('invalid_field', `The field "${name}" must be a string.`);
  if (value.length > max) throw badRequest('invalid_field', `The field "${name}" is too long.`);
  return value;
}

const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  // same-origin, not no-referrer: with no-referrer, browsers send "Origin: null" on our own form posts.
  'referrer-policy': 'same-origin',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, cookies: string[] = []): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...(cookies.length > 0 && { 'set-cookie': cookies }),
  });
  res.end(payload);
}

export function sendEmpty(res: ServerResponse, status: number, cookies: string[] = []): void {
  res.writeHead(status, { ...COMMON_HEADERS, ...(cookies.length > 0 && { 'set-cookie': cookies }) });
  res.end();
}

export function sendHtml(res: ServerResponse, status: number, html: string, nonce: string, cookies: string[] = []): void {
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'content-security-policy': `default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'nonce-${nonce}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    'x-frame-options': 'DENY',
    ...(cookies.length > 0 && { 'set-cookie': cookies }),
  });
  res.end(html);
}

/** 303 so that a form POST becomes a GET at the destination. */
export function sendRedirect(res: ServerResponse, location: string, cookies: string[] = [], status = 303): void {
  res.writeHead(status, { ...COMMON_HEADERS, location, ...(cookies.length > 0 && { 'set-cookie': cookies }) });
  res.end();
}

/** The error as JSON: `{"error","message"}`; unexpected errors reveal nothing. */
export function sendError(res: ServerResponse, error: HttpError): void {
  sendJson(res, error.status, { error: error.code, message: error.message });
}
